"""The chaser's sweep: ring every rung of the ladder whose moment has come, exactly once.

The rung rows in the database are the truth; the worker only calls `sweep` now and then. A sweep
works in batches of two short transactions each:

1. **claim**: mark up to `batch` due rungs as this worker's until `now + lease` (on PostgreSQL with
   `FOR UPDATE SKIP LOCKED`, so two workers take different rungs; on SQLite the claim runs in a
   `BEGIN IMMEDIATE` transaction, which writers take one at a time);
2. **ring**: for each claimed rung still pending and still this worker's, write its mails to the
   outbox, its audit event, its outcome and the next overdue rung, in one transaction.

A worker killed between the two leaves its claims to expire; another worker takes them up after the
lease. The rung's unique key, and the outbox's unique dedupe key derived from it, make a second
sending impossible whatever happens.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from ibmflow.audit import AuditRecord
from ibmflow.calendar import WorkCalendar
from ibmflow.engine import SUSPENDED, engine_for
from ibmflow.guards import reads_of
from ibmflow.ladder import next_rung
from ibmflow.requestkinds import KINDS
from ibmflow.services import mailings
from ibmflow.services.common import definition_for, iso
from ibmflow.services.context import Context
from ibmflow.services.deadlines import CANCELLED, PENDING, SENT, request_calendar, rung_values
from ibmflow.services.requests import OPEN, mail_request
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.tables import (
    InstitutionRow,
    LinkTokenRow,
    NominationRow,
    PersonRow,
    ProcessRow,
    RequestRow,
    RoleRow,
    RungRow,
    StepRecord,
)

_RUNG = RungRow.__table__  # type: ignore[attr-defined]
DEFERRED, WOULD_SEND = "deferred", "would send"


def worker_name() -> str:
    """This process's name on its claims: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Rang:
    """What a sweep did with one rung."""

    key: str
    process: str
    rung: str
    subject: str
    due_on: str
    outcome: str  # sent, would send, deferred, cancelled
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
class SweepReport:
    """Everything one sweep rang, deferred or cancelled, in the order it did so."""

    at: datetime
    dry_run: bool
    rungs: list[Rang] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rungs if r.outcome == outcome)

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": iso(self.at),
            "dry_run": self.dry_run,
            "rungs": [r.to_dict() for r in self.rungs],
        }


class _DryRun(Exception):
    """Raised inside a dry run's transaction so that nothing it wrote is kept."""


def due_rungs_query(now: datetime, limit: int, *, skip_locked: bool) -> sa.Select[Any]:
    """The ids of the pending rungs due at `now` that no live claim holds, oldest first."""
    query = (
        sa.select(_RUNG.c.id)
        .where(
            _RUNG.c.status == PENDING,
            _RUNG.c.fire_at <= now,
            sa.or_(_RUNG.c.claimed_until.is_(None), _RUNG.c.claimed_until < now),
        )
        .order_by(_RUNG.c.fire_at, _RUNG.c.id)
        .limit(limit)
    )
    return query.with_for_update(skip_locked=True) if skip_locked else query


def sweep(
    ctx: Context,
    *,
    now: datetime | None = None,
    worker: str | None = None,
    dry_run: bool = False,
    batch: int | None = None,
    lease_s: int | None = None,
    max_batches: int | None = None,
) -> SweepReport:
    """Ring every due rung as of `now` (the clock's time by default); a dry run writes nothing."""
    now = now or ctx.clock.now()
    worker = worker or worker_name()
    size = batch or ctx.settings.worker_batch
    lease = timedelta(seconds=lease_s or ctx.settings.worker_lease_s)
    report = SweepReport(now, dry_run)
    if dry_run:
        with ctx.db.reading() as session:
            ids = list(
                session.connection()
                .execute(due_rungs_query(now, 1_000_000, skip_locked=False))
                .scalars()
            )
        try:
            with ctx.db.transaction() as tx:
                report.rungs.extend(_ring(ctx, tx, ids, now, None))
                raise _DryRun
        except _DryRun:
            pass
        return report
    batches = 0
    while max_batches is None or batches < max_batches:
        if not _any_due(ctx, now):
            break
        ids = claim(ctx, now, worker, size, lease)
        if not ids:
            break
        with ctx.db.transaction() as tx:
            report.rungs.extend(_ring(ctx, tx, ids, now, worker))
        batches += 1
    return report


def _any_due(ctx: Context, now: datetime) -> bool:
    """A read without a write lock: a sweep with nothing to do costs one indexed select."""
    with ctx.db.read_engine.connect() as conn:
        return conn.execute(due_rungs_query(now, 1, skip_locked=False)).first() is not None


