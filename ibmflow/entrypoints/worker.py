"""The worker: APScheduler rings the sweep, the outbox dispatch, the IMAP poll, the weekly digest and
the full verification of the audit chain.

The due dates live in the database; the scheduler only rings the bell. Every job is an interval or
cron job with `coalesce`, `max_instances=1` and a `misfire_grace_time`: a worker whose loop stalled
or whose machine slept runs each missed job once, not once per missed run. A job that fails (a
database or SMTP outage) is logged and retried at its next run; the worker keeps going.

`ibmflow worker` runs one on its own; `start_worker` runs one beside the web server in the same
event loop. Synchronous work (the sweep, the IMAP poll, the digest, the dispatcher's database calls)
runs in threads, so the loop stays free for the web server.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

from ibmflow.config import Settings
from ibmflow.errors import IbmflowError
from ibmflow.mail.transport import Transport
from ibmflow.services import chase
from ibmflow.services.audit_log import verify_chain
from ibmflow.services.context import Context
from ibmflow.services.deadlines import CANCELLED, SENT
from ibmflow.services.dispatch import DispatchReport, build_transport, dispatch_once
from ibmflow.storage import migrate

log = logging.getLogger("ibmflow.worker")

SWEEP, DISPATCH, IMAP, DIGEST, AUDIT = "sweep", "dispatch", "imap", "digest", "audit"
DIGEST_MODULE = "ibmflow.services.digest"
# A digest more than a day late is skipped (next week's comes); an interval job may be late by up
# to its interval (after coalescing, the latest missed run is never later than that).
DIGEST_GRACE = timedelta(days=1)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

DigestFunction = Callable[[Context, datetime], Sequence[object]]
Done = tuple[int, str]  # what a pass did: how many things (0: nothing to do), and in words


def digest_function() -> DigestFunction | None:
    """`ibmflow.services.digest.send_digests` when that module exists, else None."""
    try:
        module = importlib.import_module(DIGEST_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != DIGEST_MODULE:
            raise  # the module exists but something it imports is missing: say so
        return None
    send: DigestFunction = module.send_digests
    return send


def last_slot(now: datetime, weekly: tuple[str, int, int]) -> datetime:
    """The latest weekly moment (weekday, UTC hour, minute) at or before `now`."""
    day, hour, minute = weekly
    moment = now.astimezone(UTC).replace(hour=hour, minute=minute, second=0, microsecond=0)
    moment -= timedelta(days=(moment.weekday() - WEEKDAYS.index(day)) % 7)
    return moment if moment <= now else moment - timedelta(days=7)


@dataclass(frozen=True)
class Schedule:
    """What the worker runs, and how often (from the worker.* and imap.* settings)."""

    sweep_every_s: int
    dispatch_every_s: int
    imap_every_s: int | None  # None: no IMAP mailbox configured
    digest: tuple[str, int, int]
    lease_s: int
    batch: int
    audit_verify_every_s: int | None = None  # None: the worker never verifies the whole chain

    @classmethod
    def of(
        cls,
        settings: Settings,
        *,
        sweep_every_s: int | None = None,
        dispatch_every_s: int | None = None,
    ) -> Schedule:
        """The configured schedule, with the command line's overrides."""
        return cls(
            sweep_every_s=sweep_every_s or settings.worker_sweep_every_s,
            dispatch_every_s=dispatch_every_s or settings.worker_dispatch_every_s,
            imap_every_s=settings.imap_poll_s if settings.imap_host else None,
            digest=settings.worker_digest,
            lease_s=settings.worker_lease_s,
            batch=settings.worker_batch,
            audit_verify_every_s=settings.worker_audit_verify_every_s or None,
        )


