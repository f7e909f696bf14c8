"""Sweep time: one sweep over 100,000 open requests against two bare-SQL floors, in the same run.

    python bench/sweep.py [--scale S] [--db sqlite|postgres|both] [--profile] [--keep] [--json]

Data, by bulk inserts (not the services): 1,000 processes cloned from one the services made (start,
demo roster, coordinator), 100 open requests each, with the link tokens of their first mails and the
rungs the ladder planned. 10% of the requests have a rung ringing now: 70% of those on their due day
(the due-day reminder), 10% five working days overdue (overdue:5 and the escalation), 20% ten days
overdue (overdue:10); their earlier rungs are sent. The others are due in 4 to 19 working days.
About 11,000 rungs are due; `--scale 0.1` makes 100 processes and about 1,100.

Timed on a real SQLite file (WAL, synchronous=FULL) and on a fresh database of the machine's
PostgreSQL: one `chase.sweep` ringing every due rung, then a repeated sweep with nothing to do.
Floors, with the bare driver (sqlite3, psycopg) on the same database in the same run: (a) select the
due rungs and insert one outbox-like row per rung into a scratch table, in one transaction; (b) the
select alone. Targets: sweep <= 3x floor (a); repeated sweep <= 1.5x floor (b). The fair floor: the
statements the sweep executed, captured and replayed with the bare driver on a copy of the database
taken just before it (bench/capture.py). Target: sweep <= 3x it on SQLite, <= 2x on PostgreSQL.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from capture import Capture, replay_postgres, replay_sqlite, sqlite_copy, sqlite_differences
from sweep_data import NOW, PER_PROCESS, SPARE_NOW, T, build, context

from ibmflow import i18n
from ibmflow.services import chase, mailings
from ibmflow.services.context import Context

PG_ADMIN = os.environ.get("IBMFLOW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TARGET_SWEEP, TARGET_REPEAT = 3.0, 1.5
TARGET_FAIR = {"sqlite": 3.0, "postgres": 2.0}  # sweep <= this x its fair floor
SPARE = 2  # processes of their own for the warm-up sweep (`warm_up`)

# ----------------------------------------------------------------------------------------- the floors

SCRATCH = (
    "CREATE TABLE IF NOT EXISTS bench_outbox (id {serial} PRIMARY KEY, rung_id INTEGER NOT NULL, "
    "dedupe_key VARCHAR(200) NOT NULL UNIQUE, to_addrs TEXT NOT NULL, subject TEXT NOT NULL, "
    "text_body TEXT NOT NULL, created_at {stamp} NOT NULL)"
)
DUE = (
    "SELECT id, key FROM rung WHERE status = 'pending' AND fire_at <= {p} "
    "AND (claimed_until IS NULL OR claimed_until < {p}) ORDER BY fire_at, id"
)
INSERT = (
    "INSERT INTO bench_outbox (rung_id, dedupe_key, to_addrs, subject, text_body, created_at) "
    "VALUES ({p}, {p}, {p}, {p}, {p}, {p})"
)
BODY = "A reminder of the request, as long as a short mail. " * 20  # 1,060 characters


class Floor:
    """The bare driver on the same database: the least the sweep's select and inserts can cost."""

    def __init__(self, ctx: Context) -> None:
        self.sqlite = ctx.db.is_sqlite
        self.raw = ctx.db.engine.raw_connection()  # with the engine's pragmas (WAL, FULL sync)
        mark = "?" if self.sqlite else "%s"
        self.due, self.insert = DUE.format(p=mark), INSERT.format(p=mark)
        bind = T["rung"].c.fire_at.type.bind_processor(ctx.db.engine.dialect)
        self.now = bind(NOW) if bind else NOW  # as SQLAlchemy stores it (text on SQLite)
        serial, stamp = ("INTEGER", "DATETIME") if self.sqlite else ("SERIAL", "TIMESTAMPTZ")
        self._write(SCRATCH.format(serial=serial, stamp=stamp))

    def _write(self, statement: str) -> None:
        cur = self.raw.cursor()
        if self.sqlite:
            cur.execute("BEGIN IMMEDIATE")
        cur.execute(statement)
        self.raw.commit()

    def _select(self, begin: str) -> tuple[Any, Sequence[Any]]:
        cur = self.raw.cursor()
        if self.sqlite:
            cur.execute(begin)
        cur.execute(self.due, (self.now, self.now))
        return cur, cur.fetchall()

    def select(self) -> tuple[float, int]:
        """(b): the due rungs' ids and keys, in a read transaction."""
        start = time.perf_counter()
        _, rows = self._select("BEGIN")
        self.raw.rollback()
        return time.perf_counter() - start, len(rows)

    def select_insert(self) -> tuple[float, int]:
        """(a): the same select, then one outbox-like row per rung, in one write transaction."""
        start = time.perf_counter()
        cur, rows = self._select("BEGIN IMMEDIATE")
        mails = [
            (i, f"{key}:1", '["focal@x.example"]', "Reminder", BODY, self.now) for i, key in rows
        ]
        cur.executemany(self.insert, mails)
        self.raw.commit()
        spent = time.perf_counter() - start
        self._write("DELETE FROM bench_outbox")
        return spent, len(rows)


