"""`audit verify` against a minimal raw verifier, on the same 200,000 events, in the same run.

    python bench/verify.py [--events N] [--repeat R] [--keep] [--json]

Data: one demo process is driven through the services (`ibmflow.demo.drive`, 168 events); its
records are cloned (another process key, entity and moment for each copy) and appended through the
real append path (`Tx.audit_many`, 5,000 a transaction) until the chain holds N events, on a real
SQLite file (WAL, the pragmas of `ibmflow/storage/db.py`).

ibmflow: `services.audit_log.verify_chain(ctx)`, what `ibmflow audit verify` runs (without the
progress bar, which a pipe does not show either).

Raw: the stdlib `sqlite3` and `json` on the same file: select every event in order, rebuild its
canonical text with `json.loads` of the stored JSON and `json.dumps` of the whole body (sorted,
compact), SHA-256 it after the previous hash, compare; then the head row. No diagnosis of a broken
chain, nothing kept: the least a verifier of this chain does in Python.

The two run alternately, each once untimed first; the medians are compared (wall time; CPU time of
the process beside it, steadier on a shared machine). Target: ibmflow >= 100,000 events/s and
>= 1.2x the raw verifier.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from steps import ibmflow_context

from ibmflow import demo
from ibmflow.audit import GENESIS_HASH, AuditRecord
from ibmflow.services.audit_log import verify_chain
from ibmflow.services.context import Context
from ibmflow.storage.queries import audit as audit_queries

TARGET_RATE = 100_000
TARGET_RATIO = 1.2
BATCH = 5000
SELECT = (
    "SELECT seq, at, actor, on_behalf_of, action, process, entity, before_json, after_json,"
    " reason, prev_hash, hash FROM audit_event ORDER BY seq"
)


def build(ctx: Context, events: int) -> int:
    """A chain of `events` events: a demo process's, cloned. Returns how many are stored."""
    demo.drive(ctx, "TPL-1")
    with ctx.db.reading() as session:
        template = [e.record for e in audit_queries.of_process(session, "TPL-1")]
    stored, copy = len(template), 0
    while stored < events:
        records: list[AuditRecord] = []
        while len(records) < min(BATCH, events - stored):
            copy += 1
            key = f"B-{copy}"
            records.extend(
                dataclasses.replace(
                    r,
                    process=key,
                    entity=f"{r.entity or ''}#{copy}",
                    at=r.at + timedelta(minutes=copy),
                )
                for r in template
            )
        records = records[: events - stored]
        with ctx.db.transaction() as tx:
            tx.audit_many(records)
        stored += len(records)
    return stored


def raw_verify(path: Path) -> int:
    """The minimal verifier: sqlite3, json.loads, json.dumps, hashlib. Returns the events checked."""
    conn = sqlite3.connect(path)
    try:
        head = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        last, prev = 0, GENESIS_HASH
        for row in conn.execute(SELECT):
            seq, at, actor, on_behalf_of, action, process, entity, before, after, reason = row[:10]
            body = {
                "seq": seq,
                "at": at.replace(" ", "T") + "Z",
                "actor": actor,
                "on_behalf_of": on_behalf_of,
                "action": action,
                "process": process,
                "entity": entity,
                "before": None if before is None else json.loads(before),
                "after": None if after is None else json.loads(after),
                "reason": reason,
            }
            text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            digest = hashlib.sha256((prev + text).encode("utf-8")).hexdigest()
            if seq != last + 1 or row[10] != prev or digest != row[11]:
                raise SystemExit(f"raw verifier: the chain breaks at #{seq}")
            last, prev = seq, row[11]
        if (last, prev) != tuple(head):
            raise SystemExit("raw verifier: the chain does not end at the head")
        return last
    finally:
        conn.close()


def ibmflow_verify(ctx: Context) -> int:
    result = verify_chain(ctx)
    if not result.ok:
        raise SystemExit(f"ibmflow: {result.problem}")
    return result.checked


