"""The chaser's sweep: ring every rung of the ladder whose moment has come, exactly once, politely.

The rung rows in the database are the truth; the worker only calls `sweep` now and then. A sweep
works in batches of two short transactions each:

1. **claim**: mark the due rungs of whole processes as this worker's until `now + lease` (on
   PostgreSQL with `FOR UPDATE SKIP LOCKED` on the rungs and their processes, so two workers take
   different processes; on SQLite the claim runs in a `BEGIN IMMEDIATE` transaction, which writers
   take one at a time). A process is never split between two claims: its people get one mail;
2. **ring**: for the claimed rungs still pending and still this worker's, decide what each becomes
   (`chase_ring`: sent, superseded, deferred or cancelled), write one mail per person to the outbox,
   the audit events, the outcomes and the next overdue rungs, in one transaction.

A worker killed between the two leaves its claims to expire; another worker takes them up after the
lease. The rung's unique key, and the unique (rung, person) record of the mail that carried it
(`chase_mail`), make a second sending impossible whatever happens.
"""

from __future__ import annotations

import gc
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ibmflow.ladder import ESCALATION
from ibmflow.services import languages, mailings
from ibmflow.services.chase_batch import Batch, prime_representatives, prime_role_holders
from ibmflow.services.chase_ring import DEFERRED, SUPERSEDED, WOULD_SEND, Rang, ring_process
from ibmflow.services.common import iso
from ibmflow.services.context import Context
from ibmflow.services.deadlines import SENT
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import chase as q
from ibmflow.storage.queries.chase import RungRecord

__all__ = ["DEFERRED", "SUPERSEDED", "WOULD_SEND", "Rang", "SweepReport", "claim", "sweep"]

_DRY_ROUNDS = 50  # a dry run rings what comes due as it rings, as the real sweep's loop would


def worker_name() -> str:
    """This process's name on its claims: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class SweepReport:
    """Everything one sweep rang, superseded, deferred or cancelled, in the order it did so."""

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
    """Ring every due rung as of `now` (the clock's time by default); a dry run writes nothing and
    reports exactly what a sweep at `now` would do."""
    now = (now or ctx.clock.now()).astimezone(UTC)
    worker = worker or worker_name()
    size = batch or ctx.settings.worker_batch
    lease = timedelta(seconds=lease_s or ctx.settings.worker_lease_s)
    report = SweepReport(now, dry_run)
    with _young_objects_collected():
        return _sweep(ctx, now, worker, size, lease, report, dry_run, max_batches)


@contextmanager
def _young_objects_collected() -> Iterator[None]:
    """While a sweep runs, the garbage collector looks only at the objects created since it began:
    a full collection otherwise walks every object of the process (its modules, caches, templates)
    whenever the batches' rows and mails pile up, a fifth of a large sweep's time. The objects
    already there are collected as before once it ends (`gc.unfreeze`). A process that froze its
    objects itself (`gc.freeze` at startup) is left as it is."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _sweep(
    ctx: Context,
    now: datetime,
    worker: str,
    size: int,
    lease: timedelta,
    report: SweepReport,
    dry_run: bool,
    max_batches: int | None,
) -> SweepReport:
    if dry_run:
        try:
            with ctx.db.transaction() as tx:
                for _ in range(_DRY_ROUNDS):
                    ids = q.due_rung_ids(tx.session, now)
                    if not ids:
                        break
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
        return q.any_due(conn, now)


def claim(ctx: Context, now: datetime, worker: str, size: int, lease: timedelta) -> list[int]:
    """Claim for `worker`, until `now + lease`, every due rung of the processes of the `size`
    oldest due rungs; return their ids."""
    # On PostgreSQL a process another worker is claiming or ringing is left to it, whole.
    postgres = ctx.db.engine.dialect.name == "postgresql"
    with ctx.db.transaction() as tx:
        return q.claim(tx.session, now, worker, size, now + lease, skip_locked=postgres)


def _ring(
    ctx: Context, tx: Tx, ids: Sequence[int], now: datetime, worker: str | None
) -> list[Rang]:
    if not ids:
        return []
    lock = worker is not None and ctx.db.engine.dialect.name == "postgresql"
    found = q.pending_rungs(tx.session, ids, claimed_by=worker, lock=lock)
    rungs = sorted(found, key=lambda r: (r.fire_at, r.id or 0))
    if not rungs:
        return []
    loaded = Batch.of(tx, rungs)
    # What the batch's mails read per process, read for all its processes together.
    languages.prime(ctx, tx, loaded.processes.values())
    mailings.prime_coordinators(tx, loaded.processes.values())
    prime_role_holders(  # escalations and step alerts go to role holders
        tx, (r.process_id for r in rungs if r.rung == ESCALATION or r.step_record_id is not None)
    )
    prime_representatives(tx, (r.process_id for r in rungs if r.rung == ESCALATION))
    by_process: dict[int, list[RungRecord]] = {}
    for rung in rungs:
        by_process.setdefault(rung.process_id, []).append(rung)
    out = []
    # The loop's reads (coordinators, IAWG members...) never depend on what the loop writes, but
    # the rungs sent earlier in the batch, which `loaded.sent` keeps: so the rows it adds are
    # flushed once, at the end, not before every read.
    with tx.session.no_autoflush:
        for process_id in sorted(by_process):
            process = loaded.processes[process_id]
            its = by_process[process_id]
            out.extend(ring_process(ctx, tx, loaded, process, its, now, dry=worker is None))
    for rung in rungs:
        rung.claimed_by = rung.claimed_until = None
    for rung in (*rungs, *loaded.added):
        if worker is not None and rung.status == SENT:
            rung.outcome = f"{rung.outcome} by {worker}"  # which worker rang it, for operators
    # The batch's next rungs, rung records, mail records and audit events are written together:
    # a statement each, not one per rung. The next rungs first, then the rungs added by catching
    # up (which get their ids), then the changes of every rung the batch read.
    q.insert_rungs(tx.session, loaded.follow)
    q.insert_added(tx.session, [r for r in loaded.added if r.id is None])
    q.update_rungs(tx.session, [*rungs, *(r for r in loaded.added if r.id is not None)])
    tx.session.flush()  # what the mails changed (a request's first Message-ID)
    loaded.mails.write(tx)  # the mails and their link tokens: a statement each for the batch
    q.record_chase_mails(
        tx.session,
        [(rung.id or 0, person_id, message_id) for rung, person_id, message_id in loaded.carried],
    )
    tx.audit_many(loaded.events)
    return out
