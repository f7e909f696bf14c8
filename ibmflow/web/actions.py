"""The console's actions: each form posts here, the gate checks the session, the process, the role
and the CSRF token, and the action calls one service (the same the command line calls).

A done action redirects to the process page with a fixed notice (post/redirect/get); a refused one
shows the process page again, with the reason and the HTTP status of the refusal (400 refused, 404
not found, 409 changed by someone else meanwhile), and nothing written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ibmflow.access import ADMINISTRATOR
from ibmflow.errors import IbmflowError, InvalidCommand
from ibmflow.services import (
    console,
    decisions,
    extensions,
    inbound,
    processes,
    records,
    reopen,
    requests,
    roster,
)
from ibmflow.web.auth import Caller, Gate
from ibmflow.web.responses import object_id, refused


def _required(caller: Caller, name: str, what: str) -> str:
    value = caller.field(name).strip()
    if not value:
        raise InvalidCommand(f"{what} is required: fill it in.")
    return value


def _number(caller: Caller, name: str, what: str, *, default: int | None = None) -> int:
    value = caller.field(name).strip()
    if not value and default is not None:
        return default
    if not value.isdigit() or len(value) > 9:
        raise InvalidCommand(f"{what} must be a whole number, not {value!r}.")
    return int(value)


def _day(caller: Caller, name: str, what: str) -> date:
    value = caller.field(name).strip()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidCommand(f"{what} {value!r} is not a date; use the date field.") from None


def install(gate: Gate) -> None:
    """Add the action routes."""
    ctx = gate.ctx

    async def run(
        request: Request, caller: Caller, done: str, command: Callable[[], Any]
    ) -> Response:
        key = str(request.path_params["key"])
        try:
            await run_in_threadpool(command)
        except IbmflowError as exc:
            return await refused(gate, caller, key, exc)
        return RedirectResponse(f"/p/{key.upper()}?done={done}", status_code=303)

    def move(trigger: str) -> Callable[[Request, Caller], Any]:
        async def handler(request: Request, caller: Caller) -> Response:
            key = str(request.path_params["key"])

            def command() -> None:
                reason = caller.field("reason").strip() or None
                if trigger != "complete" and reason is None:
                    raise InvalidCommand("Give a reason: it is kept on the audit log.")
                processes.fire(
                    ctx,
                    key,
                    trigger,
                    actor=caller.account.email,
                    expected_version=_number(caller, "version", "the version"),
                    target=caller.field("step").strip() or None if trigger == "return_to" else None,
                    reason=reason,
                )

            return await run(request, caller, trigger, command)

        return handler

    for trigger, path in (
        ("complete", "advance"),
        ("return_to", "return"),
        ("suspend", "suspend"),
        ("resume", "resume"),
    ):
        gate.page("POST", f"/p/{{key}}/{path}", "move")(move(trigger))

    @gate.page("POST", "/p/{key}/requests", "request")
    async def open_requests(request: Request, caller: Caller) -> Response:
        key, form = str(request.path_params["key"]), caller.form
        chosen = [v for v in form.getlist("institution") if isinstance(v, str)] if form else []
        return await run(
            request,
            caller,
            "requests",
            lambda: requests.send_requests(
                ctx,
                key,
                kind=_required(caller, "kind", "the kind of request"),
                institutions=console.institutions_chosen(chosen),
                scope=caller.field("scope") or "involved",
                due_days=_number(caller, "due_days", "the working days to answer", default=10),
                instructions=caller.field("instructions").strip(),
                actor=caller.account.email,
            ),
        )

    def close(status: str) -> Callable[[Request, Caller], Any]:
        async def handler(request: Request, caller: Caller) -> Response:
            key, rid = str(request.path_params["key"]), object_id(request, "rid")
            return await run(
                request,
                caller,
                status,
                lambda: requests.close(
                    ctx,
                    key,
                    rid,
                    status=status,
                    reason=caller.field("reason"),
                    actor=caller.account.email,
                ),
            )

        return handler

    gate.page("POST", "/p/{key}/requests/{rid}/waive", "request")(close("waived"))
    gate.page("POST", "/p/{key}/requests/{rid}/withdraw", "request")(close("withdrawn"))

    @gate.page("POST", "/p/{key}/requests/{rid}/reopen", "request")
    async def reopen_request(request: Request, caller: Caller) -> Response:
        key, rid = str(request.path_params["key"]), object_id(request, "rid")
        return await run(
            request,
            caller,
            "reopened",
            lambda: reopen.reopen(
                ctx, key, rid, reason=caller.field("reason"), actor=caller.account.email
            ),
        )

    @gate.page("POST", "/p/{key}/decisions", "decide")
    async def open_decision(request: Request, caller: Caller) -> Response:
        key = str(request.path_params["key"])

        def command() -> None:
            document = caller.field("document").strip()
            decisions.open_decision(
                ctx,
                key,
                subject=_required(caller, "subject", "the subject"),
                title=caller.field("title").strip() or None,
                document_id=_number(caller, "document", "the document") if document else None,
                actor=caller.account.email,
            )

        return await run(request, caller, "decision", command)

    @gate.page("POST", "/p/{key}/decisions/{did}/votes", "vote")
    async def vote(request: Request, caller: Caller) -> Response:
        key, did = str(request.path_params["key"]), object_id(request, "did")

        def command() -> None:
            choice = _required(caller, "choice", "approve or object")
            decisions.vote(
                ctx,
                key,
                did,
                institution=_required(caller, "institution", "the institution"),
                voter=_required(caller, "voter", "the voter's email"),
                approve=choice == "approve",
                reason=caller.field("reason").strip() or None,
                actor=caller.account.email,
                via="web",
            )

        return await run(request, caller, "vote", command)

    @gate.page("POST", "/p/{key}/nominations", "nominate")
    async def nominate(request: Request, caller: Caller) -> Response:
        key = str(request.path_params["key"])

        def command() -> None:
            decision = caller.field("decision").strip()
            start = caller.field("valid_from").strip()
            until = caller.field("valid_until").strip()
            decisions.nominate(
                ctx,
                key,
                member=_required(caller, "member", "the member's email"),
                representative=_required(caller, "representative", "the representative's email"),
                decision_id=_number(caller, "decision", "the decision") if decision else None,
                valid_from=_day(caller, "valid_from", "from") if start else None,
                valid_until=_day(caller, "valid_until", "until") if until else None,
                actor=caller.account.email,
            )

        return await run(request, caller, "nomination", command)

    @gate.page("POST", "/p/{key}/documents", "document", upload=True)
    async def attach(request: Request, caller: Caller) -> Response:
        key = str(request.path_params["key"])
        return await run(
            request,
            caller,
            "document",
            lambda: records.attach_document(
                ctx,
                key,
                caller.upload("file"),
                kind=_required(caller, "kind", "the kind of document"),
                actor=caller.account.email,
            ),
        )

    @gate.page("POST", "/p/{key}/appointment", "appoint")
    async def appoint(request: Request, caller: Caller) -> Response:
        key = str(request.path_params["key"])
        return await run(
            request,
            caller,
            "appointment",
            lambda: records.appoint_coordinator(
                ctx,
                key,
                name=_required(caller, "name", "the coordinator's name"),
                email=_required(caller, "email", "the coordinator's email"),
                authority=caller.field("authority"),
                reference=caller.field("reference"),
                appointed_on=_day(caller, "appointed_on", "the date of appointment"),
                actor=caller.account.email,
            ),
        )

    @gate.page("POST", "/p/{key}/people", "roster")
    async def add_person(request: Request, caller: Caller) -> Response:
        key = str(request.path_params["key"])
        return await run(
            request,
            caller,
            "person",
            lambda: roster.add_person(
                ctx,
                key,
                name=_required(caller, "name", "the name"),
                email=_required(caller, "email", "the email"),
                institution=caller.field("institution").strip() or None,
                roles=[_required(caller, "role", "the role")],
                deputy_for=None,
                actor=caller.account.email,
            ),
        )

    @gate.page("POST", "/p/{key}/task-forces", "record")
    async def task_force(request: Request, caller: Caller) -> Response:
        key = str(request.path_params["key"])
        return await run(
            request,
            caller,
            "task_force",
            lambda: records.add_task_force(
                ctx,
                key,
                name=_required(caller, "name", "the task force's name"),
                lead=caller.field("lead").strip() or None,
                actor=caller.account.email,
            ),
        )

    @gate.page("POST", "/p/{key}/chapters", "record")
    async def chapter(request: Request, caller: Caller) -> Response:
        key = str(request.path_params["key"])
        return await run(
            request,
            caller,
            "chapter",
            lambda: records.add_chapter(
                ctx,
                key,
                title=_required(caller, "title", "the chapter's title"),
                lead=caller.field("lead").strip() or None,
                actor=caller.account.email,
            ),
        )

    @gate.page("POST", "/p/{key}/chapters/lead", "record")
    async def chapter_lead(request: Request, caller: Caller) -> Response:
        key = str(request.path_params["key"])
        return await run(
            request,
            caller,
            "chapter_lead",
            lambda: records.set_chapter_lead(
                ctx,
                key,
                title=_required(caller, "title", "the chapter"),
                lead=_required(caller, "lead", "the lead"),
                actor=caller.account.email,
            ),
        )

    @gate.page("POST", "/p/{key}/chapters/draft", "record", upload=True)
    async def chapter_draft(request: Request, caller: Caller) -> Response:
        key = str(request.path_params["key"])
        return await run(
            request,
            caller,
            "chapter_draft",
            lambda: records.submit_chapter(
                ctx,
                key,
                title=_required(caller, "title", "the chapter"),
                upload=caller.upload("file"),
                actor=caller.account.email,
            ),
        )

    @gate.page("POST", "/p/{key}/consultation/close", "record")
    async def close_consultation(request: Request, caller: Caller) -> Response:
        key = str(request.path_params["key"])
        return await run(
            request,
            caller,
            "consultation",
            lambda: records.close_consultation(
                ctx, key, reason=caller.field("reason"), actor=caller.account.email
            ),
        )

    @gate.page("POST", "/p/{key}/adoption", "record")
    async def adoption(request: Request, caller: Caller) -> Response:
        key = str(request.path_params["key"])
        return await run(
            request,
            caller,
            "adoption",
            lambda: records.record_adoption(
                ctx,
                key,
                authority=caller.field("authority"),
                reference=caller.field("reference"),
                adopted_on=_day(caller, "adopted_on", "the date of adoption"),
                actor=caller.account.email,
            ),
        )

    def extend(request: Request, caller: Caller, rid: int | None) -> Callable[[], Any]:
        key = str(request.path_params["key"])

        def command() -> None:
            days, to = caller.field("days").strip(), caller.field("to").strip()
            extensions.extend_deadline(
                ctx,
                key,
                reason=caller.field("reason"),
                actor=caller.account.email,
                request_id=rid,
                days=_number(caller, "days", "the working days") if days else None,
                to=_day(caller, "to", "the new due day") if to else None,
            )

        return command

    @gate.page("POST", "/p/{key}/extend", "extend")
    async def extend_step(request: Request, caller: Caller) -> Response:
        return await run(request, caller, "extended", extend(request, caller, None))

    @gate.page("POST", "/p/{key}/requests/{rid}/extend", "extend")
    async def extend_request(request: Request, caller: Caller) -> Response:
        rid = object_id(request, "rid")
        return await run(request, caller, "extended", extend(request, caller, rid))

    @gate.page("POST", "/p/{key}/quarantine/{iid}/assign", "quarantine")
    async def assign(request: Request, caller: Caller) -> Response:
        key, iid = str(request.path_params["key"]), object_id(request, "iid")

        def command() -> None:
            rid = _number(caller, "request", "the request")
            admin = caller.account.role == ADMINISTRATOR
            console.check_inbound(ctx, key, iid, unmatched_ok=admin)
            console.check_request(ctx, key, rid)
            inbound.assign(ctx, iid, rid, caller.account.email)

        return await run(request, caller, "assigned", command)

    @gate.page("POST", "/p/{key}/quarantine/{iid}/reject", "quarantine")
    async def reject(request: Request, caller: Caller) -> Response:
        key, iid = str(request.path_params["key"]), object_id(request, "iid")

        def command() -> None:
            admin = caller.account.role == ADMINISTRATOR
            console.check_inbound(ctx, key, iid, unmatched_ok=admin)
            inbound.reject(ctx, iid, caller.field("reason"), caller.account.email)

        return await run(request, caller, "rejected", command)
