"""Commands on mail coming back: run the receiver, poll IMAP, review the quarantine, list what came."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ibmflow.cli import ActAs, app, out, print_json, state, table

if TYPE_CHECKING:
    from ibmflow.services.record_views import InboundMail

inbound_app = typer.Typer(
    help="Receive replies: `ibmflow inbound` runs the SMTP/LMTP receiver; `inbound poll` polls IMAP.",
    invoke_without_command=True,
)
quarantine_app = typer.Typer(
    help="Mails that could not be taken as answers: review, assign, reject.", no_args_is_help=True
)
app.add_typer(inbound_app, name="inbound")
app.add_typer(quarantine_app, name="quarantine")


# `mail received` sits beside the outgoing-mail commands, in their group.
from ibmflow.cli.mail import mail_app  # noqa: E402

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@inbound_app.callback()
def inbound_serve(
    ctx: typer.Context,
    lmtp: Annotated[
        bool | None,
        typer.Option("--lmtp/--smtp", help="Speak LMTP or SMTP (default: inbound.lmtp)."),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (inbound.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (inbound.port).")] = None,
) -> None:
    """Run the receiver the mail system forwards replies to, until Ctrl-C."""
    if ctx.invoked_subcommand is not None:
        return
    from ibmflow.entrypoints.receiver import LMTPController, controller

    context = state(ctx).context
    server = controller(context, lmtp=lmtp, host=host, port=port)
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _stop)
    server.start()
    try:
        protocol = "LMTP" if isinstance(server, LMTPController) else "SMTP"
        out.print(
            f"receiving {protocol} on {server.hostname}:{server.port} for "
            f"@{context.settings.mail_reply_address.rpartition('@')[2]}; Ctrl-C stops",
            highlight=False,
        )
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)
    out.print("receiver stopped", highlight=False)


@inbound_app.command("poll")
def inbound_poll(ctx: typer.Context) -> None:
    """Poll the IMAP mailbox once: receive every unread message, then mark it read."""
    from ibmflow.entrypoints.imap import poll_once

    count = poll_once(state(ctx).context)
    out.print(f"{count} message(s) received", highlight=False)


def _rows(entries: list[InboundMail]) -> list[list[Any]]:
    return [
        [
            e.id,
            e.received_at,
            e.process,
            e.sender,
            e.subject,
            e.classification,
            e.status,
            e.request,
            e.reason,
        ]
        for e in entries
    ]


_COLUMNS = ["#", "received (UTC)", "process", "from", "subject", "kind", "status", "request", "why"]


@quarantine_app.command("list")
def quarantine_list(
    ctx: typer.Context,
    process: Annotated[str | None, typer.Argument(help="Only this process's mails.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The mails waiting in quarantine, and why each could not be taken as an answer."""
    from ibmflow.services.inbound import list_quarantine

    entries = list_quarantine(state(ctx).context, process)
    if as_json:
        print_json([e.to_dict() for e in entries])
        return
    table("Quarantine", _COLUMNS, _rows(entries))


@quarantine_app.command("assign")
def quarantine_assign(
    ctx: typer.Context,
    inbound_id: Annotated[int, typer.Argument(metavar="ID", help="The mail's number.")],
    request: Annotated[int, typer.Option(help="The request this mail answers.")],
    as_: ActAs = None,
) -> None:
    """Take a quarantined mail as the answer to a request."""
    from ibmflow.services.inbound import assign

    s = state(ctx)
    assign(s.context, inbound_id, request, s.actor)
    out.print(f"mail #{inbound_id} recorded as the answer to request #{request}", highlight=False)


@quarantine_app.command("reject")
def quarantine_reject(
    ctx: typer.Context,
    inbound_id: Annotated[int, typer.Argument(metavar="ID", help="The mail's number.")],
    reason: Annotated[str, typer.Option(help="Why it is no answer (kept on the audit log).")],
    as_: ActAs = None,
) -> None:
    """Decide that a quarantined mail is no answer (the mail itself is kept)."""
    from ibmflow.services.inbound import reject

    s = state(ctx)
    reject(s.context, inbound_id, reason, s.actor)
    out.print(f"mail #{inbound_id} rejected", highlight=False)


@mail_app.command("received")
def mail_received(ctx: typer.Context, process: str, as_json: JsonFlag = False) -> None:
    """Every mail received for a process: answers, out-of-office, bounces, quarantined mails."""
    from ibmflow.services.inbound import list_inbound

    entries = list_inbound(state(ctx).context, process)
    if as_json:
        print_json([e.to_dict() for e in entries])
        return
    table(f"Mail received for {process}", _COLUMNS, _rows(entries))
