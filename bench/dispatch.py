"""`mail dispatch` against bare aiosmtplib on one connection, to the same aiosmtpd sink, in one run.

    python bench/dispatch.py [--mails N] [--repeat R] [--keep] [--json]

Data: one demo process is driven through the services (`ibmflow.demo.drive`): its outbox holds the
mails the services rendered (requests, votes, notifications: about 200). They are cloned, each with
a Message-ID of its own, until the outbox holds N pending mails (default 2,000), on a real SQLite
file (WAL, the pragmas of `ibmflow/storage/db.py`).

Sink: aiosmtpd in a process of its own on a loopback port; it accepts every message and counts
them by Message-ID.

ibmflow: `services.dispatch.dispatch_once` with the settings' SMTP transport (`security = "none"`),
pass after pass until nothing is left to claim (as the worker and `mail dispatch --every` do):
claim `mail.batch` mails, compose each, send them over one connection, mark them sent with their
audit events.

Bare: `aiosmtplib.SMTP` connected once, `send_message` of the same N messages (composed by ibmflow
beforehand, untimed), QUIT.

Between repeats the mails are made pending again (untimed). Each side runs once untimed first, then
they alternate; the medians are compared. Target: ibmflow >= 0.5x bare aiosmtplib. At the end every
Message-ID must have reached the sink exactly as many times as the runs sent it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiosmtplib
import sqlalchemy as sa
from steps import ibmflow_context

from ibmflow import demo
from ibmflow.mail.compose import compose, recipients
from ibmflow.services import outbox
from ibmflow.services.context import Context
from ibmflow.services.dispatch import DispatchReport, build_transport, dispatch_once
from ibmflow.storage.db import table_of
from ibmflow.storage.tables import OutboxRow

TARGET_RATIO = 0.5
OUTBOX = table_of(OutboxRow)

SINK = r"""
import collections, json, re, signal, sys, threading
from aiosmtpd.controller import Controller

MESSAGE_ID = re.compile(rb"^Message-ID: *(<[^>\r\n]+>)", re.I | re.M)
counts = collections.Counter()

class Sink:
    async def handle_DATA(self, server, session, envelope):
        found = MESSAGE_ID.search(envelope.original_content or b"")
        counts[found.group(1).decode() if found else "?"] += 1
        return "250 2.0.0 OK"

controller = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: done.set())
done.wait()
controller.stop()
print(json.dumps(counts), flush=True)
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build(ctx: Context, mails: int) -> list[int]:
    """N pending mails in the outbox: the demo's, cloned. Returns their ids."""
    demo.drive(ctx, "TPL-1")
    with ctx.db.transaction() as tx:
        conn = tx.session.connection()
        template = [dict(row._mapping) for row in conn.execute(sa.select(OUTBOX))]
        rows = []
        for n in range(mails - len(template)):
            row = dict(template[n % len(template)])
            del row["id"]
            domain = row["message_id"].rsplit("@", 1)[1]
            row.update(message_id=f"<ibmflow.{uuid.uuid4().hex}@{domain}", dedupe_key=None)
            rows.append(row)
        if rows:
            conn.execute(sa.insert(OUTBOX), rows)
        return list(conn.execute(sa.select(OUTBOX.c.id).order_by(OUTBOX.c.id)).scalars())


_UNSENT: dict[int, str | None] = {}  # each mail's stored context, as the services wrote it


def reset(ctx: Context) -> None:
    """Every mail pending again, due now, and unrendered as the services wrote it (the dispatcher
    renders it, keeps its text and clears the context)."""
    with ctx.db.transaction() as tx:
        conn = tx.session.connection()
        if not _UNSENT:
            _UNSENT.update(conn.execute(sa.select(OUTBOX.c.id, OUTBOX.c.template_context)).all())
        conn.execute(
            sa.update(OUTBOX).values(
                status="pending",
                attempts=0,
                sent_at=None,
                claimed_until=None,
                claimed_by=None,
                last_error=None,
                next_attempt_at=ctx.clock.now(),
            )
        )
        unrender = (
            sa.update(OUTBOX)
            .where(OUTBOX.c.id == sa.bindparam("mail"))
            .values(
                subject=None, text_body=None, html_body=None, template_context=sa.bindparam("said")
            )
        )
        kept = [{"mail": i, "said": c} for i, c in _UNSENT.items() if c is not None]
        if kept:
            conn.execute(unrender, kept)


async def ibmflow_dispatch(ctx: Context) -> int:
    transport, total = build_transport(ctx.settings), DispatchReport()
    while True:
        report = await dispatch_once(ctx, transport, worker_id="bench")
        total.sent.extend(report.sent)
        if not report.claimed:
            break
        if report.deferred or report.failed or report.skipped:
            raise SystemExit(f"ibmflow: not every mail was sent: {report.summary()}")
    return len(total.sent)