# ------------------------------------------------------------------------------------ the fair floor


def _pg_admin_url(url: str, name: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0] + f"/{name}"


def fair_copy(ctx: Context, floor: Floor, folder: Path) -> str:
    """A copy of the database as it is now: a SQLite file, or a PostgreSQL database (its URL)."""
    if ctx.db.is_sqlite:
        return str(sqlite_copy(Path(ctx.db.url.removeprefix("sqlite:///")), folder / "fair.db"))
    # CREATE DATABASE ... TEMPLATE needs every other session of the template closed.
    floor.raw.close()
    ctx.db.dispose()
    name = ctx.db.engine.url.database
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}_fair" TEMPLATE "{name}"')
    floor.raw = ctx.db.engine.raw_connection()
    return _pg_admin_url(ctx.db.url, f"{name}_fair")


def fair_floor(ctx: Context, floor: Floor, capture: Capture, copy: str) -> dict[str, Any]:
    """Replay the captured sweep with the bare driver on the copy; check it wrote the same rows."""
    if ctx.db.is_sqlite:
        replayed = replay_sqlite(capture.ops, Path(copy))
        differ = sqlite_differences(Path(ctx.db.url.removeprefix("sqlite:///")), Path(copy))
        Path(copy).unlink()
    else:
        replayed = replay_postgres(capture.ops, copy)
        differ = _pg_count_differences(_pg_admin_url(ctx.db.url, ctx.db.engine.url.database), copy)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{copy.rsplit("/", 1)[1]}" WITH (FORCE)')
    if differ:
        raise SystemExit(f"fair floor: the replay did not write what the sweep did ({differ})")
    return {
        "seconds": replayed.seconds,
        "cpu_seconds": replayed.cpu_seconds,
        "statements": replayed.statements,
        "commits": replayed.commits,
        **capture.summary(),
    }


def _pg_count_differences(first: str, second: str) -> list[str]:
    """The tables whose row counts differ between two PostgreSQL databases."""
    counts = []
    for url in (first, second):
        with psycopg.connect(url) as conn:
            names = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            ).fetchall()
            row = {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone() for (n,) in names}
            counts.append(row)
    return sorted(
        n for n in counts[0].keys() | counts[1].keys() if counts[0].get(n) != counts[1].get(n)
    )


# -------------------------------------------------------------------------------------- measuring


def warm_up(ctx: Context) -> None:
    """What a running worker has done before its sweeps, and the fair floor never does, on data
    other than the timed sweep's: compile every mail template and load every catalog (about 0.15
    s of CPU, a sixth of a sweep at `--scale 0.1` when the sweep rendered its mails); build the
    public holidays of its processes' countries for this year and the next (its context keeps
    them: about 0.08 s of the first sweep); and sweep once, through the same context and engine,
    the `SPARE` processes of their own whose rungs ring a week earlier (`SPARE_NOW`): the
    statements a sweep runs are compiled, the workflow definition read, as after a worker's
    earlier sweeps. Their rungs still pending afterwards are cancelled, so that the timed sweep
    rings the others' only."""
    renderer = mailings.renderer(ctx)
    for env in (renderer._text, renderer._html):  # a benchmark may look inside
        for name in env.list_templates(extensions=["txt", "html"]):
            env.get_template(name)
    for lang in ctx.settings.languages:
        i18n.translations(lang)
    with ctx.db.reading() as session:
        countries = session.connection().execute(sa.select(T["process"].c.country).distinct())
        for (country,) in countries:
            for year in (NOW.year, NOW.year + 1):
                ctx.holidays(country, range(year, year + 1))
    if not chase.sweep(ctx, now=SPARE_NOW, worker="bench:0").rungs:
        raise SystemExit("the warm-up sweep rang nothing")
    rung = T["rung"]
    with ctx.db.engine.begin() as conn:
        conn.execute(
            sa.update(rung)
            .where(rung.c.process_id.in_(_spare_ids()), rung.c.status == "pending")
            .values(status="cancelled", outcome="benchmark: after the warm-up sweep")
        )


