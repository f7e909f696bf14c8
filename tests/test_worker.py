"""The worker in this process: its jobs' schedule (coalescing, one at a time, late runs forgiven),
one pass of each job, surviving a database outage, the weekly digest, and running beside the web
server in one event loop. Time is moved with time-machine, never by sleeping."""

from __future__ import annotations

import asyncio
import socket
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import time_machine
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from sqlmodel import col, select

from ibmflow.bootstrap import bootstrap
from ibmflow.demo import demo_roster_text
from ibmflow.entrypoints.worker import (
    DIGEST,
    DIGEST_GRACE,
    DIGEST_MODULE,
    DISPATCH,
    SWEEP,
    Schedule,
    Worker,
    last_slot,
    start_worker,
)
from ibmflow.services import chase, processes, records, requests, roster
from ibmflow.services.audit_log import verify_chain
from ibmflow.services.context import Context
from ibmflow.storage.tables import InstitutionRow, OutboxRow, ProcessRow, RungRow
from ibmflow.testing import FixedClock
from ibmflow.web.server import build_server

COORDINATOR = "coordinator@interior.example"
KINDS = ("self_assessment", "activity_inventory", "chapter_draft", "consultation_comments")
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
postgres_only = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def due_requests(ctx: Context, tmp_path: Path, count: int, now: datetime) -> int:
    """`count` processes with 28 requests each (4 kinds x 7 institutions), sent 9 days before
    `now` and due 5 days later: the reminder 3 days before and the due-day reminder are due at
    `now` (a sweep sends the latest, the due-day reminder, and supersedes the other), the next rung
    (overdue and escalation) a day after. The processes are in ZZ (ISO's
    user-assigned code: no public holidays) and every institution works every day, so a worker on
    the system clock finds today a working day whatever day the test runs. Returns how many rungs
    are due at `now`."""
    assert isinstance(ctx.clock, FixedClock)
    ctx.clock.at = now - timedelta(days=9)
    path = tmp_path / "roster.toml"
    path.write_text(demo_roster_text(), encoding="utf-8")
    for n in range(count):
        key = f"ZZ-W{n}"
        processes.start_process(ctx, title="Worker test", key=key, actor=COORDINATOR, country="ZZ")
        roster.import_roster(ctx, key, path, actor=COORDINATOR)
        records.appoint_coordinator(
            ctx,
            key,
            name="Karim Benali",
            email=COORDINATOR,
            authority="Head of Government",
            reference=f"Decree {n}",
            appointed_on=ctx.clock.now().date(),
            actor=COORDINATOR,
        )
        with ctx.db.transaction() as tx:  # before the requests: their due dates count every day
            process = tx.session.exec(select(ProcessRow).where(ProcessRow.key == key)).one()
            tx.session.connection().execute(
                sa.update(InstitutionRow)
                .where(col(InstitutionRow.process_id) == process.id)
                .values(weekend="")
            )
        for kind in KINDS:
            requests.send_requests(ctx, key, kind=kind, actor=COORDINATOR, due_days=5)
    ctx.clock.at = now
    with ctx.db.reading() as session:
        due = session.exec(
            select(sa.func.count()).select_from(RungRow).where(col(RungRow.fire_at) <= now)
        ).one()
        later = session.exec(
            select(sa.func.min(RungRow.fire_at)).where(col(RungRow.fire_at) > now)
        ).one()
    assert later is not None and later > now + timedelta(hours=8), later
    return int(due)


def schedule(**changes: Any) -> Schedule:
    """The default schedule, without IMAP, with some values changed."""
    base = {
        "sweep_every_s": 60,
        "dispatch_every_s": 15,
        "imap_every_s": None,
        "digest": ("mon", 7, 0),
        "lease_s": 300,
        "batch": 500,
    }
    return Schedule(**{**base, **changes})