async def bare_send(ctx: Context, messages: list[tuple[Any, list[str]]]) -> int:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=ctx.settings.smtp_port, start_tls=False)
    await client.connect()
    for message, to in messages:
        await client.send_message(message, sender=ctx.settings.mail_from_address, recipients=to)
    await client.quit()
    return len(messages)


def measure(ctx: Context, repeat: int, say: Callable[[str], None]) -> dict[str, Any]:
    with ctx.db.reading() as session:
        rows = list(session.execute(sa.select(OUTBOX).order_by(OUTBOX.c.id)))
    # The bare side sends the same messages, rendered and composed beforehand (untimed).
    texts = [outbox.with_text(ctx, SimpleNamespace(**row._mapping)) for row in rows]
    messages = [(compose(row, ctx.settings), recipients(row)) for row in texts]
    # The bare side's messages stay in memory for the whole run: out of the garbage collector's
    # sight, so that they do not slow down every collection the other side's work triggers.
    gc.freeze()
    sides: dict[str, Callable[[], int]] = {
        "bare": lambda: asyncio.run(bare_send(ctx, messages)),
        "ibmflow": lambda: asyncio.run(ibmflow_dispatch(ctx)),
    }
    runs: dict[str, list[float]] = {name: [] for name in sides}
    for i in range(repeat + 1):  # the first round is the untimed warm-up
        for name, run in sides.items():
            reset(ctx)
            start, cpu = time.perf_counter(), time.process_time()
            sent = run()
            spent, cpu = time.perf_counter() - start, time.process_time() - cpu
            if sent != len(messages):
                raise SystemExit(f"{name} sent {sent} of {len(messages)} mails")
            if i:
                runs[name].append(spent)
                say(
                    f"  repeat {i}: {name:8} {sent / spent:8,.0f} msg/s ({spent:.2f} s, "
                    f"CPU {cpu:.2f} s)"
                )
    figures: dict[str, Any] = {"mails": len(messages), "repeat": repeat}
    for name, spent in runs.items():
        figures[name] = {
            "s": statistics.median(spent),
            "msg_per_s": len(messages) / statistics.median(spent),
        }
    figures["ratio"] = figures["ibmflow"]["msg_per_s"] / figures["bare"]["msg_per_s"]
    figures["per_repeat_ratios"] = [
        b / i for b, i in zip(runs["bare"], runs["ibmflow"], strict=True)
    ]
    figures["met"] = figures["ratio"] >= TARGET_RATIO
    figures["expected_per_message_id"] = 2 * (repeat + 1)
    return figures


def report(f: dict[str, Any]) -> str:
    ratios = " / ".join(f"{r:.2f}" for r in f["per_repeat_ratios"])
    return "\n".join(
        [
            f"mail dispatch, {f['mails']:,} mails to a loopback aiosmtpd sink, median of {f['repeat']}:",
            f"  ibmflow  {f['ibmflow']['msg_per_s']:8,.0f} msg/s ({f['ibmflow']['s']:.2f} s)",
            f"  bare     {f['bare']['msg_per_s']:8,.0f} msg/s ({f['bare']['s']:.2f} s; aiosmtplib, one connection)",
            f"  ratio ibmflow / bare: {f['ratio']:.2f} (per repeat {ratios})",
            f"  sink: every Message-ID received {f['expected_per_message_id']} times: "
            + ("yes" if f["sink_ok"] else "NO"),
            f"  target >= {TARGET_RATIO}x bare: " + ("met" if f["met"] else "MISSED"),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    def say(text: str) -> None:
        if not args.json:
            print(text, file=sys.stderr, flush=True)

    folder = Path(tempfile.mkdtemp(prefix="ibmflow-bench-dispatch-"))
    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, "-c", SINK, str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert sink.stdout is not None and sink.stdout.readline().strip() == "ready"
        ctx = ibmflow_context(folder)
        ctx.settings = dataclasses.replace(
            ctx.settings, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none"
        )
        start = time.perf_counter()
        ids = build(ctx, args.mails)
        say(f"built {len(ids):,} mails in {time.perf_counter() - start:.1f} s under {folder}")
        figures = measure(ctx, args.repeat, say)
        ctx.db.dispose()
    finally:
        sink.send_signal(signal.SIGTERM)
        counts = json.loads(sink.communicate(timeout=60)[0].strip().splitlines()[-1])
        if args.keep:
            say(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    expected = figures["expected_per_message_id"]
    figures["sink_ok"] = len(counts) == figures["mails"] and set(counts.values()) == {expected}
    print(json.dumps(figures, indent=2) if args.json else report(figures))
    return 0 if figures["sink_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
