"""Step throughput: ibmflow's committed step completions against a raw-sqlite3 floor, in the same run.

    python bench/steps.py [--processes N] [--repeat R] [--keep] [--json]

ibmflow side: N processes are driven from start to `adopted` through the service layer
(`ibmflow.demo.drive`) on a real SQLite file (WAL, synchronous=FULL, BEGIN IMMEDIATE). Only the nine
step completions of each process are timed (`processes.fire(..., "complete")`: one committed
transaction each with guard evaluation over the loaded facts, the optimistic-lock UPDATE, the step
history and the audit-chain append); recording the facts between the steps is not timed.

Floor: raw `sqlite3` on another file in the same folder, same pragmas, one transaction per step:
`BEGIN IMMEDIATE; UPDATE process ...; INSERT INTO event ...; COMMIT`, N x 9 of them.

Fair floor: the statements ibmflow executed in the repeat (captured by bench/capture.py), replayed
with raw `sqlite3` on a copy of its database taken just before the repeat, same pragmas, same
transactions; only the completions are timed, and the replay must leave the same rows.

The three are measured in turn (floor, ibmflow, fair floor, floor, ...) and the medians compared:
the machines are shared and noisy, so the figures that matter are the ratios.
Targets: ibmflow at least one third of the floor; a step at most 3x its fair floor.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from capture import Capture, replay_sqlite, sqlite_copy, sqlite_differences

from ibmflow import demo
from ibmflow.bootstrap import bootstrap
from ibmflow.config import load_settings
from ibmflow.definitions import load_definition
from ibmflow.services import processes
from ibmflow.services.context import Context
from ibmflow.storage import migrate

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = REPO / "workflows"
STEPS_PER_PROCESS = 9
TARGET_RATIO = 1 / 3
TARGET_FAIR = 3.0  # ibmflow's time per step <= 3x the fair floor's


# --------------------------------------------------------------------------------------------- ibmflow


def ibmflow_context(folder: Path) -> Context:
    """A Context on a fresh, migrated SQLite file in `folder` (documents under `folder/data`)."""
    env = {
        "IBMFLOW_DATABASE_URL": f"sqlite:///{folder / 'ibmflow.db'}",
        "IBMFLOW_PATHS_DATA_DIR": str(folder / "data"),
        "IBMFLOW_PATHS_WORKFLOWS_DIR": str(WORKFLOWS),
        "IBMFLOW_CLI_ACTOR": demo.COORDINATOR,
        # The repo's config.toml whatever the working folder (as tests/conftest.py does).
        "IBMFLOW_CONFIG": str(REPO / "config.toml"),
    }
    ctx = bootstrap(load_settings(environ=env))
    migrate.upgrade(ctx.db)
    return ctx


def run_ibmflow(ctx: Context, keys: list[str], capture: Capture | None = None) -> dict[str, float]:
    """Drive each process to `adopted`; return the time spent in the step completions and in total.

    With `capture`, every statement is logged and the completions marked timed (for the fair floor).
    """
    spent = cpu = 0.0
    completions = 0

    def timed(ctx_: Context, key: str) -> processes.Moved:
        nonlocal spent, cpu, completions
        with capture.timed() if capture is not None else contextlib.nullcontext():
            start, start_cpu = time.perf_counter(), time.process_time()
            moved = processes.fire(ctx_, key, "complete", actor=demo.COORDINATOR)
            spent += time.perf_counter() - start
            cpu += time.process_time() - start_cpu
        completions += 1
        return moved

    wall = time.perf_counter()
    for key in keys:
        demo.drive(ctx, key, advance=timed)
    wall = time.perf_counter() - wall
    for key in keys:  # every process really reached the end (outside the timing)
        state = processes.status(ctx, key).state
        if state != "adopted":
            raise SystemExit(f"process {key} ended in {state!r}, not 'adopted'")
    expected = len(keys) * STEPS_PER_PROCESS
    if completions != expected:
        raise SystemExit(f"{completions} step completions, expected {expected}")
    return {"steps": completions, "seconds": spent, "cpu_seconds": cpu, "wall_seconds": wall}


# ----------------------------------------------------------------------------------------------- floor

FLOOR_STATES = [s.id for s in load_definition(WORKFLOWS / "ibm_strategy.toml").states]


def floor_connection(path: Path) -> sqlite3.Connection:
    """Raw sqlite3 with the pragmas ibmflow uses; autocommit mode so BEGIN/COMMIT are explicit."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS process ("
        " id INTEGER PRIMARY KEY, state TEXT NOT NULL, version INTEGER NOT NULL)"
    )
    conn.execute(
        "CREATE TABLE IF NOT EXISTS event ("
        " id INTEGER PRIMARY KEY, process_id INTEGER NOT NULL REFERENCES process(id),"
        " at TEXT NOT NULL, data TEXT NOT NULL)"
    )
    return conn