async def until(condition: Callable[[], bool], timeout: float = 30) -> None:
    """Let the event loop run until `condition` holds (polling; the test fails on timeout)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


@pytest.fixture
def no_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    """No `ibmflow.services.digest` module: the worker runs no digest."""
    monkeypatch.setitem(sys.modules, DIGEST_MODULE, None)  # an import of it fails


@pytest.fixture
def fake_digest(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """An `ibmflow.services.digest` module whose `send_digests` records when it was called."""
    calls: list[datetime] = []
    module = types.ModuleType(DIGEST_MODULE)

    def send_digests(ctx: Context, now: datetime) -> list[str]:
        calls.append(now)
        return ["digest"]

    module.send_digests = send_digests  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, DIGEST_MODULE, module)
    return calls


# --- the schedule ----------------------------------------------------------------------------------


@sqlite_only
def test_every_job_coalesces_runs_one_at_a_time_and_forgives_a_late_run(
    ctx: Context, fake_digest: list[datetime]
) -> None:
    """Read from the real scheduler's jobs: the intervals and the digest's weekly moment."""

    async def jobs() -> dict[str, Any]:
        worker = Worker(ctx, schedule(sweep_every_s=45, imap_every_s=120, digest=("wed", 6, 30)))
        scheduler = worker.build_scheduler(T0)  # Monday: Wednesday's digest is not due yet
        with time_machine.travel(T0, tick=False):
            scheduler.start(paused=True)
        try:
            return {job.id: job for job in scheduler.get_jobs()}
        finally:
            scheduler.shutdown(wait=False)
            await asyncio.sleep(0)

    found = asyncio.run(jobs())
    assert sorted(found) == [DIGEST, DISPATCH, "imap", SWEEP]
    for job in found.values():
        assert (job.coalesce, job.max_instances) == (True, 1), job.id
        assert job.misfire_grace_time is not None and job.misfire_grace_time >= 60, job.id
    assert found[SWEEP].trigger.interval == timedelta(seconds=45)
    assert found[DISPATCH].trigger.interval == timedelta(seconds=15)
    assert found["imap"].trigger.interval == timedelta(seconds=120)
    assert found[SWEEP].next_run_time == T0  # the first sweep runs at start-up
    assert found[DIGEST].misfire_grace_time == DIGEST_GRACE.total_seconds()
    assert found[DIGEST].next_run_time == datetime(2026, 1, 7, 6, 30, tzinfo=UTC)


@sqlite_only
def test_an_hour_without_runs_is_caught_up_by_one_run_of_each_job(
    ctx: Context, fake_digest: list[datetime]
) -> None:
    """The loop stalls (or the machine sleeps) for an hour: 60 sweeps and 240 dispatches were
    missed, and each job runs once when the scheduler wakes, then keeps its interval. (The digest,
    due two hours before T0, runs once at start-up.)"""
    events: list[JobExecutionEvent] = []

    async def scenario() -> None:
        with time_machine.travel(T0, tick=False) as traveller:
            worker = Worker(ctx, schedule())
            await worker.start()
            worker.scheduler.add_listener(events.append, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
            await until(lambda: len(events) == 3)  # the first run of each, at start-up
            traveller.shift(timedelta(hours=1, seconds=10))
            worker.scheduler.wakeup()
            await until(lambda: len(events) == 5)
            await asyncio.sleep(0.2)  # were it not coalesced, more runs would come now
            assert worker.runs == {SWEEP: 2, DISPATCH: 2, DIGEST: 1}
            assert worker.scheduler.get_job(SWEEP).next_run_time == T0 + timedelta(
                hours=1, minutes=1
            )
            await worker.stop()

    asyncio.run(scenario())
    assert [e.code for e in events] == [EVENT_JOB_EXECUTED] * 5
    caught_up = sorted((e.job_id, e.scheduled_run_time) for e in events[3:])
    assert caught_up == [
        (DISPATCH, T0 + timedelta(hours=1)),  # the latest missed run only
        (SWEEP, T0 + timedelta(hours=1)),
    ]


def test_the_digests_last_moment_is_the_latest_at_or_before_now() -> None:
    monday_seven = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
    assert last_slot(monday_seven, ("mon", 7, 0)) == monday_seven
    assert last_slot(
        monday_seven - timedelta(seconds=1), ("mon", 7, 0)
    ) == monday_seven - timedelta(days=7)
    assert last_slot(datetime(2026, 1, 8, 12, 0, tzinfo=UTC), ("wed", 23, 59)) == datetime(
        2026, 1, 7, 23, 59, tzinfo=UTC
    )


@sqlite_only
@pytest.mark.parametrize(
    ("started", "due_now"),
    [
        (datetime(2026, 1, 5, 7, 0, tzinfo=UTC), True),  # at the moment itself
        (datetime(2026, 1, 6, 6, 59, tzinfo=UTC), True),  # restarted less than a day late
        (datetime(2026, 1, 6, 7, 1, tzinfo=UTC), False),  # more than a day late: next week's
        (datetime(2026, 1, 5, 6, 59, tzinfo=UTC), False),  # a minute early: at 07:00
    ],
)
def test_a_worker_started_less_than_a_day_after_the_digest_moment_sends_it_at_once(
    ctx: Context, fake_digest: list[datetime], started: datetime, due_now: bool
) -> None:
    async def next_digest() -> datetime:
        scheduler = Worker(ctx, schedule()).build_scheduler(started)
        with time_machine.travel(started, tick=False):
            scheduler.start(paused=True)
        moment: datetime = scheduler.get_job(DIGEST).next_run_time
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)
        return moment

    moment = asyncio.run(next_digest())
    if due_now:
        assert moment == started
    else:
        assert moment > started and moment.weekday() == 0 and (moment.hour, moment.minute) == (7, 0)


@sqlite_only
def test_without_the_digest_module_the_worker_runs_no_digest(ctx: Context, no_digest: None) -> None:
    worker = Worker(ctx, schedule())
    assert worker.send_digests is None
    assert DIGEST not in worker.passes()
    assert "digest off" in worker.describe()


@sqlite_only
def test_the_digest_job_sends_each_weeks_digests_once(
    ctx: Context, tmp_path: Path, clock: FixedClock
) -> None:
    """With the real `send_digests` (issue 4's digest, on its own branch until merged): the demo's
    manager gets a digest of the overdue requests; a second worker, or a worker restarted at the
    same moment, sends nothing more that week."""
    pytest.importorskip(DIGEST_MODULE)
    now = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)  # Monday, 30 minutes after the digest moment
    due_requests(ctx, tmp_path, 1, now)
    first = Worker(ctx, schedule(), name="first:1")
    assert first.send_digests is not None and DIGEST in first.passes()
    assert asyncio.run(first.run_job(DIGEST)) not in (None, "0 sent")
    again = Worker(ctx, schedule(), name="second:2")
    assert asyncio.run(again.run_job(DIGEST)) == "0 sent"
    assert first.failures == again.failures == {}
    assert verify_chain(ctx).ok


# --- one pass of each job --------------------------------------------------------------------------


@sqlite_only
def test_once_rings_every_due_rung_and_delivers_its_mails(
    ctx: Context, tmp_path: Path, clock: FixedClock, fake_digest: list[datetime]
) -> None:
    """Batches of 7 rungs: the sweep takes several transactions, and the dispatch several passes."""
    now = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)  # Monday: the digest moment passed 30 min ago
    due = due_requests(ctx, tmp_path, 1, now)
    assert due == 56
    worker = Worker(ctx, schedule(batch=7), name="tester:1")
    results = asyncio.run(worker.run_once())
    assert results == {
        SWEEP: "28 sent, 28 superseded, 0 deferred, 0 cancelled",
        # 32 requests (Customs has two focal points), then one reminder mail to each of the 8
        # people, listing their institution's 4 requests
        DISPATCH: "claimed 40, sent 40, deferred 0, failed 0",
        DIGEST: "1 sent",
    }
    assert fake_digest == [now]
    with ctx.db.reading() as session:
        rungs = session.exec(
            select(RungRow.status, RungRow.outcome).where(col(RungRow.fire_at) <= now)
        ).all()
        reminders = session.exec(
            select(OutboxRow.id, OutboxRow.status).where(col(OutboxRow.dedupe_key).is_not(None))
        ).all()
    assert set(rungs) == {
        ("sent", "sent to 1 by tester:1"),
        ("sent", "sent to 2 by tester:1"),
        ("skipped", "superseded by due"),
    }
    assert len(reminders) == 8 and {status for _, status in reminders} == {"sent"}
    mailbox = {p.name for p in ctx.settings.mailbox_dir.glob("*.eml")}
    assert {f"{outbox_id}.eml" for outbox_id, _ in reminders} <= mailbox
    assert verify_chain(ctx).ok


@sqlite_only
def test_once_runs_the_digest_only_when_its_moment_passed_less_than_a_day_ago(
    ctx: Context, clock: FixedClock, fake_digest: list[datetime]
) -> None:
    clock.at = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)  # Wednesday
    assert set(asyncio.run(Worker(ctx, schedule()).run_once())) == {SWEEP, DISPATCH}
    assert fake_digest == []


@postgres_only
def test_a_sweep_leaves_the_processes_another_worker_holds_and_claims_the_others(
    ctx: Context, tmp_path: Path
) -> None:
    """On PostgreSQL, while another worker holds a process (claiming or ringing it: its row
    locked), a sweep whose oldest due rungs are all that process's claims and rings the other
    processes' rungs instead of ending with nothing claimed; the held process keeps its rungs,
    which the next sweep rings once it is free."""
    now = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
    assert due_requests(ctx, tmp_path, 3, now) == 3 * 56  # ZZ-W0's rungs are the oldest
    with ctx.db.engine.connect() as other:  # the other worker, in its transaction
        other.execute(
            select(ProcessRow.id).where(ProcessRow.key == "ZZ-W0").with_for_update()
        ).one()
        report = chase.sweep(ctx, now=now, worker="tester:2", batch=20)
        held = sa.select(ProcessRow.id).where(ProcessRow.key == "ZZ-W0").scalar_subquery()
        with ctx.db.reading() as session:
            untouched = session.exec(
                select(sa.func.count())
                .select_from(RungRow)
                .where(
                    RungRow.process_id == held,
                    RungRow.status == "pending",
                    col(RungRow.claimed_by).is_(None),
                    col(RungRow.fire_at) <= now,
                )
            ).one()
        other.rollback()
    assert {r.process for r in report.rungs} == {"ZZ-W1", "ZZ-W2"}
    assert len(report.rungs) == 2 * 56 and untouched == 56
    later = chase.sweep(ctx, now=now, worker="tester:2", batch=20)
    assert {r.process for r in later.rungs} == {"ZZ-W0"} and len(later.rungs) == 56


@sqlite_only
def test_a_locked_database_fails_one_sweep_and_the_next_run_sends(
    ctx: Context, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another program holds the SQLite write lock longer than the busy timeout: the sweep fails,
    is logged, and the worker keeps going; once the lock is released the next run sends."""
    now = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    due = due_requests(ctx, tmp_path, 1, now)
    impatient = bootstrap(replace(ctx.settings, sqlite_busy_timeout_ms=200), clock=ctx.clock)
    worker = Worker(impatient, schedule())
    blocker = sa.create_engine(ctx.settings.database_url, connect_args={"isolation_level": None})
    try:
        with blocker.connect() as conn:
            conn.exec_driver_sql("BEGIN EXCLUSIVE")
            failed = asyncio.run(worker.run_job(SWEEP))
            conn.exec_driver_sql("ROLLBACK")
        assert failed is None and worker.failures[SWEEP] == 1
        assert "sweep failed" in caplog.text and "retrying at its next run" in caplog.text
        assert asyncio.run(worker.run_job(SWEEP)) == (
            f"{due // 2} sent, {due // 2} superseded, 0 deferred, 0 cancelled"
        )
    finally:
        blocker.dispose()
        impatient.db.dispose()


# --- beside the web server -------------------------------------------------------------------------


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


@sqlite_only
def test_the_worker_runs_beside_the_web_server_in_one_event_loop(
    ctx: Context, tmp_path: Path, listening: socket.socket, no_digest: None
) -> None:
    """The quick start's arrangement: the server answers while the worker sweeps and dispatches."""
    now = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    due = due_requests(ctx, tmp_path, 1, now)

    async def scenario() -> Worker:
        worker = await start_worker(ctx, schedule(batch=5))
        server = build_server(ctx, host="127.0.0.1", port=0, log_config=None)
        serving = asyncio.create_task(server.serve(sockets=[listening]))
        await until(lambda: server.started)
        url = f"http://127.0.0.1:{listening.getsockname()[1]}/healthz"
        statuses = []
        async with httpx.AsyncClient(timeout=10) as client:
            while worker.runs[SWEEP] == 0 or worker.runs[DISPATCH] == 0:
                statuses.append((await client.get(url)).status_code)
                await asyncio.sleep(0.01)
        server.should_exit = True
        await serving
        await worker.stop()
        assert statuses and set(statuses) == {200}
        return worker

    worker = asyncio.run(scenario())
    assert worker.failures == {} and worker.scheduler is None
    with ctx.db.reading() as session:
        sent = session.exec(
            select(sa.func.count()).select_from(RungRow).where(RungRow.status == "sent")
        ).one()
    assert sent == due // 2  # the due-day reminders; the reminders 3 days before, superseded
