"""Ringing the due rungs of one process, politely.

For each subject (a request, a stay in a step) whose rungs are due: cancel them if it is closed,
defer them on a day off or while the process is suspended; otherwise send only the latest
applicable reminder rung and record the others as superseded (`ladder.catch_up`). An escalation
waits a working day when the request's first reminder goes out in this very sweep. Then every
person gets one mail for everything that rang for them (`rung_mail.write_mails`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ibmflow.calendar import WorkCalendar
from ibmflow.engine import SUSPENDED
from ibmflow.ladder import (
    ESCALATION,
    REQUEST_SUBJECT,
    STEP_SUBJECT,
    Ladder,
    Rung,
    catch_up,
    escalation_waits,
)
from ibmflow.services.chase_batch import Batch
from ibmflow.services.common import definition_for
from ibmflow.services.context import Context
from ibmflow.services.deadlines import (
    CANCELLED,
    SENT,
    SKIPPED,
    manual_rung,
    request_calendar,
    rung_key,
    rung_values,
)
from ibmflow.services.requests import OPEN
from ibmflow.services.rung_mail import Item, escalation, reminder, step_alert, write_mails
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import chase as q
from ibmflow.storage.queries.chase import RungRecord
from ibmflow.storage.shapes import Institution, Request
from ibmflow.storage.tables import ProcessRow, StepRecord

DEFERRED, WOULD_SEND, SUPERSEDED = "deferred", "would send", "superseded"
_ACTIONS = {
    "reminder": "chase.reminder",
    "escalation": "chase.escalation",
    "step_overdue": "chase.step_overdue",
}


@dataclass(frozen=True)
class Rang:
    """What a sweep did with one rung."""

    key: str
    process: str
    rung: str
    subject: str
    due_on: str
    outcome: str  # sent, would send, superseded, deferred, cancelled
    to: tuple[str, ...] = ()
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "process": self.process,
            "rung": self.rung,
            "subject": self.subject,
            "due_on": self.due_on,
            "outcome": self.outcome,
            "to": list(self.to),
            "note": self.note,
        }


@dataclass
class _Subject:
    """A request or a stay in a step, with the ladder and calendar it is chased by."""

    kind: str  # request, step
    id: int
    label: str  # as a sweep report shows it
    entity: str  # as the audit chain names it
    ladder: Ladder
    cal: WorkCalendar
    due_at: datetime | None
    gone: str | None  # why it is no longer chased, if it is not
    request: Request | None = None
    institution: Institution | None = None
    stay: StepRecord | None = None


def _subject(
    ctx: Context, tx: Tx, loaded: Batch, process: ProcessRow, rung: RungRecord
) -> _Subject:
    definition = definition_for(ctx, tx.session, process)
    request = loaded.requests.get(rung.request_id or 0)
    if request is not None:
        institution = loaded.institutions[request.institution_id]
        return _Subject(
            REQUEST_SUBJECT,
            request.id or 0,
            f"request {request.id} ({request.kind}, {institution.code})",
            f"request:{request.id}",
            definition.chase.for_kind(request.kind),
            loaded.calendar(
                institution.id or 0, lambda: request_calendar(ctx, process, institution)
            ),
            request.due_at,
            None if request.status == OPEN else f"request {request.status}",
            request=request,
            institution=institution,
        )
    stay = loaded.stays[rung.step_record_id or 0]
    return _Subject(
        STEP_SUBJECT,
        stay.id or 0,
        f"step {stay.step}",
        f"step:{stay.step}",
        definition.chase.default,
        ctx.calendar(process),
        stay.due_at,
        None if stay.left_at is None else "step left",
        stay=stay,
    )


def ring_process(
    ctx: Context,
    tx: Tx,
    loaded: Batch,
    process: ProcessRow,
    rungs: Sequence[RungRecord],
    now: datetime,
    *,
    dry: bool,
) -> list[Rang]:
    """Ring the due rungs of one process: one mail per person, whatever rang for them."""
    by_subject: dict[tuple[int | None, int | None], list[RungRecord]] = {}
    for rung in rungs:
        by_subject.setdefault((rung.request_id, rung.step_record_id), []).append(rung)
    done: list[Rang] = []
    items: list[tuple[Item, _Subject]] = []
    escalations: list[tuple[_Subject, RungRecord]] = []
    reminding: set[int] = set()

    def rang(row: RungRecord, s: _Subject, outcome: str, note: str = "") -> None:
        done.append(
            Rang(row.key, process.key, row.rung, s.label, row.due_on.isoformat(), outcome, (), note)
        )

    for rows in by_subject.values():
        s = _subject(ctx, tx, loaded, process, rows[0])
        if s.gone is not None or s.due_at is None:
            for row in rows:
                row.status, row.done_at, row.outcome = CANCELLED, now, s.gone or "no due date"
                rang(row, s, CANCELLED, row.outcome)
            continue
        today = loaded.today(s.cal, now)
        if process.state == SUSPENDED or not s.cal.is_working(today):
            # Nobody is chased while the process is suspended, nor on a day off of the recipient.
            later = s.cal.next_working(
                today + timedelta(days=1 if process.state == SUSPENDED else 0)
            )
            why = "process suspended" if process.state == SUSPENDED else f"{today:%A} is a day off"
            for row in rows:
                row.fire_at = s.cal.at(later, s.ladder.send_at)
                row.outcome = f"deferred to {later.isoformat()}: {why}"
                rang(row, s, DEFERRED, row.outcome)
            continue
        if s.request is not None and rung_key(s.kind, s.id, manual_rung(today)) in loaded.keys:
            # Reminded by hand today (`services.remind`): no reminder of the ladder before the
            # next working day; an escalation still goes up.
            later = s.cal.next_working(today + timedelta(days=1))
            for row in [r for r in rows if r.rung != ESCALATION]:
                row.fire_at = s.cal.at(later, s.ladder.send_at)
                row.outcome = f"deferred to {later.isoformat()}: reminded by hand today"
                rang(row, s, DEFERRED, row.outcome)
            rows = [r for r in rows if r.rung == ESCALATION]
        escalations += [(s, row) for row in rows if row.rung == ESCALATION]
        reminders = [row for row in rows if row.rung != ESCALATION]
        if not reminders:
            continue
        winner, passed = _catch_up(tx, loaded, process, s, reminders, now)
        for row in passed:
            row.status, row.done_at, row.outcome = SKIPPED, now, f"superseded by {winner.rung}"
            rang(row, s, SUPERSEDED, row.outcome)
            loaded.chaser_did(
                now,
                process,
                "chase.superseded",
                s.entity,
                after={"rung": row.rung, "due_on": row.due_on.isoformat()},
                reason=f"{row.outcome}: of the rungs due at once, only the latest is sent",
            )
        if s.request is not None and s.institution is not None:
            item = reminder(ctx, tx, loaded, process, s.request, s.institution, s.cal, winner, now)
        else:
            assert s.stay is not None
            item = step_alert(ctx, tx, process, s.stay, s.cal, winner, now)
        if item.people:
            items.append((item, s))
            if s.request is not None:
                reminding.add(s.id)
                loaded.sent.setdefault(s.id, []).append(winner.rung)
        else:
            winner.status, winner.done_at, winner.outcome = CANCELLED, now, "nobody to write to"
            rang(winner, s, CANCELLED, winner.outcome)

    for s, row in escalations:
        assert s.request is not None and s.institution is not None
        if escalation_waits(loaded.reminded_before(s.id), s.id in reminding):
            later = s.cal.next_working(loaded.today(s.cal, now) + timedelta(days=1))
            row.fire_at = s.cal.at(later, s.ladder.send_at)
            row.outcome = (
                f"deferred to {later.isoformat()}: the escalation waits for a sweep after the "
                "first reminder, sent now"
            )
            rang(row, s, DEFERRED, row.outcome)
            continue
        item = escalation(ctx, tx, loaded, process, s.request, s.institution, s.cal, row, now)
        if item.people:
            items.append((item, s))
        else:
            row.status, row.done_at, row.outcome = CANCELLED, now, "nobody to write to"
            rang(row, s, CANCELLED, row.outcome)

    write_mails(ctx, tx, loaded, process, [item for item, _ in items], now)
    for item, s in items:
        sent, to = item.rung, tuple(p.email for p in item.people)
        sent.status, sent.done_at, sent.outcome = SENT, now, f"sent to {len(to)}"
        loaded.chaser_did(
            now,
            process,
            _ACTIONS[item.template],
            s.entity,
            after={"rung": sent.rung, "due_on": sent.due_on.isoformat(), "to": [*to]},
        )
        outcome = WOULD_SEND if dry else SENT
        done.append(
            Rang(sent.key, process.key, sent.rung, s.label, sent.due_on.isoformat(), outcome, to)
        )
    return sorted(done, key=lambda r: (r.due_on, r.key))


def _catch_up(
    tx: Tx,
    loaded: Batch,
    process: ProcessRow,
    s: _Subject,
    rows: list[RungRecord],
    now: datetime,
) -> tuple[RungRecord, list[RungRecord]]:
    """The rung to send of the subject's due reminder rungs, and those it supersedes: rows of the
    ones planned, new rows of the overdue rungs passed over. The next overdue rung is planned."""
    assert s.due_at is not None
    today = loaded.today(s.cal, now)
    until = today if s.cal.at(today, s.ladder.send_at) <= now else today - timedelta(days=1)
    plan = catch_up(
        s.ladder, s.cal, s.cal.local_day(s.due_at), [Rung(r.due_on, r.rung) for r in rows], until
    )
    planned = {r.rung: r for r in rows}

    def row_of(rung: Rung) -> RungRecord:
        return planned.get(rung.name) or _added(tx, loaded, process, s, rung)

    if plan.follow is not None:
        values = rung_values(process, s.kind, s.id, plan.follow, s.cal, s.ladder)
        if values["key"] not in loaded.keys:
            loaded.keys.add(values["key"])
            loaded.follow.append(values)
    return row_of(plan.send), [row_of(r) for r in plan.superseded]


def _added(tx: Tx, loaded: Batch, process: ProcessRow, s: _Subject, rung: Rung) -> RungRecord:
    """The row of an overdue rung the catch-up reached without it having been planned (or, after a
    deadline extension, planned and since cancelled)."""
    values = rung_values(process, s.kind, s.id, rung, s.cal, s.ladder)
    if values["key"] in loaded.keys:
        row = q.rung_record(tx.session, values["key"])
        row.due_on, row.fire_at = rung.day, values["fire_at"]
    else:
        loaded.keys.add(values["key"])
        row = RungRecord(id=None, **values)
    loaded.added.append(row)
    return row
