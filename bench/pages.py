"""Page time: the console's pages and the API's calls at 100 and 1,000 processes, through a real
`ibmflow serve`, against the bare SQL that reads the same data, in the same run.

    python bench/pages.py [--quick] [--sizes 100,1000] [--samples N] [--budget S] [--json]

Data, by bulk inserts (`sweep_data.build`): processes cloned from one the services made, 100
requests each (four in ten answered), their link tokens and rungs; then 200 audit events per process,
appended to the real hash chain. An administrator and a manager following 60 processes are made by
the services. Each size is built once into a cache folder (`ibmflow-bench-pages` in the temporary
folder, one file per size and day; `--fresh` builds again).

Timed, per page and caller, as an HTTP client sees it: the median and p95 over `--samples` requests
(fewer when a page's samples take more than `--budget` seconds, never fewer than 3), the growth
factor from the smallest size to the largest (of the medians, and of the fastest samples, which the
target reads: the least noisy on a shared machine), and the bare SQL (the stdlib `sqlite3` on the
same file) that reads what the page shows: for a list or report, the page's processes and their
count. `--quick` runs 10 and 100 processes, 5 samples each, in about a
minute once built. `--pages /search,/api/search --who administrator` times only those pages
(and calls) of that account: the two sizes then run seconds apart rather than minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import sweep_data
from sweep_data import REPO, T

from ibmflow.access import ADMINISTRATOR, MANAGER
from ibmflow.audit import AuditRecord
from ibmflow.bootstrap import bootstrap
from ibmflow.config import load_settings
from ibmflow.demo import COORDINATOR
from ibmflow.services import accounts
from ibmflow.services.context import Context
from ibmflow.services.process_list import LIST_PAGE
from ibmflow.services.reports import REPORT_PAGE
from ibmflow.storage import migrate
from ibmflow.web.api import API_LIST

DATA_VERSION = 1  # bump when the data set changes shape
EVENTS_PER_PROCESS, FOLLOWED = 200, 60
PASSWORD = "bench password, long enough"
ADMIN, MANAGER_EMAIL = "admin@bench.example", "manager@bench.example"
TARGET_P95_MS, TARGET_GROWTH = 150.0, 1.5
CACHE = Path(tempfile.gettempdir()) / "ibmflow-bench-pages"


# ------------------------------------------------------------------------------------------ the data


def data_day(now: datetime) -> datetime:
    """The data's moment: the last Wednesday before today, 09:00 UTC (a working day for every
    institution's weekend; a holiday moves it a week back, see `build`)."""
    day = now.date() - timedelta(days=1)
    while day.weekday() != 2:
        day -= timedelta(days=1)
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)


def env_of(db: Path) -> dict[str, str]:
    """The settings of a data set, as environment variables (for the builder and the server)."""
    return {
        "IBMFLOW_DATABASE_URL": f"sqlite:///{db}",
        "IBMFLOW_PATHS_DATA_DIR": str(db.with_suffix(".data") / "data"),
        "IBMFLOW_PATHS_WORKFLOWS_DIR": str(REPO / "workflows"),
        "IBMFLOW_PATHS_NOTIFICATIONS_DIR": str(REPO / "notifications"),
        "IBMFLOW_CONFIG": str(REPO / "config.toml"),
    }


def followed(n: int) -> list[str]:
    """The keys of the processes the manager follows: 60 spread over the n (all of them below 60)."""
    count = min(FOLLOWED, n)
    return [f"BENCH-{1 + i * n // count:04d}" for i in range(count)]


def _answer_some(ctx: Context) -> None:
    """Four requests in ten answered: some on time, some late (the report's responsiveness)."""
    req = T["request"]
    with ctx.db.engine.begin() as conn:
        rows = conn.execute(sa.select(req.c.id, req.c.sent_at, req.c.due_at)).all()
        updates = [
            {
                "rid": r.id,
                "at": (r.sent_at + timedelta(days=2))
                if r.id % 10 < 3
                else r.due_at + timedelta(days=3),
            }
            for r in rows
            if r.id % 10 < 4 and r.due_at is not None
        ]
        statement = (
            req.update()
            .where(req.c.id == sa.bindparam("rid"))
            .values(status="answered", answered_at=sa.bindparam("at"), answered_via="link")
        )
        if updates:
            conn.execute(statement, updates)


