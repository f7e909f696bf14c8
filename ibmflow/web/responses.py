"""What the console's pages and actions share: the process page with a problem or a notice on top,
the sentences a finished action shows, and the way back after a refused one (post/redirect/get).

A refused action redirects (303) to `/p/KEY?refused=TOKEN#message`; what it said travels in a
short-lived cookie, signed with the deployment's secret and bound to that token (never in the
address), and the page shows it in the `#message` alert, focused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import zlib

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ibmflow.access import ADMINISTRATOR
from ibmflow.errors import (
    ConcurrencyConflict,
    IbmflowError,
    InvalidCommand,
    NotFound,
    TransitionRefused,
)
from ibmflow.i18n import N_, _
from ibmflow.services import console as reads
from ibmflow.services.answer_sheets import ANSWER_KINDS
from ibmflow.services.record_views import InboundMail
from ibmflow.web.auth import Caller, Gate, Refusal
from ibmflow.web.paging import page_number, pager

REFUSED_COOKIE = "ibmflow_refused"
_REFUSED_AGE = 300  # seconds a refusal's message waits for its page (a reload shows it again)
_COOKIE_ROOM = 3000  # bytes of a cookie's value, well under the browsers' 4 kB

# What a finished action tells the coordinator on the page it returns to (`?done=...`): fixed
# sentences, so that nothing from the address bar is ever shown (translated where shown).
DONE = {
    "complete": N_("The step is completed; the process is at its next step."),
    "return_to": N_("The process returned to the step chosen."),
    "suspend": N_("The process is suspended."),
    "resume": N_("The process resumed."),
    "requests": N_(
        "The requests were sent (those already pending or answered were not sent again)."
    ),
    "waived": N_("The request is waived: it counts as done for the step's conditions."),
    "withdrawn": N_("The request is withdrawn; its links no longer work."),
    "reopened": N_(
        "The request is reopened: the earlier answer is kept, and a new link is mailed."
    ),
    "decision": N_("The decision is opened and the vote requests sent to the IAWG members."),
    "vote": N_("The vote is recorded."),
    "nomination": N_("The representative is recorded."),
    "document": N_("The document is attached."),
    "appointment": N_("The coordinator's appointment is recorded."),
    "person": N_("The person is added to the roster."),
    "task_force": N_("The task force is named."),
    "chapter": N_("The chapter is added."),
    "chapter_lead": N_("The chapter's lead is recorded."),
    "chapter_draft": N_("The chapter's draft is submitted."),
    "consultation": N_("The consultation round is closed; the non-respondents are recorded."),
    "adoption": N_("The adoption is recorded."),
    "assigned": N_("The mail is recorded as the answer to the request."),
    "rejected": N_("The mail is rejected (it is kept, and the decision is on the audit log)."),
    "extended": N_("The deadline is extended."),
    "reminded": N_(
        "The reminder is sent, under the request's first mail; the ladder sends no other today."
    ),
    "bulk": N_("Done for every request ticked; the reason is on the audit log."),
}


def object_id(request: Request, name: str) -> int:
    """A numeric id from the path; a malformed one is simply not found."""
    value = str(request.path_params.get(name, ""))
    if not value.isdigit() or len(value) > 12:
        raise Refusal(
            404, _("Not found"), _("There is nothing numbered %(value)s here.", value=repr(value))
        )
    return int(value)


async def process_response(
    gate: Gate,
    request: Request,
    caller: Caller,
    key: str,
    *,
    notice: str | None = None,
) -> Response:
    """The process page (the page of requests its address asks for), with what went wrong (a
    refusal it was redirected to show) or right on top."""
    asked = request.query_params
    number = page_number(request)
    try:
        page = await run_in_threadpool(
            lambda: reads.process_page(
                gate.ctx,
                key,
                status_filter=asked.get("status", ""),
                institution=asked.get("institution", ""),
                kind=asked.get("kind", ""),
                page=number,
            )
        )
        unmatched: list[InboundMail] = []
        if caller.account.role == ADMINISTRATOR:
            unmatched = await run_in_threadpool(reads.unmatched_quarantine, gate.ctx)
    except NotFound as exc:
        raise Refusal(404, _("No such process"), exc.message) from None
    except InvalidCommand as exc:
        raise Refusal(
            400,
            _("This list of requests cannot be shown"),
            exc.message,
            _("Choose the filters from the lists on the process page."),
        ) from None
    shown = page.requests
    pages = pager(
        f"/p/{page.status.process}",
        number,
        shown.size,
        shown.total,
        "requests",
        keep=shown.filter.query(),
        anchor="#requests",
    )
    problem, blockers = _refusal_shown(gate, request, caller)
    return gate.render(
        "console/process.html",
        200,
        caller,
        key=page.status.process,
        page=page,
        pages=pages,
        unmatched=unmatched,
        problem=problem,
        blockers_refused=blockers,
        notice=notice,
        mail_captured=gate.ctx.settings.smtp_host is None,
        answer_kinds=ANSWER_KINDS,
    )


def _sign(gate: Gate, caller: Caller, data: str) -> str:
    """The signature of a refusal's cookie, bound to the caller's session (through its CSRF
    token): another session on the same browser never reads it."""
    bound = f"refused:{caller.csrf_token}:{data}".encode()
    return hmac.new(gate.secret, bound, hashlib.sha256).hexdigest()[:32]


def _refusal_shown(
    gate: Gate, request: Request, caller: Caller
) -> tuple[str | None, tuple[str, ...]]:
    """The refusal a redirect brought the visitor back to see (None when it did not)."""
    token = request.query_params.get("refused")
    if not token:
        return None, ()
    data, _dot, signature = request.cookies.get(REFUSED_COOKIE, "").partition(".")
    if data and hmac.compare_digest(signature, _sign(gate, caller, data)):
        try:
            said = json.loads(zlib.decompress(base64.urlsafe_b64decode(data)))
        except (ValueError, zlib.error):
            said = {}
        if said.get("t") == token:
            return str(said.get("m", "")), tuple(str(b) for b in said.get("b", ()))
    # An old address (the message has expired) or one written by hand: say only what is sure.
    return _("This action was refused. Try it again to see why."), ()


def back_to_page(
    gate: Gate,
    request: Request,
    caller: Caller,
    key: str,
    message: str,
    blockers: tuple[str, ...] = (),
) -> Response:
    """The redirect after a refused action: to the process page, carrying what was refused in
    a signed cookie the page reads (post/redirect/get: a reload sends nothing again)."""
    token = secrets.token_urlsafe(9)
    payload = {"t": token, "m": message, "b": list(blockers)}

    def packed() -> str:
        raw = json.dumps(payload, ensure_ascii=False).encode()
        return base64.urlsafe_b64encode(zlib.compress(raw)).decode()

    data = packed()
    if len(data) > _COOKIE_ROOM:
        payload["b"] = []  # the page lists the blockers anyway
        data = packed()
    while len(data) > _COOKIE_ROOM:
        payload["m"] = str(payload["m"])[: len(str(payload["m"])) * 3 // 4] + "\u2026"
        data = packed()
    place = f"/p/{key.strip().upper()}"
    response = RedirectResponse(f"{place}?refused={token}#message", status_code=303)
    response.set_cookie(
        REFUSED_COOKIE,
        f"{data}.{_sign(gate, caller, data)}",
        max_age=_REFUSED_AGE,
        path=place,
        httponly=True,
        samesite="lax",
        secure=gate.secure(request),
    )
    return response


async def refused(
    gate: Gate, request: Request, caller: Caller, key: str, exc: IbmflowError
) -> Response:
    """Back to the process page after a refused command: nothing was written, and why."""
    if isinstance(exc, NotFound) and "no process" in exc.message:
        raise Refusal(404, _("No such process"), exc.message)
    message = exc.message
    if isinstance(exc, ConcurrencyConflict):
        seen = caller.field("version")
        if seen:
            message = _(
                "Someone else changed process %(key)s since you loaded the page (you saw version "
                "%(version)s). Nothing was written. The page below shows the process as it is now: "
                "check it, then try again if it still makes sense.",
                key=key.upper(),
                version=seen,
            )
        else:
            message = _(
                "Someone else changed process %(key)s since you loaded the page. Nothing was "
                "written. The page below shows the process as it is now: check it, then try again "
                "if it still makes sense.",
                key=key.upper(),
            )
    blockers = exc.blockers if isinstance(exc, TransitionRefused) else ()
    return back_to_page(gate, request, caller, key, message, tuple(blockers))
