"""The "Remind now" page: the exact reminder a request's people would get, in each one's language,
and the form that sends it (the POST is the table's `request.remind`, installed by `web.actions`)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ibmflow.errors import IbmflowError
from ibmflow.services import remind
from ibmflow.services.commands import COMMANDS
from ibmflow.web.auth import Caller, Gate
from ibmflow.web.responses import object_id, refused

PATH = COMMANDS["request.remind"].path or ""


def install(gate: Gate) -> None:
    """Add the preview page of "Remind now"."""

    @gate.page("GET", PATH, COMMANDS["request.remind"].permission)
    async def remind_preview(request: Request, caller: Caller) -> Response:
        key, rid = str(request.path_params["key"]), object_id(request, "rid")
        try:
            shown = await run_in_threadpool(
                remind.preview, gate.ctx, key, rid, caller.account.email
            )
        except IbmflowError as exc:
            return await refused(gate, request, caller, key, exc)
        return gate.render("console/remind.html", 200, caller, key=shown.process, shown=shown)
