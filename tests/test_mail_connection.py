"""One SMTP connection per dispatch pass (issue 11, item 4): the mails of a pass go over one
connection, a new one after `smtp.max_per_connection` messages, and a connection the server drops
mid-pass is reopened without losing or sending twice a message.

Real parts: the database file, aiosmtpd on loopback, the real aiosmtplib client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from test_mail_delivery import ScriptedHandler, SmtpServer, dispatch, outbox, request_round

from ibmflow.config import load_settings
from ibmflow.mail.transport import SmtpTransport, build_transport
from ibmflow.services.context import Context
from ibmflow.services.dispatch import dispatch_once
from ibmflow.testing import FixedClock


class PeerHandler(ScriptedHandler):
    """Keeps, for each accepted message, the client's address (one per connection), and can drop
    the connection after a message (`drop_after`) or in the middle of one (`drop_in`)."""

    def __init__(self) -> None:
        super().__init__()
        self.peers: list[object] = []
        self.drop_after: Callable[[int], bool] = lambda accepted: False
        self.drop_in: set[int] = set()  # the numbers (from 1) of the DATA commands to cut
        self.datas = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.datas += 1
        if self.datas in self.drop_in:
            assert server.transport is not None
            server.transport.close()  # before any reply: the client cannot know the outcome
            return "451 never seen"
        reply = await super().handle_DATA(server, session, envelope)
        self.peers.append(session.peer)
        if self.drop_after(len(self.received)):
            # After the 250 has been written: the connection is closed between two messages.
            assert server.transport is not None
            asyncio.get_running_loop().call_soon(server.transport.close)
        return reply


@pytest.fixture
def peers() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.handler = PeerHandler()
    server.start()
    yield server
    server.stop()


def _handler(server: SmtpServer) -> PeerHandler:
    assert isinstance(server.handler, PeerHandler)
    return server.handler


def _once_each(server: SmtpServer, message_ids: list[str]) -> None:
    counts = {mid: len(got) for mid, got in server.handler.by_message_id().items()}
    assert counts == dict.fromkeys(message_ids, 1)


def test_the_mails_of_a_pass_go_over_one_connection(
    ctx: Context, peers: SmtpServer, tmp_path: Path
) -> None:
    request_round(ctx, tmp_path)
    rows = outbox(ctx, "request")
    assert len(rows) >= 6
    report = dispatch(ctx, peers)
    assert sorted(report.sent) == [r.id for r in rows]
    assert len(set(_handler(peers).peers)) == 1
    _once_each(peers, [r.message_id for r in rows])


def test_a_new_connection_after_max_per_connection_messages(
    ctx: Context, peers: SmtpServer, tmp_path: Path
) -> None:
    request_round(ctx, tmp_path)
    rows = outbox(ctx, "request")
    transport = SmtpTransport(
        host="127.0.0.1",
        port=peers.port,
        sender="ibmflow@ibmflow.invalid",
        security="none",
        timeout_s=5,
        max_per_connection=2,
    )
    report = asyncio.run(dispatch_once(ctx, transport, worker_id="test"))
    assert sorted(report.sent) == [r.id for r in rows]
    seen = _handler(peers).peers
    assert [seen.count(peer) for peer in dict.fromkeys(seen)] == [2] * (len(rows) // 2) + [1] * (
        len(rows) % 2
    )
    _once_each(peers, [r.message_id for r in rows])


def test_smtp_max_per_connection_is_a_setting_the_transport_follows() -> None:
    settings = load_settings(
        environ={"IBMFLOW_SMTP_HOST": "127.0.0.1", "IBMFLOW_SMTP_MAX_PER_CONNECTION": "3"}
    )
    transport = build_transport(settings)
    assert isinstance(transport, SmtpTransport) and transport.max_per_connection == 3
    assert load_settings(environ={}).smtp_max_per_connection == 100
    assert load_settings(environ={}).mail_batch == 200


def test_a_connection_the_server_closes_between_messages_is_reopened_losing_nothing(
    ctx: Context, peers: SmtpServer, tmp_path: Path
) -> None:
    """The server hangs up after every second message: the pass opens a new connection and
    sends every mail once, none deferred."""
    request_round(ctx, tmp_path)
    rows = outbox(ctx, "request")
    _handler(peers).drop_after = lambda accepted: accepted % 2 == 0
    report = dispatch(ctx, peers)
    assert sorted(report.sent) == [r.id for r in rows] and report.deferred == []
    assert len(set(_handler(peers).peers)) == (len(rows) + 1) // 2
    _once_each(peers, [r.message_id for r in rows])


def test_a_connection_lost_during_a_message_defers_it_and_sends_it_once_later(
    ctx: Context, peers: SmtpServer, tmp_path: Path, clock: FixedClock
) -> None:
    """Lost during the DATA of the third message: the server may or may not have it, so it is not
    sent again on the spot; the pass goes on over a new connection, and the next pass after the
    backoff sends the third once."""
    request_round(ctx, tmp_path)
    rows = outbox(ctx, "request")
    _handler(peers).drop_in = {3}
    first = dispatch(ctx, peers)
    assert first.deferred == [rows[2].id]
    assert sorted(first.sent) == [r.id for r in rows if r.id != rows[2].id]
    (deferred,) = [r for r in outbox(ctx, "request") if r.id == rows[2].id]
    assert deferred.status == "pending" and deferred.attempts == 1
    clock.advance(seconds=ctx.settings.mail_retry_base_s + 1)
    assert dispatch(ctx, peers).sent == [rows[2].id]
    _once_each(peers, [r.message_id for r in rows])
    assert all(r.status == "sent" for r in outbox(ctx, "request"))