def _audit_events(ctx: Context, now: datetime) -> int:
    """200 events per cloned process on the real chain: a request sent, then answered or chased."""
    req = T["request"]
    with ctx.db.engine.connect() as conn:
        keys = dict(conn.execute(sa.select(T["process"].c.id, T["process"].c.key)).all())
        requests = conn.execute(
            sa.select(req.c.id, req.c.process_id, req.c.kind, req.c.institution_id)
        ).all()
    by_process: dict[int, list[Any]] = {}
    for r in requests:
        by_process.setdefault(r.process_id, []).append(r)
    written, batch = 0, []
    start = now - timedelta(days=60)
    for pid, rows in by_process.items():
        for i in range(EVENTS_PER_PROCESS):
            r = rows[i % len(rows)]
            action = "request.sent" if i < len(rows) else "rung.sent"
            batch.append(
                AuditRecord(
                    at=start + timedelta(minutes=i),
                    actor=COORDINATOR,
                    action=action,
                    process=keys[pid],
                    entity=f"request:{r.id}",
                    after={"kind": r.kind, "institution_id": r.institution_id, "n": i},
                )
            )
        if len(batch) >= 20_000:
            written += _append(ctx, batch)
    return written + _append(ctx, batch)


def _append(ctx: Context, batch: list[AuditRecord]) -> int:
    with ctx.db.transaction() as tx:
        tx.audit_many(batch)
    count = len(batch)
    batch.clear()
    return count


def build(n: int, db: Path, now: datetime) -> None:
    """The data set of n processes into `db` (built beside it, moved there when complete)."""
    partial = db.with_suffix(".partial")
    for attempt in range(4):
        for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
            leftover.unlink(missing_ok=True)
        sweep_data.NOW = now - timedelta(weeks=attempt)  # the clone and its ladder read it
        ctx = sweep_data.context(f"sqlite:///{partial}", db.with_suffix(".data"))
        try:
            sweep_data.build(ctx, db.parent, n / 1000)
            break
        except AssertionError:  # the day is a holiday somewhere: a week earlier
            ctx.db.dispose()
    else:
        raise SystemExit("no working Wednesday in the last four weeks; cannot build the data")
    _answer_some(ctx)
    _audit_events(ctx, sweep_data.NOW)
    for email, role, keys in ((ADMIN, ADMINISTRATOR, []), (MANAGER_EMAIL, MANAGER, followed(n))):
        accounts.add_user(
            ctx, email=email, name=role, role=role, password=PASSWORD, processes=keys, actor="bench"
        )
    with ctx.db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    ctx.db.dispose()
    os.replace(partial, db)