def run_floor(conn: sqlite3.Connection, processes_: int) -> dict[str, float]:
    """N processes through the nine steps: one UPDATE and one INSERT per committed step."""
    conn.execute("BEGIN IMMEDIATE")
    ids = []
    for _ in range(processes_):
        cur = conn.execute("INSERT INTO process (state, version) VALUES (?, 0)", (FLOOR_STATES[0],))
        ids.append(cur.lastrowid)
    conn.execute("COMMIT")
    spent = 0.0
    steps = 0
    for pid in ids:
        for version, (before, after) in enumerate(itertools.pairwise(FLOOR_STATES)):
            data = json.dumps({"before": before, "after": after, "version": version + 1})
            start = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            cur = conn.execute(
                "UPDATE process SET state = ?, version = version + 1 WHERE id = ? AND version = ?",
                (after, pid, version),
            )
            if cur.rowcount != 1:
                conn.execute("ROLLBACK")
                raise SystemExit(f"floor: optimistic lock failed on process {pid}")
            conn.execute(
                "INSERT INTO event (process_id, at, data) VALUES (?, ?, ?)",
                (pid, datetime.now(UTC).isoformat(), data),
            )
            conn.execute("COMMIT")
            spent += time.perf_counter() - start
            steps += 1
    return {"steps": steps, "seconds": spent}


# ------------------------------------------------------------------------------------------ fair floor


def run_fair(capture: Capture, original: Path, copy: Path) -> dict[str, float]:
    """Replay what ibmflow executed on `copy` (taken before the run); time the completions only."""
    replayed = replay_sqlite(capture.ops, copy)
    differ = sqlite_differences(original, copy)
    if differ:
        raise SystemExit(f"fair floor: the replay did not write what ibmflow did ({differ})")
    copy.unlink()
    return {
        "steps": replayed.timed_parts,
        "seconds": replayed.seconds,
        "cpu_seconds": replayed.cpu_seconds,
        "statements": replayed.statements,
    }


# ------------------------------------------------------------------------------------------------ main


def _rate(run: dict[str, float]) -> float:
    return run["steps"] / run["seconds"] if run["seconds"] > 0 else float("inf")