class Worker:
    """The jobs of one worker and the scheduler that runs them."""

    def __init__(
        self,
        ctx: Context,
        schedule: Schedule | None = None,
        *,
        transport: Transport | None = None,
        name: str | None = None,
    ) -> None:
        self.ctx = ctx
        self.schedule = schedule or Schedule.of(ctx.settings)
        self.transport = transport or build_transport(ctx.settings)
        self.name = name or chase.worker_name()
        self.send_digests = digest_function()
        self.runs: Counter[str] = Counter()  # passes completed, by job
        self.failures: Counter[str] = Counter()  # passes that raised, by job
        self.scheduler: AsyncIOScheduler | None = None
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._stopping = False

    # ------------------------------------------------------------------------------- the passes

    def sweep_pass(self) -> Done:
        """Ring every due rung, a batch per transaction, stopping between batches when told to."""
        sent = superseded = deferred = cancelled = 0
        while not self._stopping:
            report = chase.sweep(
                self.ctx,
                worker=self.name,
                batch=self.schedule.batch,
                lease_s=self.schedule.lease_s,
                max_batches=1,
            )
            if not report.rungs:
                break
            sent += report.count(SENT)
            superseded += report.count(chase.SUPERSEDED)
            deferred += report.count(chase.DEFERRED)
            cancelled += report.count(CANCELLED)
        return (
            sent + superseded + deferred + cancelled,
            f"{sent} sent, {superseded} superseded, {deferred} deferred, {cancelled} cancelled",
        )

    def dispatch_pass(self) -> Done:
        """Write the quarantine alerts that are due, then send every due mail of the outbox (in
        this thread's own event loop: its database calls are synchronous, and must not hold up the
        loop the web server may share); when told to stop, after the mail in hand."""
        return asyncio.run(self._dispatch_all())

    async def _dispatch_all(self) -> Done:
        total = DispatchReport()
        while not self._stopping:
            report = await dispatch_once(
                self.ctx, self.transport, worker_id=self.name, stop=lambda: self._stopping
            )
            for outcome in ("claimed", "sent", "deferred", "failed", "skipped"):
                getattr(total, outcome).extend(getattr(report, outcome))
            if len(report.skipped) == len(report.claimed):  # nothing claimed, or nothing ours
                break
        return len(total.claimed), total.summary()

    def imap_pass(self) -> Done:
        """Receive the unread replies of the IMAP mailbox."""
        from ibmflow.entrypoints.imap import poll_once

        received = poll_once(self.ctx)
        return received, f"{received} received"

    def digest_pass(self) -> Done:
        """Send the weekly digests to the managers."""
        if self.send_digests is None:
            return 0, f"skipped: {DIGEST_MODULE} is not installed"
        sent = len(self.send_digests(self.ctx, self.ctx.clock.now()))
        return sent, f"{sent} sent"

    def audit_pass(self) -> Done:
        """Verify the whole audit chain from its first event and keep the result (the checkpoint
        the console's audit page goes on from); a broken chain is logged as an error."""
        result = verify_chain(self.ctx)
        if not result.ok:
            log.error("the audit chain is broken: %s", result.problem)
            return result.checked, f"BROKEN: {result.problem}"
        return result.checked, f"{result.checked} events intact, head #{result.head_seq}"

    def passes(self) -> dict[str, Callable[[], Done]]:
        """The jobs this worker runs, by name, in the order `--once` runs them."""
        jobs: dict[str, Callable[[], Done]] = {SWEEP: self.sweep_pass, DISPATCH: self.dispatch_pass}
        if self.schedule.imap_every_s is not None:
            jobs[IMAP] = self.imap_pass
        if self.send_digests is not None:
            jobs[DIGEST] = self.digest_pass
        if self.schedule.audit_verify_every_s is not None:
            jobs[AUDIT] = self.audit_pass
        return jobs

    async def run_job(self, name: str) -> str | None:
        """Run one pass in a thread; log what it did, or why it failed (then it is retried at
        the next run). Returns the summary, or None when it failed or the worker is stopping."""
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            if self._stopping:
                return None
            done, summary = await asyncio.to_thread(self.passes()[name])
        except IbmflowError as exc:
            self.failures[name] += 1
            log.warning("%s failed: %s; retrying at its next run", name, exc.message)
            return None
        except Exception:
            # Any other failure (a dropped database connection, a full disk...) must not stop the
            # worker either: the next run retries, and the traceback tells the operator why.
            self.failures[name] += 1
            log.exception("%s failed; retrying at its next run", name)
            return None
        finally:
            if task is not None:
                self._in_flight.discard(task)
        self.runs[name] += 1
        log.log(logging.INFO if done else logging.DEBUG, "%s: %s", name, summary)
        return summary

    # -------------------------------------------------------------------------- the scheduler

    def digest_due(self, now: datetime) -> bool:
        """The weekly digest moment passed less than DIGEST_GRACE ago (so it is caught up)."""
        return now - last_slot(now, self.schedule.digest) < DIGEST_GRACE

    def build_scheduler(self, now: datetime) -> AsyncIOScheduler:
        """The scheduler and its jobs; the interval jobs run first at `now`, as does a digest
        whose moment passed less than DIGEST_GRACE ago (a worker restarted after downtime)."""
        scheduler = AsyncIOScheduler(timezone=UTC)
        s = self.schedule
        every = {SWEEP: s.sweep_every_s, DISPATCH: s.dispatch_every_s}
        if s.imap_every_s is not None:
            every[IMAP] = s.imap_every_s
        if s.audit_verify_every_s is not None:
            every[AUDIT] = s.audit_verify_every_s
        for name, seconds in every.items():
            scheduler.add_job(
                self.run_job,
                IntervalTrigger(seconds=seconds, timezone=UTC),
                args=[name],
                id=name,
                name=name,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=max(seconds, 60),
                next_run_time=now,
            )
        if self.send_digests is not None:
            day, hour, minute = s.digest
            scheduler.add_job(
                self.run_job,
                CronTrigger(day_of_week=day, hour=hour, minute=minute, timezone=UTC),
                args=[DIGEST],
                id=DIGEST,
                name=DIGEST,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=int(DIGEST_GRACE.total_seconds()),
                **({"next_run_time": now} if self.digest_due(now) else {}),
            )
        return scheduler

    def describe(self) -> str:
        """One line: what runs and how often."""
        s = self.schedule
        day, hour, minute = s.digest
        parts = [
            f"sweep every {s.sweep_every_s} s (batches of {s.batch}, lease {s.lease_s} s)",
            f"dispatch every {s.dispatch_every_s} s via {type(self.transport).__name__}",
            f"IMAP poll every {s.imap_every_s} s" if s.imap_every_s else "IMAP poll off",
            f"digest {day} {hour:02d}:{minute:02d} UTC"
            if self.send_digests
            else f"digest off ({DIGEST_MODULE} not installed)",
            f"audit chain verified every {s.audit_verify_every_s} s"
            if s.audit_verify_every_s
            else "audit chain verification off",
        ]
        return f"worker {self.name}: " + "; ".join(parts)

    async def start(self) -> None:
        """Check the schema, then start the jobs (the first runs at once)."""
        await asyncio.to_thread(migrate.ensure_ready, self.ctx.db)
        self._stopping = False
        self.scheduler = self.build_scheduler(datetime.now(UTC))
        self.scheduler.start()
        log.info("%s", self.describe())

    async def stop(self) -> None:
        """No new runs; let the jobs in hand finish (a sweep ends after its current batch), then
        shut the scheduler down."""
        self._stopping = True
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.pause()
        await asyncio.gather(*self._in_flight, return_exceptions=True)
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=True)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down in a callback on the loop
        self.scheduler = None
        log.info("worker %s stopped", self.name)

    async def run_once(self) -> dict[str, str | None]:
        """Each job once, one after the other (the digest only when due); their summaries."""
        await asyncio.to_thread(migrate.ensure_ready, self.ctx.db)
        now = self.ctx.clock.now()
        names = [n for n in self.passes() if n != DIGEST or self.digest_due(now)]
        return {name: await self.run_job(name) for name in names}


async def start_worker(
    ctx: Context, schedule: Schedule | None = None, *, transport: Transport | None = None
) -> Worker:
    """A worker running in the current event loop (e.g. beside the web server) until
    `await worker.stop()`."""
    worker = Worker(ctx, schedule, transport=transport)
    await worker.start()
    return worker