def dataset(n: int, today: date, fresh: bool) -> Path:
    """The cached data set of n processes (built first when missing or `fresh`)."""
    now = data_day(datetime.combine(today, datetime.min.time(), UTC))
    db = CACHE / f"pages-v{DATA_VERSION}-{n}-{now:%Y%m%d}.db"
    if fresh or not db.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        print(f"building {n} processes into {db} ...", file=sys.stderr, flush=True)
        build(n, db, now)
        print(f"  built in {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
    return db


# ---------------------------------------------------------------------------------------- the server


class Server:
    """`ibmflow serve` on a free port of loopback, on one data set."""

    def __init__(self, db: Path) -> None:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        command = [str(Path(sys.executable).with_name("ibmflow")), "serve"]
        self.proc = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(self.port)],
            env={**os.environ, **env_of(db)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"ibmflow serve stopped: {self.proc.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                httpx.get(f"{self.url}/login", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise SystemExit("ibmflow serve did not answer within 60 s")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def console(url: str, email: str) -> httpx.Client:
    """A client logged in to the console through its login form."""
    client = httpx.Client(base_url=url, timeout=120)
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token, "the login page has no CSRF token"
    done = client.post(
        "/login", data={"csrf_token": token.group(1), "email": email, "password": PASSWORD}
    )
    assert done.status_code == 303, f"login as {email} failed: {done.status_code}"
    return client


def api(url: str, db: Path, email: str) -> httpx.Client:
    """A client with a fresh API token of the account (made by the services)."""
    ctx = bootstrap(load_settings(environ=env_of(db)))
    token = accounts.issue_token(ctx, email, actor="bench", label="bench")
    ctx.db.dispose()
    return httpx.Client(base_url=url, timeout=120, headers={"Authorization": f"Bearer {token}"})


# ------------------------------------------------------------------------------------ bare SQL floors


def _scope(who: str) -> str:
    if who == "administrator":
        return "SELECT id FROM process"
    return (
        "SELECT process_id FROM account_process JOIN user_account u ON u.id = account_id "
        f"WHERE u.email = '{MANAGER_EMAIL}'"
    )


def bare_sql(page: str, who: str, key: str, shown: int) -> list[str]:
    """The statements that read what a page shows (`shown` processes of a list or report, and
    their count), for the bare driver."""
    scope = _scope(who)
    count = f"SELECT count(*) FROM process WHERE id IN ({scope})"
    if page == "list":
        return [
            count,
            "SELECT p.key, p.title, p.state, p.workflow_id, p.workflow_version, s.due_at "
            "FROM process p LEFT JOIN step_record s ON s.process_id = p.id AND s.left_at IS NULL "
            f"WHERE p.id IN ({scope}) ORDER BY p.id LIMIT {shown}",
        ]
    if page == "report":
        order = "id" if who == "administrator" else "key"
        shown_ids = f"SELECT id FROM process WHERE id IN ({scope}) ORDER BY {order} LIMIT {shown}"
        return [
            count,
            f"SELECT * FROM process WHERE id IN ({shown_ids})",
            f"SELECT * FROM step_record WHERE process_id IN ({shown_ids})",
            f"SELECT * FROM institution WHERE process_id IN ({shown_ids})",
            "SELECT id, process_id, kind, step, institution_id, status, sent_at, due_at, "
            f"answered_at FROM request WHERE process_id IN ({shown_ids})",
        ]
    if page == "attention":  # the overdue requests of the processes followed, and their count
        late = (
            f"FROM request r WHERE r.process_id IN ({scope}) AND r.status = 'sent' "
            "AND r.decision_id IS NULL AND r.due_at < CURRENT_TIMESTAMP"
        )
        return [
            f"SELECT count(*) {late}",
            "SELECT r.id, r.kind, r.due_at, i.name, p.key FROM request r "
            "JOIN institution i ON i.id = r.institution_id JOIN process p ON p.id = r.process_id "
            f"WHERE r.id IN (SELECT r.id {late}) ORDER BY r.due_at LIMIT 50",
        ]
    if page == "search":  # one word among processes, institutions and people
        word = "'%customs%'"
        return [
            f"SELECT key, title FROM process WHERE id IN ({scope}) AND (key LIKE {word} "
            f"OR title LIKE {word}) LIMIT 25",
            f"SELECT name, code FROM institution WHERE process_id IN ({scope}) AND "
            f"(name LIKE {word} OR code LIKE {word}) LIMIT 25",
            f"SELECT name, email FROM person WHERE process_id IN ({scope}) AND "
            f"(name LIKE {word} OR email LIKE {word}) LIMIT 25",
        ]
    one = f"(SELECT id FROM process WHERE key = '{key}')"
    if page == "process":
        tables = ("step_record", "institution", "role", "request", "decision", "document")
        return [f"SELECT * FROM process WHERE key = '{key}'"] + [
            f"SELECT * FROM {t} WHERE process_id = {one}" for t in (*tables, "person")
        ]
    if page == "audit":
        return [f"SELECT * FROM audit_event WHERE process = '{key}' ORDER BY seq"]
    return []


def time_sql(db: Path, statements: list[str], repeat: int = 5) -> float | None:
    """The median time (ms) of running the statements and fetching every row."""
    if not statements:
        return None
    conn = sqlite3.connect(db)
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        for statement in statements:
            conn.execute(statement).fetchall()
        times.append((time.perf_counter() - began) * 1000)
    conn.close()
    return statistics.median(times)


# ------------------------------------------------------------------------------------------- timing


@dataclass
class Page:
    name: str  # what the row says
    who: str  # administrator or manager
    path: str
    api: bool  # called with the bearer token
    kind: str  # its bare SQL: list, report, process, audit, attention, search or none
    shown: int = 0  # the processes a page of a list or report shows


def pages(key: str) -> list[Page]:
    """What is timed: each page and call, for the administrator and the manager."""
    rows = [Page("login page", "anyone", "/login", False, "none")]
    for who in ("administrator", "manager"):
        rows += [
            Page("/attention", who, "/attention", False, "attention"),
            Page("/search", who, "/search?q=customs", False, "search"),
            Page("/api/search", who, "/api/search?q=customs", True, "search"),
            Page("/processes?late=1", who, "/processes?late=1", False, "list", LIST_PAGE),
            Page("/processes", who, "/processes", False, "list", LIST_PAGE),
            Page("/api/processes", who, "/api/processes", True, "list", API_LIST),
            Page("process page", who, f"/p/{key}", False, "process"),
            Page("/report", who, "/report", False, "report", REPORT_PAGE),
            Page("/api/report", who, "/api/report", True, "report", REPORT_PAGE),
        ]
    rows.append(Page("audit page", "administrator", f"/p/{key}/audit", False, "audit"))
    return rows


def sample(get: Callable[[], httpx.Response], samples: int, budget: float) -> dict[str, Any]:
    """Median and p95 (ms) of a GET, after one warm-up; with the size of its answer."""
    first = get()
    assert first.status_code == 200, f"{first.request.url}: {first.status_code} {first.text[:300]}"
    times: list[float] = []
    spent = 0.0
    while len(times) < samples and (len(times) < 3 or spent < budget):
        began = time.perf_counter()
        answer = get()
        took = time.perf_counter() - began
        assert answer.status_code == 200
        times.append(took * 1000)
        spent += took
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return {
        "fastest_ms": times[0],
        "median_ms": statistics.median(times),
        "p95_ms": p95,
        "samples": len(times),
        "kb": len(first.content) / 1024,
    }


def chosen(rows: list[Page], names: str | None, who: str | None) -> list[Page]:
    """The pages named (`--pages`, their names as the table shows them, comma-separated) of the
    account named (`--who`); every page when neither is given."""
    wanted = None if names is None else {n.strip() for n in names.split(",") if n.strip()}
    unknown = (wanted or set()) - {page.name for page in rows}
    if unknown:
        raise SystemExit(f"no such page: {', '.join(sorted(unknown))}")
    return [
        page
        for page in rows
        if (wanted is None or page.name in wanted) and (who is None or page.who == who)
    ]


def measure(
    n: int,
    db: Path,
    samples: int,
    budget: float,
    names: str | None = None,
    who: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Every page chosen at one size: {"page|who": figures}."""
    key = followed(n)[0]
    server = Server(db)
    try:
        clients = {
            ("administrator", False): console(server.url, ADMIN),
            ("manager", False): console(server.url, MANAGER_EMAIL),
            ("administrator", True): api(server.url, db, ADMIN),
            ("manager", True): api(server.url, db, MANAGER_EMAIL),
            ("anyone", False): httpx.Client(base_url=server.url, timeout=60),
        }
        out = {}
        for page in chosen(pages(key), names, who):
            client = clients[page.who, page.api]
            figures = sample(lambda: client.get(page.path), samples, budget)  # noqa: B023
            figures["sql_ms"] = time_sql(db, bare_sql(page.kind, page.who, key, page.shown))
            out[f"{page.name}|{page.who}"] = figures
            print(
                f"  {n:>5} {page.name:<15} {page.who:<13} median {figures['median_ms']:8.1f} ms"
                f"  p95 {figures['p95_ms']:8.1f} ms  ({figures['samples']} samples, "
                f"{figures['kb']:.0f} KB)",
                file=sys.stderr,
                flush=True,
            )
        for client in clients.values():
            client.close()
        return out
    finally:
        server.stop()


def table(sizes: list[int], results: dict[int, dict[str, dict[str, Any]]]) -> str:
    """The figures as a Markdown table, with the growth factor and the targets."""
    small, large = sizes[0], sizes[-1]
    head = ["page", "who"]
    for n in sizes:
        head += [f"median @{n}", f"p95 @{n}"]
    head += [f"growth {small}->{large} (median / fastest)", f"bare SQL @{large}", "KB", "target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in results[large]:
        page, who = name.split("|")
        row = [page, who]
        for n in sizes:
            f = results[n][name]
            row += [f"{f['median_ms']:.1f}", f"{f['p95_ms']:.1f}"]
        big, little = results[large][name], results[small][name]
        growth = big["median_ms"] / little["median_ms"]
        steady = big["fastest_ms"] / little["fastest_ms"]  # the least noisy on a shared machine
        sql = "" if big["sql_ms"] is None else f"{big['sql_ms']:.2f}"
        met = big["p95_ms"] <= TARGET_P95_MS and steady <= TARGET_GROWTH
        row += [f"{growth:.2f}x / {steady:.2f}x", sql, f"{big['kb']:.0f}"]
        row.append("met" if met else "**missed**")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 and 100 processes, 5 samples")
    parser.add_argument("--sizes", default=None, help="process counts, e.g. 100,1000")
    parser.add_argument("--samples", type=int, default=None, help="requests per page (20)")
    parser.add_argument("--budget", type=float, default=None, help="seconds per page (15)")
    parser.add_argument("--fresh", action="store_true", help="build the data sets again")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--pages", default=None, help="only these pages, e.g. /search,/api/search (all)"
    )
    parser.add_argument(
        "--who", choices=("administrator", "manager", "anyone"), help="only this account's pages"
    )
    args = parser.parse_args()
    default_sizes = "10,100" if args.quick else "100,1000"
    sizes = sorted(int(s) for s in (args.sizes or default_sizes).split(","))
    samples = args.samples or (5 if args.quick else 20)
    budget = args.budget if args.budget is not None else (2.0 if args.quick else 15.0)
    today = datetime.now(UTC).date()
    results = {}
    for n in sizes:
        db = dataset(n, today, args.fresh)
        ctx = bootstrap(load_settings(environ=env_of(db)))
        migrate.upgrade(ctx.db)  # a data set cached before a new migration
        ctx.db.dispose()
        results[n] = measure(n, db, samples, budget, args.pages, args.who)
    if args.json:
        print(json.dumps({str(n): r for n, r in results.items()}, indent=2))
    else:
        print(table(sizes, results))


if __name__ == "__main__":
    main()