def claim(ctx: Context, now: datetime, worker: str, size: int, lease: timedelta) -> list[int]:
    """Claim up to `size` due rungs for `worker` until `now + lease`; return their ids."""
    skip_locked = ctx.db.engine.dialect.name == "postgresql"
    with ctx.db.transaction() as tx:
        due = due_rungs_query(now, size, skip_locked=skip_locked).scalar_subquery()
        rows = tx.session.connection().execute(
            sa.update(_RUNG)
            .where(_RUNG.c.id.in_(due))
            .values(claimed_by=worker, claimed_until=now + lease)
            .returning(_RUNG.c.id)
        )
        return sorted(rows.scalars())


def _ring(
    ctx: Context, tx: Tx, ids: Sequence[int], now: datetime, worker: str | None
) -> list[Rang]:
    if not ids:
        return []
    query = select(RungRow).where(col(RungRow.id).in_(ids), RungRow.status == PENDING)
    if worker is not None:
        query = query.where(RungRow.claimed_by == worker)
        if ctx.db.engine.dialect.name == "postgresql":
            query = query.with_for_update()
    rungs = sorted(tx.session.exec(query).all(), key=lambda r: (r.fire_at, r.id or 0))
    if not rungs:
        return []
    loaded = _Loaded.of(tx, rungs)
    out = []
    # The loop's reads (coordinators, IAWG members...) never depend on what the loop writes, but
    # the rungs sent earlier in the batch, which `loaded.sent` keeps: so the rows it adds are
    # flushed once, at the end, not before every read.
    with tx.session.no_autoflush:
        for rung in rungs:
            process = loaded.processes[rung.process_id]
            try:
                rang = _ring_one(ctx, tx, loaded, process, rung, now, dry=worker is None)
            finally:
                rung.claimed_by = rung.claimed_until = None
                tx.session.add(rung)
            if worker is not None and rung.status == SENT:
                rung.outcome = f"{rung.outcome} by {worker}"  # which worker rang it, for operators
            out.append(rang)
    # The batch's next rungs and audit events are written together: a statement each, not one
    # per rung (and the session's pending rows are flushed once, before the audit append).
    if loaded.follow:
        tx.session.connection().execute(sa.insert(_RUNG), loaded.follow)
    tx.audit_many(loaded.events)
    return out


@dataclass
class _Loaded:
    """What a batch of rungs needs, read in a few queries rather than one per rung."""

    processes: dict[int, ProcessRow]
    requests: dict[int, RequestRow]
    stays: dict[int, StepRecord]
    institutions: dict[int, InstitutionRow]
    addressees: dict[int, list[PersonRow]]  # request id -> the people its first mails went to
    keys: set[str]  # the keys of the rungs the batch's subjects have, planned or rung
    sent: dict[int, list[str]]  # request id -> the names of its rungs sent, this batch's too
    follow: list[dict[str, Any]] = field(default_factory=list)  # next rungs to insert
    events: list[AuditRecord] = field(default_factory=list)  # to append, in order

    @classmethod
    def of(cls, tx: Tx, rungs: Sequence[RungRow]) -> _Loaded:
        session = tx.session
        process_ids = sorted({r.process_id for r in rungs})
        # Lock the processes in id order, as every command does one at a time: an answer arriving
        # during the sweep waits for it, or the sweep sees the answer.
        processes = {
            p.id or 0: p
            for p in session.exec(
                select(ProcessRow)
                .where(col(ProcessRow.id).in_(process_ids))
                .order_by(col(ProcessRow.id))
                .with_for_update()
            )
        }
        request_ids = [r.request_id for r in rungs if r.request_id is not None]
        requests = {
            q.id or 0: q
            for q in session.exec(select(RequestRow).where(col(RequestRow.id).in_(request_ids)))
        }
        stay_ids = [r.step_record_id for r in rungs if r.step_record_id is not None]
        stays = {
            s.id or 0: s
            for s in session.exec(select(StepRecord).where(col(StepRecord.id).in_(stay_ids)))
        }
        institutions = {
            i.id or 0: i
            for i in session.exec(
                select(InstitutionRow).where(
                    col(InstitutionRow.id).in_({q.institution_id for q in requests.values()})
                )
            )
        }
        addressees: dict[int, list[PersonRow]] = {}
        seen: set[tuple[int, int]] = set()
        for request_id, person in session.exec(
            select(LinkTokenRow.request_id, PersonRow)
            .join(PersonRow, col(PersonRow.id) == col(LinkTokenRow.person_id))
            .where(col(LinkTokenRow.request_id).in_(request_ids))
            .order_by(col(LinkTokenRow.id))
        ):
            if (request_id, person.id or 0) not in seen:
                seen.add((request_id, person.id or 0))
                addressees.setdefault(request_id, []).append(person)
        keys: set[str] = set()
        sent: dict[int, list[str]] = {}
        for key, subject_id, name, status in session.exec(
            select(RungRow.key, RungRow.request_id, RungRow.rung, RungRow.status).where(
                sa.or_(
                    col(RungRow.request_id).in_(request_ids),
                    col(RungRow.step_record_id).in_(stay_ids),
                )
            )
        ):
            keys.add(key)
            if status == SENT and subject_id is not None:
                sent.setdefault(subject_id, []).append(name)
        return cls(processes, requests, stays, institutions, addressees, keys, sent)


