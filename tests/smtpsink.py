"""The outgoing SMTP server the tests deliver to: aiosmtpd on loopback, keeping every message it
accepts, with ibmflow's settings pointed at it; and a dispatch of the whole outbox to it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from helpers import free_port

from ibmflow.services.context import Context
from ibmflow.services.dispatch import build_transport, dispatch_once


class Sink:
    """The outgoing SMTP server's handler: keeps every message it accepts, with its envelope's
    recipients."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


@contextmanager
def outgoing(ctx: Context) -> Iterator[Sink]:
    """A running sink, and `ctx`'s SMTP settings pointed at it (plain SMTP on loopback)."""
    sink = Sink()
    server = Controller(sink, hostname="127.0.0.1", port=free_port())
    server.start()
    ctx.settings = replace(
        ctx.settings, smtp_host="127.0.0.1", smtp_port=server.port, smtp_security="none"
    )
    try:
        yield sink
    finally:
        server.stop()


def deliver(ctx: Context, sink: Sink) -> dict[str, list[EmailMessage]]:
    """Dispatch the whole outbox (nothing may fail or be deferred); return the mails that arrived
    by this dispatch, by recipient."""
    before = len(sink.messages)
    while True:
        report = asyncio.run(dispatch_once(ctx, build_transport(ctx.settings), worker_id="t"))
        if not report.claimed:
            break
        assert not report.failed and not report.deferred, report.summary()
    got: dict[str, list[EmailMessage]] = {}
    for to, message in sink.messages[before:]:
        for address in to:
            got.setdefault(address, []).append(message)
    return got
