"""Workers as real OS processes on a real SQLite file and on the machine's PostgreSQL: two at once
send every due rung exactly once between them; one killed (SIGKILL) between claiming and ringing
leaves its claims to be taken up after the lease; SIGTERM lets the job in hand finish, exit 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col, select
from test_worker import due_requests

from ibmflow.services import chase
from ibmflow.services.audit_log import verify_chain
from ibmflow.services.context import Context
from ibmflow.storage.tables import AuditEventRow, ChaseMailRow, OutboxRow, RungRow

IBMFLOW = str(Path(sys.executable).parent / "ibmflow")
pytestmark = pytest.mark.slow
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def spawn(env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start `ibmflow worker` processes (small batches, a sweep and a dispatch every second), each
    logging to its own file; any still running at the end is killed."""
    started: list[subprocess.Popen[str]] = []

    def start(name: str, batch: int = 20) -> subprocess.Popen[str]:
        environ = {
            **os.environ,
            **env,
            "IBMFLOW_WORKER_BATCH": str(batch),
            "IBMFLOW_WORKER_SWEEP_EVERY_S": "1",
            "IBMFLOW_WORKER_DISPATCH_EVERY_S": "1",
        }
        log = (tmp_path / f"{name}.log").open("w", encoding="utf-8")
        proc = subprocess.Popen(
            [IBMFLOW, "worker"], env=environ, cwd=tmp_path, stdout=log, stderr=log, text=True
        )
        log.close()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 240) -> None:
    """Poll the database until `condition` holds (the workers run on their own clocks)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.2)


def count(ctx: Context, query: sa.Select[tuple[int]]) -> int:
    with ctx.db.reading() as session:
        return int(session.exec(query).one())  # type: ignore[call-overload]


def pending_due(ctx: Context, at: datetime) -> sa.Select[tuple[int]]:
    return (
        select(sa.func.count())
        .select_from(RungRow)
        .where(RungRow.status == "pending", col(RungRow.fire_at) <= at)
    )


PENDING_MAIL = select(sa.func.count()).select_from(OutboxRow).where(OutboxRow.status == "pending")


def stop(proc: subprocess.Popen[str], log: Path) -> str:
    """SIGTERM, then the exit code must be 0; returns the worker's log."""
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=120)
    text = log.read_text(encoding="utf-8")
    assert code == 0, text
    return text