def _ring_one(
    ctx: Context,
    tx: Tx,
    loaded: _Loaded,
    process: ProcessRow,
    rung: RungRow,
    now: datetime,
    *,
    dry: bool,
) -> Rang:
    """Send one rung (or defer or cancel it), and plan the rung that follows it."""
    definition = definition_for(ctx, tx.session, process)
    request = loaded.requests.get(rung.request_id or 0)
    stay = loaded.stays.get(rung.step_record_id or 0)
    if request is not None:
        institution = loaded.institutions[request.institution_id]
        ladder = definition.chase.for_kind(request.kind)
        cal = request_calendar(ctx, process, institution)
        subject = f"request {request.id} ({request.kind}, {institution.code})"
        due_at, still_open = request.due_at, request.status == OPEN
        gone = f"request {request.status}"
    else:
        assert stay is not None
        institution, ladder, cal = None, definition.chase.default, ctx.calendar(process)
        subject = f"step {stay.step}"
        due_at, still_open, gone = stay.due_at, stay.left_at is None, "step left"
    rang = Rang(rung.key, process.key, rung.rung, subject, rung.due_on.isoformat(), SENT)
    if not still_open or due_at is None:
        rung.status, rung.done_at, rung.outcome = CANCELLED, now, gone
        return _replace(rang, outcome=CANCELLED, note=gone)
    today = cal.local_day(now)
    if process.state == SUSPENDED or not cal.is_working(today):
        # Nobody is chased while the process is suspended, nor on a day off of the recipient.
        later = cal.next_working(today + timedelta(days=1 if process.state == SUSPENDED else 0))
        rung.fire_at = cal.at(later, ladder.send_at)
        why = "process suspended" if process.state == SUSPENDED else f"{today:%A} is a day off"
        rung.outcome = f"deferred to {later.isoformat()}: {why}"
        return _replace(rang, outcome=DEFERRED, note=rung.outcome)
    due_day = cal.local_day(due_at)
    if request is not None and institution is not None and rung.rung == "escalation":
        to, action = (
            _escalate(ctx, tx, loaded, process, request, institution, cal, rung, now),
            "chase.escalation",
        )
    elif request is not None and institution is not None:
        to, action = (
            _remind(ctx, tx, loaded, process, request, institution, cal, rung, now),
            "chase.reminder",
        )
    else:
        assert stay is not None
        to, action = _alert_step(ctx, tx, process, stay, cal, rung, now), "chase.step_overdue"
    if not to:
        rung.status, rung.done_at, rung.outcome = CANCELLED, now, "nobody to write to"
        return _replace(rang, outcome=CANCELLED, note=rung.outcome)
    rung.status, rung.done_at, rung.outcome = SENT, now, f"sent to {len(to)}"
    if request is not None:
        loaded.sent.setdefault(request.id or 0, []).append(rung.rung)
    follow = next_rung(ladder, cal, due_day, rung.rung)
    if follow is not None:
        subject_kind, subject_id = (
            ("request", request.id) if request else ("step", stay.id if stay else 0)
        )
        values = rung_values(process, subject_kind, subject_id or 0, follow, cal, ladder)
        if values["key"] not in loaded.keys:
            loaded.keys.add(values["key"])
            loaded.follow.append(values)
    loaded.events.append(
        AuditRecord(
            at=now,
            actor="ibmflow:chaser",
            action=action,
            process=process.key,
            entity=f"request:{request.id}" if request else f"step:{stay.step if stay else ''}",
            after={"rung": rung.rung, "due_on": rung.due_on.isoformat(), "to": list[Any](to)},
        )
    )
    return _replace(rang, outcome=WOULD_SEND if dry else SENT, to=tuple(to))


def _replace(rang: Rang, **changes: Any) -> Rang:
    from dataclasses import replace

    return replace(rang, **changes)


def _reminder_context(
    cal: WorkCalendar, process: ProcessRow, rung: RungRow, due_at: datetime, now: datetime
) -> dict[str, Any]:
    today, due_day = cal.local_day(now), cal.local_day(due_at)
    return {
        "rung": rung.rung,
        "overdue": today > due_day,
        "working_days_left": max(cal.between(today, due_day), 0),
        "working_days_overdue": max(cal.between(due_day, today), 0),
        "due_day": f"{due_day:%A %d %B %Y}",
    }


