"""`ibmflow worker`: the chaser's sweep, the outbox dispatch, the IMAP poll and the weekly digest."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ibmflow.cli import app, out, print_json, state

if TYPE_CHECKING:
    from ibmflow.entrypoints.worker import Worker

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _log_to_stderr(level: int) -> None:
    """The worker's log lines on stderr; APScheduler's own only when something goes wrong."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    for name, level_ in (("ibmflow", level), ("apscheduler", logging.WARNING)):
        logger = logging.getLogger(name)
        if not any(getattr(h, "stream", None) is sys.stderr for h in logger.handlers):
            logger.addHandler(handler)
        logger.setLevel(level_)


@app.command("worker")
def worker_command(
    ctx: typer.Context,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Run each job once and exit (the digest only when its weekly moment passed less "
            "than a day ago): for cron and tests.",
        ),
    ] = False,
    sweep_every: Annotated[
        int | None,
        typer.Option(help="Seconds between sweeps (default: worker.sweep_every_s).", min=1),
    ] = None,
    dispatch_every: Annotated[
        int | None,
        typer.Option(
            help="Seconds between outbox dispatches (default: worker.dispatch_every_s).", min=1
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="With --once: the jobs' summaries as JSON.")
    ] = False,
) -> None:
    """Chase, send and receive on a schedule until SIGTERM or Ctrl-C, which let the job in hand
    finish. Several workers may run against the same database: each rung is sent once."""
    from ibmflow.entrypoints.worker import Schedule, Worker

    context = state(ctx).context
    # With --once the summaries go to stdout; the log shows only what went wrong.
    _log_to_stderr(logging.WARNING if once else logging.INFO)
    schedule = Schedule.of(
        context.settings, sweep_every_s=sweep_every, dispatch_every_s=dispatch_every
    )
    worker = Worker(context, schedule)
    if once:
        results = asyncio.run(worker.run_once())
        if as_json:
            print_json({"worker": worker.name, "jobs": results, "failed": dict(worker.failures)})
        else:
            for name, summary in results.items():
                out.print(f"{name}: {summary or 'failed (see the log above)'}", highlight=False)
        if worker.failures:
            raise typer.Exit(1)
        return
    asyncio.run(_run_until_signalled(worker))


async def _run_until_signalled(worker: Worker) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await worker.start()
        await stop.wait()
        logging.getLogger("ibmflow.worker").info(
            "stopping: letting the job in hand finish (a sweep after its current batch)"
        )
        await worker.stop()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