def test_two_worker_processes_send_every_due_rung_exactly_once(
    ctx: Context, env: dict[str, str], tmp_path: Path, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    """280 requests, 560 rungs due (the due-day reminder and the one 3 days before each, of which
    the latter is superseded), two workers taking the due rungs of a process a transaction: every
    rung is rung or superseded once, by one of them (on PostgreSQL both of them did some), every
    mail went out once, and each person got one mail per process."""
    start = datetime.now(UTC)
    due = due_requests(ctx, tmp_path, 10, start)
    assert due == 560
    # The rungs ring only once both workers are up, so that they race for them.
    later = start + timedelta(days=365)
    with ctx.db.transaction() as tx:
        tx.session.execute(
            sa.update(RungRow).where(col(RungRow.fire_at) <= start).values(fire_at=later)
        )
    # Batches of 60 rungs: more than one process's 56, so that the second worker's first claim
    # reaches a process the first one does not hold (a claim that finds only held processes ends
    # that worker's sweep until its next turn).
    workers = {name: spawn(name, batch=60) for name in ("one", "two")}
    wait_for(
        lambda: all("sweep every" in (tmp_path / f"{n}.log").read_text() for n in workers),
        "both workers started",
    )
    release = sa.update(RungRow).where(col(RungRow.fire_at) == later).values(fire_at=start)
    if ctx.db.engine.dialect.name == "postgresql":
        # Both start together: the rungs come due under a lock that holds both workers' next
        # sweeps at their claim, and both go on when it is released. (Released while one worker
        # sleeps, the other rang every rung alone before it woke: a sweep is that fast now.)
        with ctx.db.engine.begin() as conn:
            conn.execute(sa.text("LOCK TABLE rung IN ACCESS EXCLUSIVE MODE"))
            conn.execute(release)
            time.sleep(2.5)  # each worker sweeps every second: both are waiting now
    else:
        with ctx.db.transaction() as tx:
            tx.session.execute(release)
    wait_for(
        lambda: count(ctx, pending_due(ctx, start)) == 0 and count(ctx, PENDING_MAIL) == 0,
        "every due rung is sent and every mail delivered",
    )
    for name, proc in workers.items():
        log = stop(proc, tmp_path / f"{name}.log")
        assert "Traceback" not in log, log

    with ctx.db.reading() as session:
        rungs = session.exec(
            select(RungRow.id, RungRow.key, RungRow.status, RungRow.outcome).where(
                col(RungRow.fire_at) <= start
            )
        ).all()
        mails = session.exec(
            select(OutboxRow.dedupe_key, OutboxRow.id, OutboxRow.status, OutboxRow.to_addrs)
        ).all()
        carried = session.exec(select(ChaseMailRow.rung_id, ChaseMailRow.message_id)).all()
        events = session.exec(
            select(AuditEventRow.entity, AuditEventRow.after_json).where(
                AuditEventRow.action == "chase.reminder"
            )
        ).all()
    assert len(rungs) == due
    assert Counter(status for _, _, status, _ in rungs) == {"sent": due // 2, "skipped": due // 2}
    sent = [(rung_id, outcome) for rung_id, _, status, outcome in rungs if status == "sent"]
    # "sent to 2 by host:4242": each worker rang some of them
    by_worker = Counter(outcome.rsplit(":", 1)[1] for _, outcome in sent if outcome)
    assert set(by_worker) <= {str(proc.pid) for proc in workers.values()}, by_worker
    assert sum(by_worker.values()) == due // 2
    if ctx.db.engine.dialect.name == "postgresql":
        # SKIP LOCKED lets both claim at once. SQLite takes one writer at a time and the one that
        # just committed often takes the lock again first, so there one worker may do it all.
        assert len(by_worker) == 2 and min(by_worker.values()) > 0, by_worker
    # each sent rung reached each of its people once (`chase_mail`), one mail per person per
    # process: 8 people in each of the 10 processes (Customs has two focal points)
    per_rung = Counter(rung_id for rung_id, _ in carried)
    for rung_id, outcome in sent:
        assert outcome is not None
        assert per_rung[rung_id] == int(outcome.split()[2]), (rung_id, outcome)
    reminders = [m for m in mails if m[0] and m[0].startswith("request:")]
    assert len(reminders) == 8 * 10 == len({message_id for _, message_id in carried})
    assert all(len(to) == 1 for key, _, _, to in reminders)
    # one audit event per rung, and every mail delivered once to the shared mailbox
    assert len(events) == due // 2 == len(set(events))
    assert {status for _, _, status, _ in mails} == {"sent"}
    mailbox = sorted(ctx.settings.mailbox_dir.glob("*.eml"))
    assert len(mailbox) == len(mails)
    verified = subprocess.run(
        [IBMFLOW, "audit", "verify"],
        env={**os.environ, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


CLAIM_THEN_DIE = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import datetime
    from ibmflow.bootstrap import bootstrap
    from ibmflow.config import load_settings
    from ibmflow.services import chase

    claim = chase.claim

    def claim_then_die(*args, **kwargs):
        ids = claim(*args, **kwargs)
        print(chase.worker_name(), ",".join(map(str, ids)), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # after the claim's commit, before the ringing

    chase.claim = claim_then_die
    chase.sweep(bootstrap(load_settings()), now=datetime.fromisoformat(sys.argv[1]), batch=20)
    """
)


def test_a_worker_killed_between_claim_and_ring_leaves_its_rungs_to_the_lease(
    ctx: Context, env: dict[str, str], tmp_path: Path
) -> None:
    """Two processes of 56 due rungs each. The killed worker claimed the due rungs of the first
    (a claim takes whole processes, so that their people get one mail): they stay pending through a
    sweep within the lease (which rings the second process's), and are rung, once, by the first
    sweep after it: half of them sent, half superseded."""
    now = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    due = due_requests(ctx, tmp_path, 2, now)
    killed = subprocess.run(
        [sys.executable, "-c", CLAIM_THEN_DIE, now.isoformat()],
        env={**os.environ, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    doomed, ids = killed.stdout.split()
    claimed = {int(i) for i in ids.split(",")}
    assert len(claimed) == due // 2
    lease = timedelta(seconds=ctx.settings.worker_lease_s)

    within = chase.sweep(ctx, now=now + lease - timedelta(seconds=1), worker="survivor:1")
    assert within.count("sent") == within.count("superseded") == due // 4
    with ctx.db.reading() as session:
        held = session.exec(
            select(RungRow.id, RungRow.status, RungRow.claimed_by).where(
                col(RungRow.id).in_(claimed)
            )
        ).all()
    assert {(status, by) for _, status, by in held} == {("pending", doomed)}

    after = chase.sweep(ctx, now=now + lease + timedelta(seconds=1), worker="survivor:1")
    assert after.count("sent") == due // 4 and len(after.rungs) == due // 2
    assert chase.sweep(ctx, now=now + lease + timedelta(seconds=2)).rungs == []
    with ctx.db.reading() as session:
        statuses = session.exec(select(RungRow.status).where(col(RungRow.fire_at) <= now)).all()
        reminders = session.exec(
            select(sa.func.count())
            .select_from(AuditEventRow)
            .where(AuditEventRow.action == "chase.reminder")
        ).one()
    assert set(statuses) == {"sent", "skipped"} and reminders == due // 2
    assert verify_chain(ctx).ok


@sqlite_only
def test_sigterm_lets_the_sweep_finish_its_batch_and_exits_zero(
    ctx: Context, tmp_path: Path, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    """Stopped in the middle of a 560-rung backlog, 5 rungs a batch: the batch in hand is rung and
    its claims released (none left for the lease), the rest waits for the next worker; exit 0."""
    start = datetime.now(UTC)
    due = due_requests(ctx, tmp_path, 10, start)
    proc = spawn("alone", batch=5)
    sent = select(sa.func.count()).select_from(RungRow).where(RungRow.status == "sent")
    wait_for(lambda: count(ctx, sent) > 0, "the worker has sent some rungs")
    log = stop(proc, tmp_path / "alone.log")
    assert "stopping: letting the job in hand finish" in log and "stopped" in log
    with ctx.db.reading() as session:
        claimed = session.exec(
            select(sa.func.count())
            .select_from(RungRow)
            .where(col(RungRow.claimed_until).is_not(None))
        ).one()
    assert claimed == 0
    assert 0 < count(ctx, sent) < due
    assert verify_chain(ctx).ok