def _remind(
    ctx: Context,
    tx: Tx,
    loaded: _Loaded,
    process: ProcessRow,
    request: RequestRow,
    institution: InstitutionRow,
    cal: WorkCalendar,
    rung: RungRow,
    now: datetime,
) -> list[str]:
    """A reminder to the people the request went to, threaded under it, each with a fresh link."""
    people = loaded.addressees.get(request.id or 0, [])
    if not people:
        return []
    representing: dict[int, PersonRow] = {}
    if request.kind == "vote":
        member = next((p for p in people if p.id == request.focal_point_id), None)
        if member is not None:
            representing = {p.id or 0: member for p in people if p.id != member.id}
    assert request.due_at is not None
    mail_request(
        ctx,
        tx,
        process,
        request,
        institution,
        people,
        now,
        representing=representing,
        thread=[request.message_id] if request.message_id else (),
        dedupe_key=rung.key,
        template="reminder",
        extra={"reminder": _reminder_context(cal, process, rung, request.due_at, now)},
    )
    return [p.email for p in people]


def _escalate(
    ctx: Context,
    tx: Tx,
    loaded: _Loaded,
    process: ProcessRow,
    request: RequestRow,
    institution: InstitutionRow,
    cal: WorkCalendar,
    rung: RungRow,
    now: datetime,
) -> list[str]:
    """The institution's IAWG member (and their representatives) and the coordinator are told."""
    members = tx.session.exec(
        select(PersonRow)
        .join(RoleRow, col(RoleRow.person_id) == col(PersonRow.id))
        .where(
            RoleRow.process_id == process.id,
            RoleRow.role == "iawg_member",
            RoleRow.institution_id == institution.id,
            col(RoleRow.active).is_(True),
        )
    ).all()
    today = cal.local_day(now)
    reps = [
        person
        for nomination, person in tx.session.exec(
            select(NominationRow, PersonRow)
            .join(PersonRow, col(PersonRow.id) == col(NominationRow.representative_id))
            .where(
                col(NominationRow.member_id).in_([m.id for m in members]),
                col(NominationRow.revoked).is_(False),
                col(NominationRow.decision_id).is_(None),
            )
        )
        if (nomination.valid_from is None or nomination.valid_from <= today)
        and (nomination.valid_until is None or today <= nomination.valid_until)
    ]
    coordinator = mailings.coordinator(tx, process)
    names = [f"{m.name} (IAWG member)" for m in members] + [
        f"{r.name} (representative)" for r in reps
    ]
    to = [m.email for m in members] + [r.email for r in reps]
    if coordinator["email"]:
        names.append(f"{coordinator['name']} (coordinator)")
        to.append(coordinator["email"])
    to = list(dict.fromkeys(to))
    if not to:
        return []
    assert request.due_at is not None
    earlier = loaded.sent.get(request.id or 0, [])
    focal = [person.name for person in loaded.addressees.get(request.id or 0, [])]
    context = {
        "recipients_names": ", ".join(names),
        "institution": {
            "code": institution.code,
            "name": institution.name,
            "short_name": institution.short_name,
        },
        "request": {
            "id": request.id,
            "kind_label": KINDS[request.kind].label,
            "due_local": mailings.local_time(process, request.due_at),
        },
        "step": {"id": request.step, "title": mailings.step_title(ctx, tx, process, request.step)},
        "reminder": {
            **_reminder_context(cal, process, rung, request.due_at, now),
            "sent_local": mailings.local_time(process, request.sent_at),
            "focal_points": ", ".join(dict.fromkeys(focal)) or "its focal point",
            "reminders_sent": sum(1 for name in earlier if name != "escalation"),
            "representatives": bool(reps),
        },
    }
    mailings.send(
        ctx,
        tx,
        process,
        "escalation",
        to,
        context,
        now,
        request_id=request.id,
        thread=[request.message_id] if request.message_id else (),
        dedupe_key=rung.key,
    )
    return to


def _alert_step(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    stay: StepRecord,
    cal: WorkCalendar,
    rung: RungRow,
    now: datetime,
) -> list[str]:
    """An overdue step: the coordinator and the chair are told what still blocks it."""
    to = mailings.addresses_for_roles(tx, process, ["coordinator", "chair"])
    if not to or stay.due_at is None:
        return []
    definition = definition_for(ctx, tx.session, process)
    engine = engine_for(definition)
    state = definition.state(stay.step)
    facts = repo.load_facts(tx.session, process, now, reads_of(g.name for g in state.guards))
    due_day = cal.local_day(stay.due_at)
    context = {
        "step": {
            "id": stay.step,
            "title": state.title,
            "due_local": mailings.local_time(process, stay.due_at),
            "working_days_overdue": max(cal.between(due_day, cal.local_day(now)), 0),
            "blockers": engine.blockers(stay.step, facts),
        }
    }
    mailings.send(ctx, tx, process, "step_overdue", to, context, now, dedupe_key=rung.key)
    return to
