"""The console's actions: each form posts here, the gate checks the session, the process, the role
and the CSRF token, and the action runs its command from the table of commands
(`services.commands`, the same the API and the command line run).

A done action redirects to the process page with a fixed notice (post/redirect/get); a refused one
redirects there too, with the reason shown on top and focused (`web.responses.back_to_page`), and
nothing written. A form the page asks to confirm (`offers.CONFIRMED`) is refused unconfirmed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ibmflow.access import ADMINISTRATOR
from ibmflow.errors import IbmflowError, InvalidCommand
from ibmflow.i18n import _
from ibmflow.offers import CONFIRMED
from ibmflow.services import commands
from ibmflow.services.commands import Command, On
from ibmflow.services.documents import Upload
from ibmflow.web.auth import Caller, Gate
from ibmflow.web.responses import object_id, refused


class _Form:
    """A caller's posted form, as the table of commands reads it."""

    def __init__(self, caller: Caller) -> None:
        self.caller = caller

    def field(self, name: str) -> str:
        return self.caller.field(name)

    def fields(self, name: str) -> list[str]:
        form = self.caller.form
        return [v for v in form.getlist(name) if isinstance(v, str)] if form else []

    def upload(self, name: str) -> Upload | None:
        return self.caller.upload(name)


def _on(request: Request, caller: Caller, path: str) -> On:
    """The process and the object the path names, and who acts."""
    named = [n for n in re.findall(r"\{(\w+)\}", path) if n != "key"]
    return On(
        process=str(request.path_params["key"]),
        actor=caller.account.email,
        object_id=object_id(request, named[0]) if named else 0,
        administrator=caller.account.role == ADMINISTRATOR,
        via="web",
    )


def install(gate: Gate) -> None:
    """Add the action routes: one per command of the table the console offers."""
    ctx = gate.ctx

    async def run(
        request: Request, caller: Caller, done: str, command: Callable[[], Any]
    ) -> Response:
        key = str(request.path_params["key"])
        try:
            await run_in_threadpool(command)
        except IbmflowError as exc:
            return await refused(gate, request, caller, key, exc)
        return RedirectResponse(f"/p/{key.upper()}?done={done}", status_code=303)

    def action(command: Command, path: str) -> Callable[[Request, Caller], Any]:
        async def handler(request: Request, caller: Caller) -> Response:
            on = _on(request, caller, path)

            def execute() -> None:
                if command.name in CONFIRMED and caller.field("confirm") != "yes":
                    raise InvalidCommand(_("Tick the box to confirm, then send the form again."))
                commands.run(ctx, command.name, on, commands.from_form(command, _Form(caller)))

            return await run(request, caller, command.done, execute)

        handler.__name__ = command.name.replace(".", "_")
        return handler

    for command in commands.COMMANDS.values():
        if command.path is not None:
            route = gate.page("POST", command.path, command.permission, upload=command.takes_files)
            route(action(command, command.path))
