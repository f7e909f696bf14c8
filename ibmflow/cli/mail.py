"""Commands on outgoing mail: preview the templates, list and show the outbox, run the dispatcher."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import socket
import sys
from typing import Annotated

import typer

from ibmflow.cli import app as root
from ibmflow.cli import err, out, print_json, state, table
from ibmflow.errors import IbmflowError, InvalidCommand
from ibmflow.services.common import iso
from ibmflow.services.outgoing import get_mail, list_mail, show_mail

mail_app = typer.Typer(help="Outgoing mail: templates, the outbox, delivery.", no_args_is_help=True)
root.add_typer(mail_app, name="mail")

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@mail_app.command("preview")
def mail_preview(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="The message kind, e.g. request or vote.")],
    html: Annotated[bool, typer.Option("--html", help="Print only the HTML part.")] = False,
    language: Annotated[
        str | None,
        typer.Option("--language", help="The language to render in (default: the deployment's)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Render a message kind with built-in sample data: the subject, then the text part
    (`--html`: the HTML part alone, to save as a file; `--json`: subject, text and HTML), in
    `--language` (e.g. fr) or the deployment's language."""
    from ibmflow.mail.render import MESSAGE_KINDS, Renderer
    from ibmflow.mail.samples import sample_context

    if kind not in MESSAGE_KINDS:
        raise InvalidCommand(f"unknown message kind {kind!r}; one of {', '.join(MESSAGE_KINDS)}.")
    from ibmflow.i18n import NAMES

    if language is not None and language not in NAMES:
        raise InvalidCommand(f"unknown language {language!r}; one of {', '.join(NAMES)}.")
    settings = state(ctx).context.settings
    mail = Renderer(settings.notifications_dir, settings.language).render(
        kind, sample_context(kind), language
    )
    if as_json:
        print_json(
            {
                "kind": kind,
                "language": language or settings.language,
                "subject": mail.subject,
                "text": mail.text,
                "html": mail.html,
            }
        )
    elif html:
        sys.stdout.write(mail.html if mail.html.endswith("\n") else mail.html + "\n")
    else:
        sys.stdout.write(f"Subject: {mail.subject}\n\n{mail.text}")


@mail_app.command("list")
def mail_list(
    ctx: typer.Context,
    process: Annotated[str | None, typer.Argument(help="Only this process's mail.")] = None,
    status: Annotated[str | None, typer.Option(help="pending, sent or failed.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The outbox: every mail, its recipients and whether it was delivered."""
    rows = list_mail(state(ctx).context, process, status)
    if as_json:
        print_json([r.to_dict() for r in rows])
        return
    table(
        "Outbox (details: ibmflow mail show ID)",
        ["#", "process", "kind", "to", "subject", "status", "tries", "created (UTC)", "error"],
        [
            [
                r.id,
                r.process,
                r.kind,
                ", ".join(r.to),
                r.subject,
                r.status,
                r.attempts,
                iso(r.created_at),
                r.last_error,
            ]
            for r in rows
        ],
    )


@mail_app.command("show")
def mail_show(
    ctx: typer.Context,
    outbox_id: Annotated[int, typer.Argument(metavar="ID", help="The mail's number.")],
    raw: Annotated[bool, typer.Option("--raw", help="The whole message as sent.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """One mail: its headers and text (`--raw`: the message itself, as captured or sent)."""
    from ibmflow.mail.compose import compose
    from ibmflow.mail.transport import MailboxTransport

    context = state(ctx).context
    if as_json:
        print_json(show_mail(context, outbox_id).to_dict())
        return
    row = get_mail(context, outbox_id)
    if raw:
        captured = MailboxTransport(context.settings.mailbox_dir).path_for(outbox_id)
        data = (
            captured.read_bytes()
            if captured.is_file()
            else compose(row, context.settings).as_bytes()
        )
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    fields = [
        ("Mail", f"#{row.id} ({row.kind}), {row.status}, {row.attempts} tries"),
        ("Message-ID", row.message_id),
        ("Date", iso(row.created_at)),
        ("To", ", ".join(row.to_addrs)),
        ("Subject", row.subject),
        ("Reply-To", row.reply_to),
        ("In-Reply-To", row.in_reply_to),
        ("Sent", iso(row.sent_at)),
        ("Error", row.last_error),
    ]
    for name, value in fields:
        if value:
            out.print(f"{name + ':':<13}{value}", highlight=False, markup=False)
    out.print("")
    sys.stdout.flush()
    text = row.text_body or ""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


@mail_app.command("dispatch")
def mail_dispatch(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="One pass, then stop.")] = False,
    every: Annotated[float, typer.Option(help="Seconds between passes.", min=0.5)] = 5.0,
    as_json: JsonFlag = False,
) -> None:
    """Send the due mails from the outbox: once, or every few seconds until SIGTERM or Ctrl-C,
    which let the mail in hand be delivered and marked first (exit 0)."""
    from ibmflow.services.dispatch import DispatchReport, build_transport, dispatch_once

    context = state(ctx).context
    transport = build_transport(context.settings)
    worker = f"{socket.gethostname()}:{os.getpid()}"

    def show(report: DispatchReport) -> None:
        if as_json:
            print_json(dataclasses.asdict(report))
        elif report.claimed or once:
            out.print(report.summary(), highlight=False)

    async def loop() -> None:
        stopping = asyncio.Event()
        running = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            running.add_signal_handler(signum, stopping.set)
        try:
            while not stopping.is_set():
                try:
                    show(
                        await dispatch_once(
                            context, transport, worker_id=worker, stop=stopping.is_set
                        )
                    )
                except IbmflowError as exc:
                    if once:
                        raise
                    # A locked or unreachable database: keep the dispatcher running, try next pass.
                    err.print(f"dispatch pass failed: {exc.message}", highlight=False, markup=False)
                if once:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), every)
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                running.remove_signal_handler(signum)

    if not once:
        out.print(
            f"dispatching every {every:g} s with {type(transport).__name__}; "
            "SIGTERM or Ctrl-C stops after the mail in hand"
        )
    asyncio.run(loop())
    if not once:
        out.print("dispatcher stopped")
