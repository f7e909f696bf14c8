"""Deadlines: the ladder's rungs written ahead when a request is sent or a step entered, and the
coordinator's deadline extensions, which move the rungs not yet sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from ibmflow.calendar import WorkCalendar
from ibmflow.ladder import (
    REQUEST_SUBJECT,
    STEP_SUBJECT,
    Ladder,
    Rung,
    request_rungs,
    step_rungs,
)
from ibmflow.services.common import definition_for
from ibmflow.services.context import Context
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import chase as chase_queries
from ibmflow.storage.queries import processes as queries
from ibmflow.storage.shapes import Institution, Request
from ibmflow.storage.tables import (
    InstitutionRow,
    ProcessRow,
    RequestRow,
    StepRecord,
)

PENDING, SENT, CANCELLED = "pending", "sent", "cancelled"
SKIPPED = "skipped"  # superseded: a later rung of the same subject was sent in its place
MANUAL = "manual"  # a reminder the coordinator sent by hand, outside the ladder


def rung_key(subject: str, subject_id: int, name: str) -> str:
    """The unique key of one rung of one subject: `request:42:before:3`, `step:7:step_overdue:1`."""
    return f"{subject}:{subject_id}:{name}"


def manual_rung(day: date) -> str:
    """The name of a reminder sent by hand on a local day (`services.remind`): `manual:2026-12-29`,
    so that its key (`request:42:manual:2026-12-29`) allows one a request a day."""
    return f"{MANUAL}:{day.isoformat()}"


def rung_values(
    process: ProcessRow,
    subject: str,
    subject_id: int,
    rung: Rung,
    cal: WorkCalendar,
    ladder: Ladder,
) -> dict[str, Any]:
    """The row of a planned rung, ringing at the ladder's local sending time of its day."""
    return {
        "key": rung_key(subject, subject_id, rung.name),
        "process_id": process.id,
        "request_id": subject_id if subject == REQUEST_SUBJECT else None,
        "step_record_id": subject_id if subject == STEP_SUBJECT else None,
        "rung": rung.name,
        "due_on": rung.day,
        "fire_at": cal.at(rung.day, ladder.send_at),
        "status": PENDING,
        "claimed_by": None,
        "claimed_until": None,
        "done_at": None,
        "outcome": None,
    }


def request_calendar(ctx: Context, process: ProcessRow, institution: Institution) -> WorkCalendar:
    """A request is counted, and chased, in the working days of the institution it goes to."""
    return ctx.calendar(process, institution.weekend)


def plan_request(
    ctx: Context, tx: Tx, process: ProcessRow, request: RequestRow, institution: InstitutionRow
) -> None:
    """Write the rungs of a request just sent (in the sending transaction)."""
    plan_requests(ctx, tx, process, [(request, institution)])


def plan_requests(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    sent: Sequence[tuple[Request, Institution]],
) -> None:
    """Write the rungs of requests just sent (in the sending transaction), one statement for all."""
    values: list[dict[str, Any]] = []
    chase = None
    for request, institution in sent:
        if request.due_at is None or request.id is None:
            continue
        chase = chase or definition_for(ctx, tx.session, process).chase
        ladder = chase.for_kind(request.kind)
        cal = request_calendar(ctx, process, institution)
        rungs = request_rungs(
            ladder, cal, cal.local_day(request.sent_at), cal.local_day(request.due_at)
        )
        values += [rung_values(process, REQUEST_SUBJECT, request.id, r, cal, ladder) for r in rungs]
    chase_queries.insert_rungs(tx.session, values)


def plan_step(
    ctx: Context, tx: Tx, process: ProcessRow, record_id: int, due_at: datetime | None
) -> None:
    """Write the first overdue alert of a stay in a step (in the transaction that enters it)."""
    if due_at is None:
        return
    ladder = definition_for(ctx, tx.session, process).chase.default
    cal = ctx.calendar(process)
    rungs = step_rungs(ladder, cal, cal.local_day(due_at))
    chase_queries.insert_rungs(
        tx.session, [rung_values(process, STEP_SUBJECT, record_id, r, cal, ladder) for r in rungs]
    )


def plan_missing(ctx: Context) -> int:
    """Write the rungs of the open requests and current step stays that have none: those of a
    database that predates the ladder (schema 0003). Returns how many subjects got rungs; run
    again, it finds none. `ibmflow init` runs it after upgrading."""
    with ctx.db.reading() as session:
        request_ids = queries.unplanned_requests(session)
        stay_ids = queries.unplanned_stays(session)
    planned = 0
    for request_id in request_ids:
        with ctx.db.transaction() as tx:
            request = tx.session.get(RequestRow, request_id)
            assert request is not None
            process = tx.session.get(ProcessRow, request.process_id)
            institution = tx.session.get(InstitutionRow, request.institution_id)
            assert process is not None and institution is not None
            plan_request(ctx, tx, process, request, institution)
            planned += 1
    for stay_id in stay_ids:
        with ctx.db.transaction() as tx:
            stay = tx.session.get(StepRecord, stay_id)
            assert stay is not None
            process = tx.session.get(ProcessRow, stay.process_id)
            assert process is not None
            plan_step(ctx, tx, process, stay_id or 0, stay.due_at)
            planned += 1
    return planned