def timed(run: Callable[[], int]) -> tuple[float, float, int]:
    """Wall and CPU seconds of one run, and the events it checked."""
    wall, cpu = time.perf_counter(), time.process_time()
    checked = run()
    return time.perf_counter() - wall, time.process_time() - cpu, checked


def measure(ctx: Context, path: Path, repeat: int, say: Callable[[str], None]) -> dict[str, Any]:
    sides: dict[str, Callable[[], int]] = {
        "raw": lambda: raw_verify(path),
        "ibmflow": lambda: ibmflow_verify(ctx),
    }
    for run in sides.values():
        run()  # warm-up: imports, statement cache, the file in the page cache
    runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in sides}
    for i in range(repeat):
        for name, run in sides.items():
            runs[name].append(timed(run))
            wall, cpu, checked = runs[name][-1]
            say(
                f"  repeat {i + 1}: {name:8} {checked / wall:9,.0f} events/s "
                f"({wall:.2f} s, CPU {cpu:.2f} s)"
            )
    counts = {checked for side in runs.values() for _, _, checked in side}
    if len(counts) != 1:
        raise SystemExit(f"the two verifiers checked different numbers of events: {counts}")
    (events,) = counts
    figures: dict[str, Any] = {"events": events, "repeat": repeat}
    for name, side in runs.items():
        figures[name] = {
            "wall_s": statistics.median(w for w, _, _ in side),
            "cpu_s": statistics.median(c for _, c, _ in side),
            "events_per_s": events / statistics.median(w for w, _, _ in side),
            "events_per_cpu_s": events / statistics.median(c for _, c, _ in side),
        }
    figures["ratio"] = figures["ibmflow"]["events_per_s"] / figures["raw"]["events_per_s"]
    figures["cpu_ratio"] = (
        figures["ibmflow"]["events_per_cpu_s"] / figures["raw"]["events_per_cpu_s"]
    )
    figures["per_repeat_ratios"] = [
        r[0] / i[0] for r, i in zip(runs["raw"], runs["ibmflow"], strict=True)
    ]
    figures["met"] = (
        figures["ibmflow"]["events_per_s"] >= TARGET_RATE and figures["ratio"] >= TARGET_RATIO
    )
    return figures


def report(f: dict[str, Any]) -> str:
    ibm, raw = f["ibmflow"], f["raw"]
    ratios = " / ".join(f"{r:.2f}" for r in f["per_repeat_ratios"])
    return "\n".join(
        [
            f"audit verify, {f['events']:,} events, median of {f['repeat']}:",
            f"  ibmflow  {ibm['events_per_s']:9,.0f} events/s ({ibm['wall_s']:.2f} s; "
            f"CPU {ibm['events_per_cpu_s']:,.0f}/s)",
            f"  raw      {raw['events_per_s']:9,.0f} events/s ({raw['wall_s']:.2f} s; "
            f"CPU {raw['events_per_cpu_s']:,.0f}/s)",
            f"  ratio ibmflow / raw: {f['ratio']:.2f} (CPU time {f['cpu_ratio']:.2f}; "
            f"per repeat {ratios})",
            f"  target >= {TARGET_RATE:,} events/s and >= {TARGET_RATIO}x raw: "
            + ("met" if f["met"] else "MISSED"),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    def say(text: str) -> None:
        if not args.json:
            print(text, file=sys.stderr, flush=True)

    folder = Path(tempfile.mkdtemp(prefix="ibmflow-bench-verify-"))
    try:
        ctx = ibmflow_context(folder)
        start = time.perf_counter()
        stored = build(ctx, args.events)
        say(f"built {stored:,} events in {time.perf_counter() - start:.1f} s under {folder}")
        figures = measure(ctx, folder / "ibmflow.db", args.repeat, say)
        ctx.db.dispose()
    finally:
        if args.keep:
            say(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(figures, indent=2) if args.json else report(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
