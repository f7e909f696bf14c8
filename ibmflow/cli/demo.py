"""`ibmflow demo`: the quick start's main job, on the embedded defaults."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from ibmflow.cli import app, out, state
from ibmflow.services.context import Context

ADOPTED, IN_PROGRESS = "DEMO-1", "DEMO-2"


def _say(line: str) -> None:
    out.print(line, highlight=False, markup=False)


@app.command()
def demo(
    ctx: typer.Context,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve/--no-serve",
            help="Afterwards, serve the web console beside the worker (Ctrl-C stops).",
        ),
    ] = True,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: web.host).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: web.port).", min=1, max=65535)
    ] = None,
) -> None:
    """Set up the database, take a demo process from the coordinator's appointment to adoption,
    start a second one that is late, chase it, then serve the web console and run the worker."""
    from ibmflow import demo as scenario
    from ibmflow.config import console_url
    from ibmflow.services.accounts import ensure_demo_accounts
    from ibmflow.services.audit_log import verify_chain
    from ibmflow.services.chase import sweep
    from ibmflow.services.processes import list_processes
    from ibmflow.storage.migrate import upgrade

    context = state(ctx).context
    # Everything below, the worker included, mails links to where this run's console listens.
    context.settings = context.settings.listening_on(host, port)
    settings = context.settings
    if serve:  # before the setup, so no login is printed for a console that cannot come up
        from ibmflow.web.server import ensure_port_free

        ensure_port_free(settings.web_host, settings.web_port)
    upgrade(context.db)
    _say(f"ibmflow demo: database {context.db.url.split('@')[-1]}")
    taken = {p.process for p in list_processes(context)}
    if ADOPTED not in taken:
        scenario.drive(context, ADOPTED, say=_say)
    if IN_PROGRESS not in taken:
        _say(f"\nA second process, {IN_PROGRESS}, started 40 days ago and now late:")
        scenario.in_progress(context, IN_PROGRESS, say=_say)
    chased = sweep(context)
    _say(
        f"\nchaser: {chased.count('sent')} reminders and escalations sent, "
        f"{chased.count('deferred')} deferred to a working day"
    )
    chain = verify_chain(context)
    _say(f"audit chain: {'intact' if chain.ok else 'BROKEN'}, {chain.checked} events")
    _say(f"mails: {_dispatch(context)} sent to {_where(context)}")
    logins = ensure_demo_accounts(context, IN_PROGRESS, ADOPTED)
    address = console_url(settings.web_host, settings.web_port)
    _say("\nDemo logins (new passwords at each run):")
    for email, password, role in logins:
        _say(f"  {role:<14} {email:<32} {password}")
    if not serve:
        _say(
            "\nServe the console with `ibmflow serve` and run `ibmflow worker`, or `ibmflow demo`."
        )
        return
    _say(
        f"\nOpen {address}/ and log in. The worker chases and dispatches meanwhile; "
        "the captured mails are under Outgoing mail, on each process's page. Ctrl-C stops."
    )
    from ibmflow.entrypoints.quickstart import serve_console

    serve_console(context, host=settings.web_host, port=settings.web_port)


def _dispatch(context: Context) -> int:
    """Send what the outbox holds now (the worker sends what comes later)."""
    from ibmflow.mail.transport import build_transport
    from ibmflow.services.dispatch import dispatch_once

    transport, sent = build_transport(context.settings), 0
    while True:
        report = asyncio.run(dispatch_once(context, transport, worker_id="demo"))
        sent += len(report.sent)
        if not report.claimed:
            return sent


def _where(context: Context) -> str:
    if context.settings.smtp_host is None:
        return f"the local mailbox {context.settings.mailbox_dir}"
    return f"the SMTP server {context.settings.smtp_host}"