def measure(
    processes_: int, repeat: int, folder: Path, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Warm up both sides, then alternate floor / ibmflow `repeat` times."""
    ctx = ibmflow_context(folder / "ibmflow")
    floor = floor_connection(folder / "floor.db")
    try:
        # Warm-up (not counted): imports, definition parsing, the shared engine, SQL compile caches.
        run_ibmflow(ctx, ["WARMUP"])
        run_floor(floor, 1)
        floor_runs: list[dict[str, float]] = []
        ibmflow_runs: list[dict[str, float]] = []
        fair_runs: list[dict[str, float]] = []
        for r in range(1, repeat + 1):
            floor_runs.append(run_floor(floor, processes_))
            progress(f"  repeat {r}/{repeat}: floor   {_rate(floor_runs[-1]):9.1f} steps/s")
            keys = [f"BENCH-R{r}-P{i:03d}" for i in range(1, processes_ + 1)]
            copy = sqlite_copy(folder / "ibmflow" / "ibmflow.db", folder / "fair.db")
            with Capture(ctx.db) as capture:
                ibmflow_runs.append(run_ibmflow(ctx, keys, capture))
            progress(f"  repeat {r}/{repeat}: ibmflow {_rate(ibmflow_runs[-1]):9.1f} steps/s")
            fair_runs.append(run_fair(capture, folder / "ibmflow" / "ibmflow.db", copy))
            progress(f"  repeat {r}/{repeat}: fair    {_rate(fair_runs[-1]):9.1f} steps/s")
    finally:
        floor.close()
        ctx.db.dispose()
    floor_rates = [_rate(x) for x in floor_runs]
    ibm_rates = [_rate(x) for x in ibmflow_runs]
    fair_rates = [_rate(x) for x in fair_runs]
    floor_median = statistics.median(floor_rates)
    ibm_median = statistics.median(ibm_rates)
    fair_median = statistics.median(fair_rates)
    ratio = ibm_median / floor_median
    fair_ratio = fair_median / ibm_median  # ibmflow's time over the fair floor's
    steps = processes_ * STEPS_PER_PROCESS
    return {
        "processes": processes_,
        "steps_per_repeat": steps,
        "repeat": repeat,
        "sqlite": sqlite3.sqlite_version,
        "python": sys.version.split()[0],
        "floor_steps_per_s": floor_rates,
        "ibmflow_steps_per_s": ibm_rates,
        "ratios": [i / f for i, f in zip(ibm_rates, floor_rates, strict=True)],
        "floor_median_steps_per_s": floor_median,
        "ibmflow_median_steps_per_s": ibm_median,
        "ibmflow_median_ms_per_step": 1000 / ibm_median,
        "floor_median_ms_per_step": 1000 / floor_median,
        "ibmflow_wall_seconds": [x["wall_seconds"] for x in ibmflow_runs],
        "ratio": ratio,
        "target_ratio": TARGET_RATIO,
        "target_met": ratio >= TARGET_RATIO,
        "fair_floor": {
            "steps_per_s": fair_rates,
            "median_steps_per_s": fair_median,
            "median_ms_per_step": 1000 / fair_median,
            "statements_per_step": fair_runs[-1]["statements"] / fair_runs[-1]["steps"],
            "ratios": [f / i for f, i in zip(fair_rates, ibm_rates, strict=True)],
            "ratio": fair_ratio,
            "target_ratio": TARGET_FAIR,
            "target_met": fair_ratio <= TARGET_FAIR,
            # CPU time (less disturbed by other jobs on a shared machine; the fsync waits of the
            # commits are not in it, so this ratio is stricter than the wall-time one)
            "ibmflow_cpu_ms_per_step": [1000 * x["cpu_seconds"] / x["steps"] for x in ibmflow_runs],
            "cpu_ms_per_step": [1000 * x["cpu_seconds"] / x["steps"] for x in fair_runs],
            "cpu_ratios": [
                i["cpu_seconds"] / f["cpu_seconds"]
                for i, f in zip(ibmflow_runs, fair_runs, strict=True)
            ],
        },
    }


def report(result: dict[str, Any]) -> str:
    """The short table."""
    steps = result["steps_per_repeat"]
    fair = result["fair_floor"]
    lines = [
        f"step throughput: {result['processes']} processes x 9 steps = {steps} committed steps per "
        f"side, {result['repeat']} repeat(s), alternating floor / ibmflow "
        f"(SQLite {result['sqlite']}, WAL, synchronous=FULL)",
        "",
        f"{'':10} {'median steps/s':>15} {'ms/step':>9}   per repeat (steps/s)",
        f"{'floor':10} {result['floor_median_steps_per_s']:15.1f} "
        f"{result['floor_median_ms_per_step']:9.2f}   "
        + ", ".join(f"{x:.1f}" for x in result["floor_steps_per_s"]),
        f"{'ibmflow':10} {result['ibmflow_median_steps_per_s']:15.1f} "
        f"{result['ibmflow_median_ms_per_step']:9.2f}   "
        + ", ".join(f"{x:.1f}" for x in result["ibmflow_steps_per_s"]),
        f"{'fair floor':10} {fair['median_steps_per_s']:15.1f} "
        f"{fair['median_ms_per_step']:9.2f}   "
        + ", ".join(f"{x:.1f}" for x in fair["steps_per_s"]),
        "",
        f"ratio ibmflow / floor: {result['ratio']:.3f} (per repeat: "
        + ", ".join(f"{x:.3f}" for x in result["ratios"])
        + f"); target >= {TARGET_RATIO:.3f}: {'MET' if result['target_met'] else 'MISSED'}",
        f"ibmflow time / fair floor time: {fair['ratio']:.2f}x (per repeat: "
        + ", ".join(f"{x:.2f}" for x in fair["ratios"])
        + f"); target <= {TARGET_FAIR:g}x: {'MET' if fair['target_met'] else 'MISSED'}",
        "CPU ms/step, ibmflow: "
        + ", ".join(f"{x:.2f}" for x in fair["ibmflow_cpu_ms_per_step"])
        + "; fair floor: "
        + ", ".join(f"{x:.2f}" for x in fair["cpu_ms_per_step"])
        + "; ratio (median "
        + f"{statistics.median(fair['cpu_ratios']):.2f}x): "
        + ", ".join(f"{x:.2f}" for x in fair["cpu_ratios"]),
        "",
        "ibmflow time = the nine `complete` transactions only; recording the facts between steps "
        "(roster, answers, votes, documents) is not timed "
        "(whole drive wall time per repeat: "
        + ", ".join(f"{x:.1f}s" for x in result["ibmflow_wall_seconds"])
        + ").",
        "floor = raw sqlite3: BEGIN IMMEDIATE; one UPDATE; one INSERT; COMMIT per step.",
        "fair floor = the statements ibmflow executed (captured), replayed with raw sqlite3 on a "
        "copy of its database taken before the repeat, same pragmas and transactions "
        f"({fair['statements_per_step']:.1f} statements per step); the completions timed.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--processes", type=int, default=20, help="processes per repeat (9 steps each)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="alternating floor/ibmflow rounds")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder and its files"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.processes < 1 or args.repeat < 1:
        parser.error("--processes and --repeat must be at least 1")
    folder = Path(tempfile.mkdtemp(prefix="ibmflow-bench-steps-"))
    progress = (lambda _: None) if args.json else (lambda line: print(line, file=sys.stderr))
    try:
        result = measure(args.processes, args.repeat, folder, progress)
        result["folder"] = str(folder) if args.keep else None
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print(report(result))
    finally:
        if args.keep:
            print(f"files kept in {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
