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
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from ibmflow.audit import AuditRecord
from ibmflow.engine import SUSPENDED
from ibmflow.ladder import next_rung
from ibmflow.services.common import definition_for, iso
from ibmflow.services.context import Context
from ibmflow.services.deadlines import CANCELLED, PENDING, SENT, request_calendar, rung_values
from ibmflow.services.requests import OPEN
from ibmflow.services.rung_mail import Batch, alert_step, escalate, remind
from ibmflow.storage.db import Tx
from ibmflow.storage.tables import (
    ProcessRow,
    RungRow,
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
    loaded = Batch.of(tx, rungs)
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


def _ring_one(
    ctx: Context,
    tx: Tx,
    loaded: Batch,
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
        return replace(rang, outcome=CANCELLED, note=gone)
    today = cal.local_day(now)
    if process.state == SUSPENDED or not cal.is_working(today):
        # Nobody is chased while the process is suspended, nor on a day off of the recipient.
        later = cal.next_working(today + timedelta(days=1 if process.state == SUSPENDED else 0))
        rung.fire_at = cal.at(later, ladder.send_at)
        why = "process suspended" if process.state == SUSPENDED else f"{today:%A} is a day off"
        rung.outcome = f"deferred to {later.isoformat()}: {why}"
        return replace(rang, outcome=DEFERRED, note=rung.outcome)
    due_day = cal.local_day(due_at)
    if request is not None and institution is not None and rung.rung == "escalation":
        to, action = (
            escalate(ctx, tx, loaded, process, request, institution, cal, rung, now),
            "chase.escalation",
        )
    elif request is not None and institution is not None:
        to, action = (
            remind(ctx, tx, loaded, process, request, institution, cal, rung, now),
            "chase.reminder",
        )
    else:
        assert stay is not None
        to, action = alert_step(ctx, tx, process, stay, cal, rung, now), "chase.step_overdue"
    if not to:
        rung.status, rung.done_at, rung.outcome = CANCELLED, now, "nobody to write to"
        return replace(rang, outcome=CANCELLED, note=rung.outcome)
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
            after={"rung": rung.rung, "due_on": rung.due_on.isoformat(), "to": [*to]},
        )
    )
    return replace(rang, outcome=WOULD_SEND if dry else SENT, to=tuple(to))