def _spare_ids() -> sa.Select[Any]:
    """The ids of the spare processes (the warm-up sweep's)."""
    process = T["process"]
    return sa.select(process.c.id).where(process.c.key.like("SPARE-%"))


@contextmanager
def profiled(enabled: bool, sink: list[str]) -> Iterator[None]:
    """cProfile around the block when enabled; the top 30 functions go to `sink`."""
    profile = cProfile.Profile() if enabled else None
    if profile is not None:
        profile.enable()
    try:
        yield
    finally:
        if profile is not None:
            profile.disable()
            text = io.StringIO()
            stats = pstats.Stats(profile, stream=text)
            if os.environ.get("SWEEP_PROFILE_FILE"):  # for pstats / snakeviz
                profile.dump_stats(os.environ["SWEEP_PROFILE_FILE"])
            stats.sort_stats("cumulative").print_stats(30)
            stats.sort_stats("tottime").print_stats(30)
            sink.append(text.getvalue())


def _median(run: Callable[[], tuple[float, int]], repeat: int) -> tuple[float, int]:
    runs = [run() for _ in range(repeat)]
    return statistics.median(t for t, _ in runs), runs[-1][1]


def _count(ctx: Context, query: sa.Select[Any]) -> int:
    with ctx.db.reading() as session:
        return int(session.connection().execute(query).scalar_one())


