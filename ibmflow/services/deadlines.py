"""Deadlines: the ladder's rungs written ahead when a request is sent or a step entered, and the
coordinator's deadline extensions, which move the rungs not yet sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from ibmflow.audit import AuditRecord
from ibmflow.calendar import WorkCalendar
from ibmflow.engine import SUSPENDED
from ibmflow.errors import InvalidCommand, NotFound
from ibmflow.ladder import (
    REQUEST_SUBJECT,
    STEP_SUBJECT,
    Ladder,
    Rung,
    request_rungs,
    rungs_after_move,
    step_rungs,
)
from ibmflow.services.common import definition_for, iso, on_process
from ibmflow.services.context import Context
from ibmflow.services.mailings import local_time
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.tables import (
    DeadlineExtensionRow,
    InstitutionRow,
    LinkTokenRow,
    ProcessRow,
    RequestRow,
    RungRow,
    StepRecord,
)

PENDING, SENT, CANCELLED = "pending", "sent", "cancelled"
_RUNG = RungRow.__table__  # type: ignore[attr-defined]


def rung_key(subject: str, subject_id: int, name: str) -> str:
    """The unique key of one rung of one subject: `request:42:before:3`, `step:7:step_overdue:1`."""
    return f"{subject}:{subject_id}:{name}"


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


def request_calendar(
    ctx: Context, process: ProcessRow, institution: InstitutionRow
) -> WorkCalendar:
    """A request is counted, and chased, in the working days of the institution it goes to."""
    return ctx.calendar(process, institution.weekend)


def plan_request(
    ctx: Context, tx: Tx, process: ProcessRow, request: RequestRow, institution: InstitutionRow
) -> None:
    """Write the rungs of a request just sent (in the sending transaction)."""
    if request.due_at is None or request.id is None:
        return
    ladder = definition_for(ctx, tx.session, process).chase.for_kind(request.kind)
    cal = request_calendar(ctx, process, institution)
    rungs = request_rungs(
        ladder, cal, cal.local_day(request.sent_at), cal.local_day(request.due_at)
    )
    if rungs:
        tx.session.connection().execute(
            sa.insert(_RUNG),
            [rung_values(process, REQUEST_SUBJECT, request.id, r, cal, ladder) for r in rungs],
        )


def plan_step(
    ctx: Context, tx: Tx, process: ProcessRow, record_id: int, due_at: datetime | None
) -> None:
    """Write the first overdue alert of a stay in a step (in the transaction that enters it)."""
    if due_at is None:
        return
    ladder = definition_for(ctx, tx.session, process).chase.default
    cal = ctx.calendar(process)
    rungs = step_rungs(ladder, cal, cal.local_day(due_at))
    tx.session.connection().execute(
        sa.insert(_RUNG),
        [rung_values(process, STEP_SUBJECT, record_id, r, cal, ladder) for r in rungs],
    )


@dataclass(frozen=True)
class Extension:
    """A deadline moved by the coordinator, and the rungs that now follow."""

    process: str
    subject: str
    old_due_at: datetime | None
    new_due_at: datetime
    new_due_local: str
    reason: str
    rungs: list[tuple[str, date]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "subject": self.subject,
            "old_due_at": iso(self.old_due_at),
            "new_due_at": iso(self.new_due_at),
            "new_due_local": self.new_due_local,
            "reason": self.reason,
            "rungs": [{"rung": name, "day": day.isoformat()} for name, day in self.rungs],
        }


def extend_deadline(
    ctx: Context,
    key: str,
    *,
    reason: str,
    actor: str,
    request_id: int | None = None,
    days: int | None = None,
    to: date | None = None,
) -> Extension:
    """Move a request's due date (or, without `request_id`, the current step's) later by `days`
    working days or to the end of the working day `to`; the rungs not yet sent move with it."""
    if not reason.strip():
        raise InvalidCommand(
            "a deadline extension needs a reason, e.g. --reason 'minister abroad'."
        )
    if (days is None) == (to is None):
        raise InvalidCommand("give either --days N (working days later) or --to YYYY-MM-DD.")
    if days is not None and days < 1:
        raise InvalidCommand("--days must be at least 1 working day.")
    with on_process(ctx, key) as (tx, process, now):
        definition = definition_for(ctx, tx.session, process)
        if request_id is not None:
            request, institution = _open_request(tx, process, request_id)
            cal = request_calendar(ctx, process, institution)
            ladder = definition.chase.for_kind(request.kind)
            subject, subject_id, old = REQUEST_SUBJECT, request_id, request.due_at
            start_day = cal.local_day(request.sent_at)
            label = f"request:{request_id}"
        else:
            record = _current_stay(tx, process)
            cal, ladder = ctx.calendar(process), definition.chase.default
            subject, subject_id, old = STEP_SUBJECT, record.id or 0, record.due_at
            start_day = cal.local_day(record.entered_at)
            label = f"step:{record.step}"
        new_due = _new_due(cal, old, now, days, to, label)
        due_day = cal.local_day(new_due)
        rungs = _replan(tx, process, subject, subject_id, ladder, cal, start_day, due_day, now)
        if request_id is not None:
            request.due_at = new_due
            tx.session.add(request)
            _extend_links(ctx, tx, request_id, new_due)
        else:
            record.due_at = new_due
            tx.session.add(record)
        tx.session.add(
            DeadlineExtensionRow(
                process_id=process.id or 0,
                request_id=request_id,
                step_record_id=subject_id if subject == STEP_SUBJECT else None,
                old_due_at=old,
                new_due_at=new_due,
                reason=reason.strip(),
                actor=actor,
                created_at=now,
            )
        )
        tx.audit(
            AuditRecord(
                at=now,
                actor=actor,
                action="deadline.extended",
                process=process.key,
                entity=label,
                before={"due_at": iso(old)},
                after={"due_at": iso(new_due), "rungs": [f"{n} {d}" for n, d in rungs]},
                reason=reason.strip(),
            )
        )
        return Extension(
            process.key,
            label,
            old,
            new_due,
            local_time(process, new_due),
            reason.strip(),
            rungs,
        )


def _open_request(
    tx: Tx, process: ProcessRow, request_id: int
) -> tuple[RequestRow, InstitutionRow]:
    request = tx.session.get(RequestRow, request_id)
    if request is None or request.process_id != process.id:
        raise NotFound(
            f"process {process.key} has no request {request_id}; `ibmflow request list "
            f"{process.key}` shows them.",
            process=process.key,
        )
    if request.status != "sent":
        raise InvalidCommand(
            f"request {request_id} is {request.status}; only an open request's deadline can move.",
            process=process.key,
        )
    institution = tx.session.get(InstitutionRow, request.institution_id)
    assert institution is not None
    return request, institution


def _current_stay(tx: Tx, process: ProcessRow) -> StepRecord:
    record = repo.current_step_record(tx.session, process)
    if record is None or process.state == SUSPENDED or record.due_at is None:
        raise InvalidCommand(
            f"process {process.key} is {process.state}: it has no step deadline to extend.",
            process=process.key,
            step=process.state,
        )
    return record


def _new_due(
    cal: WorkCalendar,
    old: datetime | None,
    now: datetime,
    days: int | None,
    to: date | None,
    label: str,
) -> datetime:
    base = cal.local_day(old or now)
    if days is not None:
        return cal.end_of(cal.add(base, days))
    assert to is not None
    if not cal.is_working(to):
        raise InvalidCommand(
            f"{to:%A %d %B %Y} is not a working day for {label} (a weekend day or a public "
            f"holiday); choose a working day such as {cal.next_working(to).isoformat()}."
        )
    if to <= base:
        raise InvalidCommand(
            f"{to.isoformat()} is not later than the current due day {base.isoformat()}; an "
            "extension moves a deadline later."
        )
    return cal.end_of(to)


def _replan(
    tx: Tx,
    process: ProcessRow,
    subject: str,
    subject_id: int,
    ladder: Ladder,
    cal: WorkCalendar,
    start_day: date,
    due_day: date,
    now: datetime,
) -> list[tuple[str, date]]:
    """Move the subject's pending rungs to the new due day; sent rungs stay sent, never again."""
    column = RungRow.request_id if subject == REQUEST_SUBJECT else RungRow.step_record_id
    existing = {
        r.rung: r for r in tx.session.exec(select(RungRow).where(col(column) == subject_id))
    }
    sent = {name for name, r in existing.items() if r.status == SENT}
    planned = rungs_after_move(ladder, cal, start_day, due_day, sent, subject)
    for rung in planned:
        values = rung_values(process, subject, subject_id, rung, cal, ladder)
        row = existing.get(rung.name)
        if row is None:
            tx.session.add(RungRow(**values))
        else:
            row.due_on, row.fire_at, row.status = rung.day, values["fire_at"], PENDING
            row.claimed_by = row.claimed_until = row.outcome = None
            tx.session.add(row)
    names = {r.name for r in planned}
    for name, row in existing.items():
        if row.status == PENDING and name not in names:
            row.status, row.done_at, row.outcome = CANCELLED, now, "deadline extended"
            tx.session.add(row)
    return [(r.name, r.day) for r in planned]


def _extend_links(ctx: Context, tx: Tx, request_id: int, new_due: datetime) -> None:
    """The request's unused links stay valid until the new due date plus the grace period."""
    expires = new_due + timedelta(days=ctx.settings.mail_token_grace_days)
    for token in tx.session.exec(
        select(LinkTokenRow).where(
            LinkTokenRow.request_id == request_id, col(LinkTokenRow.used_at).is_(None)
        )
    ):
        if token.expires_at < expires:
            token.expires_at = expires
            tx.session.add(token)
