"""The rows a demo run and a sweep write, dumped for comparing two versions of ibmflow.

    python bench/rows.py OUT.json [--processes N] [--scale S]

Drives N demo processes through the services (`demo.drive`, on a clock that starts at a fixed
moment and moves on 20 minutes at each reading, so the moments are the same from run to run), then
builds the sweep's data at scale S (`sweep_data`) and runs one sweep, each on a SQLite file of its
own. Every table of both files is dumped with what is random in each run masked (Message-IDs, link
tokens, reply keys, hashes: see `MASKS`) and its rows sorted, then written to OUT.json. Run it with
each version (`cd OTHER_TREE && .venv/bin/python /path/to/bench/rows.py other.json`) and compare
the files: a performance change must write the same rows. `--ids` keeps the outbox's ids (sorted by
id) as well, to see whether the mails were written in the same order.

Since mails are rendered at dispatch (migration 0012), the outbox holds each mail's context and
language until it is sent: before dumping, every such row is rendered as the dispatcher renders it
and its text written on it, and the two columns are left out of the dump, so that a dump compares
with one of a version that rendered in the transaction (same subjects, texts and HTML).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sqlite3
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from steps import ibmflow_context
from sweep_data import NOW, build, context

from ibmflow import demo
from ibmflow.services import chase, outbox
from ibmflow.services.context import Context

START = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
MASKS = [
    (re.compile(r"<ibmflow\.[0-9a-f]{32}@"), "<ibmflow.MSGID@"),  # Message-IDs
    (re.compile(r"/r/[A-Za-z0-9_-]{32}"), "/r/TOKEN"),  # link tokens in the mails
    (re.compile(r"\b[0-9a-f]{64}\b"), "HASH"),  # token hashes, audit hashes
    (re.compile(r"\b[0-9a-f]{32}\b"), "KEY"),  # the sweep data's reply keys
    (re.compile(r"^[0-9a-f]{16}$"), "KEY"),  # the services' reply keys
    (re.compile(r"\+[A-Za-z0-9_-]{16,}@"), "+REPLYKEY@"),  # reply addresses
]
# Columns whose values are surrogate ids given in the order rows are written (compared with --ids).
ORDERED_IDS = {"outbox": ["id"], "link_token": ["id"], "chase_mail": ["id"]}


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        for pattern, repl in MASKS:
            value = pattern.sub(repl, value)
    return value


UNRENDERED = {"outbox": {"template_context", "language"}}  # what rendering at dispatch added


def render_outbox(ctx: Context) -> None:
    """Write every unrendered mail's text on its row, as the dispatcher does when it sends it."""
    from sqlmodel import col, select

    from ibmflow.storage.tables import OutboxRow

    with ctx.db.transaction() as tx:
        for row in tx.session.exec(select(OutboxRow).where(col(OutboxRow.text_body).is_(None))):
            outbox.with_text(ctx, row)
            row.template_context = None
            tx.session.add(row)


def dump(path: Path, keep_ids: bool) -> dict[str, Any]:
    """Every table of a SQLite file, masked and sorted."""
    conn = sqlite3.connect(path)
    out: dict[str, Any] = {}
    names = [
        n
        for (n,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            # the search's trigram indexes (migrations 0011, 0014): derived from person,
            # institution and process
            "AND name NOT LIKE 'search_person%' AND name NOT LIKE 'search_institution%' "
            "AND name NOT LIKE 'search_process%' "
            "ORDER BY name"
        )
    ]
    for name in names:
        cur = conn.execute(f'SELECT * FROM "{name}" ORDER BY rowid')
        columns = [d[0] for d in cur.description]
        drop = UNRENDERED.get(name, set()) | (set() if keep_ids else set(ORDERED_IDS.get(name, [])))
        rows = [
            [_mask(v) for c, v in zip(columns, row, strict=True) if c not in drop] for row in cur
        ]
        kept = [c for c in columns if c not in drop]
        if not (keep_ids and name in ORDERED_IDS):
            rows.sort(key=lambda r: json.dumps(r, default=str))
        out[name] = {"columns": kept, "rows": rows}
    conn.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--ids", action="store_true", help="keep the outbox's ids, in id order")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="ibmflow-bench-rows-"))
    try:
        ctx = ibmflow_context(folder / "steps")
        walked = replace(ctx, clock=demo._Walk(START))
        for i in range(1, args.processes + 1):
            demo.drive(walked, f"ROWS-{i:02d}")
        render_outbox(ctx)
        ctx.db.dispose()
        sweep_ctx = context(f"sqlite:///{folder / 'sweep' / 'ibmflow.db'}", folder / "sweep")
        build(sweep_ctx, folder / "sweep", args.scale)
        report = chase.sweep(sweep_ctx, now=NOW, worker="bench:rows")
        render_outbox(sweep_ctx)
        sweep_ctx.db.dispose()
        result = {
            "steps": dump(folder / "steps" / "ibmflow.db", args.ids),
            "sweep": dump(folder / "sweep" / "ibmflow.db", args.ids),
            "sweep_report": report.to_dict(),
        }
        args.out.write_text(json.dumps(result, indent=1, default=str, sort_keys=True))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"written {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
