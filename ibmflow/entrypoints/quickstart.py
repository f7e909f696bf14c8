"""The quick start's main job: the web console and the worker together, in one event loop.

The worker sweeps the chasing ladder, dispatches the outbox (into `var/mailbox/` when no SMTP server
is configured) and sends the weekly digest, while uvicorn serves the console and the answer links.
Ctrl-C or SIGTERM stops the server, then lets the worker finish the job in hand.
"""

from __future__ import annotations

import asyncio

from ibmflow.entrypoints.worker import start_worker
from ibmflow.services.context import Context
from ibmflow.web.server import build_server, stopped_by_sigterm


async def run_console(ctx: Context, *, host: str | None = None, port: int | None = None) -> None:
    """Serve until stopped, with the worker beside the server."""
    worker = await start_worker(ctx)
    server = build_server(ctx, host=host, port=port)
    try:
        await server.serve()
    except KeyboardInterrupt:  # uvicorn re-raises the signal that stopped it
        pass
    finally:
        await worker.stop()


def serve_console(ctx: Context, *, host: str | None = None, port: int | None = None) -> None:
    """Run `run_console` until Ctrl-C or SIGTERM, then return normally."""
    with stopped_by_sigterm():
        asyncio.run(run_console(ctx, host=host, port=port))
