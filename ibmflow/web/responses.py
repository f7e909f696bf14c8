"""What the console's pages and actions share: the process page with a problem or a notice on top
(answered with the status `web.statuses` gives a refused command), and the sentences a finished
action shows."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ibmflow.access import ADMINISTRATOR
from ibmflow.errors import ConcurrencyConflict, IbmflowError, NotFound, TransitionRefused
from ibmflow.i18n import N_, _
from ibmflow.services import console as reads
from ibmflow.services.record_views import InboundMail
from ibmflow.web.auth import Caller, Gate, Refusal
from ibmflow.web.statuses import status_of

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
    caller: Caller,
    key: str,
    status_code: int = 200,
    *,
    problem: str | None = None,
    blockers_refused: tuple[str, ...] = (),
    notice: str | None = None,
) -> Response:
    """The process page, with what went wrong (or right) on top."""
    try:
        page = await run_in_threadpool(reads.process_page, gate.ctx, key)
        unmatched: list[InboundMail] = []
        if caller.account.role == ADMINISTRATOR:
            unmatched = await run_in_threadpool(reads.unmatched_quarantine, gate.ctx)
    except NotFound as exc:
        raise Refusal(404, _("No such process"), exc.message) from None
    return gate.render(
        "console/process.html",
        status_code,
        caller,
        key=page.status.process,
        page=page,
        unmatched=unmatched,
        problem=problem,
        blockers_refused=blockers_refused,
        notice=notice,
        mail_captured=gate.ctx.settings.smtp_host is None,
    )


async def refused(gate: Gate, caller: Caller, key: str, exc: IbmflowError) -> Response:
    """The process page after a refused command: nothing was written, and why."""
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
    return await process_response(
        gate, caller, key, status_of(exc), problem=message, blockers_refused=blockers
    )