def measure(
    url: str,
    folder: Path,
    scale: float,
    profile: bool,
    say: Callable[[str], None],
    cold: bool = False,
) -> dict[str, Any]:
    """Build the data on one database; measure the floors, the sweep, the repeated sweep."""
    folder.mkdir(parents=True, exist_ok=True)
    ctx = context(url, folder)
    label = "sqlite" if ctx.db.is_sqlite else "postgres"
    try:
        start = time.perf_counter()
        rows = build(ctx, folder, scale, spare=0 if cold else SPARE)
        built = time.perf_counter() - start
        say(f"{label}: built {rows['request']} requests, {rows['rung']} rungs in {built:.1f} s")
        floor = Floor(ctx)
        floor.select(), floor.select_insert()  # warm-up: page cache, plans
        if not cold:
            warm_up(ctx)
        select_s, due = _median(floor.select, 5)
        insert_s, _ = _median(floor.select_insert, 5)
        say(f"{label}: {due} due; floor (a) {insert_s * 1e3:.1f} ms, (b) {select_s * 1e3:.1f} ms")
        profile_text: list[str] = []
        copy = fair_copy(ctx, floor, folder)  # the database as the sweep finds it
        with Capture(ctx.db) as capture, profiled(profile, profile_text), capture.timed():
            start, start_cpu = time.perf_counter(), time.process_time()
            swept = chase.sweep(ctx, now=NOW, worker="bench:1")
            sweep_s = time.perf_counter() - start
            sweep_cpu = time.process_time() - start_cpu
        say(f"{label}: sweep {sweep_s:.2f} s (CPU {sweep_cpu:.2f} s) for {len(swept.rungs)} rungs")
        fair = fair_floor(ctx, floor, capture, copy)
        say(
            f"{label}: fair floor {fair['seconds']:.2f} s (CPU {fair['cpu_seconds']:.2f} s, this "
            f"process only) ({fair['statements']} statements, {fair['commits']} commits replayed)"
        )
        rung, outbox = T["rung"], T["outbox"]
        left = _count(
            ctx, sa.select(sa.func.count()).where(rung.c.status == "pending", rung.c.fire_at <= NOW)
        )
        if left or len(swept.rungs) != due:
            raise SystemExit(f"{label}: the sweep rang {len(swept.rungs)} of {due}; {left} left")
        mails = _count(  # the timed sweep's (the warm-up's went to the spare processes)
            ctx,
            sa.select(sa.func.count()).where(
                outbox.c.dedupe_key.is_not(None), outbox.c.process_id.not_in(_spare_ids())
            ),
        )
        repeats = []
        for _ in range(21):
            start = time.perf_counter()
            if chase.sweep(ctx, now=NOW, worker="bench:1").rungs:
                raise SystemExit(f"{label}: the repeated sweep rang something")
            repeats.append(time.perf_counter() - start)
        empty_s, _ = _median(floor.select, 21)
        floor.raw.close()
    finally:
        ctx.db.dispose()
    repeat_s = statistics.median(repeats)
    return {
        "database": label,
        "rows": rows,
        "build_seconds": built,
        "due_rungs": due,
        "sent": swept.count("sent"),
        "mails": mails,
        "sweep_seconds": sweep_s,
        "sweep_cpu_seconds": sweep_cpu,
        "floor_a_seconds": insert_s,
        "floor_b_seconds": select_s,
        "floor_b_empty_seconds": empty_s,
        "repeat_seconds": repeat_s,
        "ratio_sweep": sweep_s / insert_s,
        "ratio_repeat": repeat_s / select_s,
        "ratio_repeat_empty": repeat_s / empty_s,
        "fair_floor": {
            **fair,
            "ratio": sweep_s / fair["seconds"],
            "target_ratio": TARGET_FAIR[label],
            "target_met": sweep_s / fair["seconds"] <= TARGET_FAIR[label],
        },
        "profiled": profile,
        "profile": profile_text[0] if profile_text else None,
    }


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database on the machine's PostgreSQL, dropped afterwards."""
    name = f"ibmflow_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def report(results: list[dict[str, Any]], scale: float) -> str:
    """The short table."""
    ms = "{:8.2f} ms".format
    lines = [
        f"sweep: {round(1000 * scale)} processes x {PER_PROCESS} open requests, 10% with a rung "
        f"ringing now (scale {scale:g}); floors measured in the same run",
        "",
        f"{'':9}{'due':>7}{'sweep':>11}{'floor (a)':>12}{'ratio':>8}{'repeat':>12}"
        f"{'floor (b)':>12}{'ratio':>7}{'(b) empty':>12}{'ratio':>7}",
    ]
    for r in results:
        lines.append(
            f"{r['database']:9}{r['due_rungs']:7d}{r['sweep_seconds']:10.2f}s"
            f"{ms(r['floor_a_seconds'] * 1e3):>12}{r['ratio_sweep']:8.1f}"
            f"{ms(r['repeat_seconds'] * 1e3):>12}{ms(r['floor_b_seconds'] * 1e3):>12}"
            f"{r['ratio_repeat']:7.2f}{ms(r['floor_b_empty_seconds'] * 1e3):>12}"
            f"{r['ratio_repeat_empty']:7.1f}"
        )
    lines.append("")
    for r in results:
        met = {True: "MET", False: "MISSED"}
        lines.append(
            f"{r['database']}: {r['sweep_seconds'] * 1e3 / r['due_rungs']:.2f} ms per rung "
            f"({r['sent']} sent, {r['mails']} mails); sweep <= {TARGET_SWEEP:g}x (a): "
            f"{met[r['ratio_sweep'] <= TARGET_SWEEP]}; repeated sweep <= {TARGET_REPEAT:g}x (b): "
            f"{met[r['ratio_repeat'] <= TARGET_REPEAT]}"
            + (" [under cProfile]" if r["profiled"] else "")
        )
    for r in results:
        fair = r["fair_floor"]
        lines.append(
            f"{r['database']}: fair floor {fair['seconds'] * 1e3:.0f} ms "
            f"({fair['statements']} statements, {fair['commits']} transactions); "
            f"sweep / fair floor {fair['ratio']:.2f}x, target <= {fair['target_ratio']:g}x: "
            f"{'MET' if fair['target_met'] else 'MISSED'}"
        )
    return "\n".join(
        [
            *lines,
            "",
            "(a) = select the due rungs + one 1 KB outbox-like row per rung, one transaction, bare",
            "driver; (b) = that select alone; (b) empty = the same select after the sweep (nothing",
            "due). Medians of 5 (floors) and 21 (repeated sweep, (b) empty) runs; the sweep runs once.",
            "fair floor = the statements the sweep executed (captured), replayed once with the bare",
            "driver on a copy of the database taken just before it, same transactions, checked to",
            "write the same rows (SQLite: every row; PostgreSQL: every table's count).",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1,000 processes")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--profile", action="store_true", help="cProfile the sweep, print the top")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (SQLite)")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="time the first sweep of a fresh process (templates compiled, catalogs loaded in it)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not 0 < args.scale <= 10:
        parser.error("--scale must be in (0, 10]")
    folder = Path(tempfile.mkdtemp(prefix="ibmflow-bench-sweep-"))
    say = (lambda _: None) if args.json else (lambda line: print(line, file=sys.stderr))
    results = []
    try:
        if args.db in ("sqlite", "both"):
            url = f"sqlite:///{folder / 'sqlite' / 'ibmflow.db'}"
            results.append(
                measure(url, folder / "sqlite", args.scale, args.profile, say, args.cold)
            )
        if args.db in ("postgres", "both"):
            with postgres_database() as url:
                results.append(
                    measure(url, folder / "postgres", args.scale, args.profile, say, args.cold)
                )
        if args.json:
            print(json.dumps(results, indent=2, default=str))
        else:
            print(report(results, args.scale))
            for r in results:
                if r["profile"]:
                    print(f"\n--- profile of the sweep on {r['database']} ---\n{r['profile']}")
    finally:
        if args.keep:
            print(f"files kept in {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
