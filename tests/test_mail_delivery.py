"""Delivery against a real SMTP server on loopback (aiosmtpd) with the real aiosmtplib client.

The request rounds are real ones (a process with the demo roster, requests sent through the service
layer); the server answers scripted codes; time moves only when the FixedClock is advanced.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
from helpers import free_port
from outboxtext import one_with_text, with_text
from scenarios import at_stakeholder_identification
from sqlmodel import col, select

from ibmflow.config import load_settings
from ibmflow.demo import COORDINATOR
from ibmflow.mail.compose import compose
from ibmflow.mail.transport import MailboxTransport, SmtpTransport, TransientMailError
from ibmflow.services import links, mailings, requests
from ibmflow.services.context import Context
from ibmflow.services.dispatch import DispatchReport, dispatch_once, retry_delay
from ibmflow.storage.tables import (
    AuditEventRow,
    InstitutionRow,
    LinkTokenRow,
    OutboxRow,
    PersonRow,
    ProcessRow,
    RequestRow,
)
from ibmflow.testing import FixedClock

KEY = "MAIL-TEST"
REPO = Path(__file__).resolve().parent.parent
CUSTOMS_FOCAL = "focal@customs.example"
LINK = re.compile(r"https?://[^\s\"<>]+/r/([A-Za-z0-9_-]{20,})")


@dataclasses.dataclass
class Received:
    """One message the server accepted: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


class ScriptedHandler:
    """An aiosmtpd handler that keeps what it accepts and answers scripted replies.

    `data_replies` are consumed one per DATA (a non-250 reply refuses that message);
    `rcpt_replies` answer RCPT for an address every time; `on_accept` runs after a message is
    stored and before the 250 goes back.
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.data_replies: list[str] = []
        self.rcpt_replies: dict[str, str] = {}
        self.on_accept: Callable[[], None] | None = None

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_replies:
            reply = self.data_replies.pop(0)
            if not reply.startswith("250"):
                return reply
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(
            Received(str(envelope.mail_from), list(envelope.rcpt_tos), raw, parsed)
        )
        if self.on_accept is not None:
            self.on_accept()
        return "250 2.0.0 Message accepted for delivery"

    def by_message_id(self) -> dict[str, list[Received]]:
        """The accepted messages grouped by their Message-ID header."""
        out: dict[str, list[Received]] = {}
        for item in self.received:
            out.setdefault(str(item.message["Message-ID"]), []).append(item)
        return out


class TrackedSMTP(SMTP):
    """aiosmtpd's SMTP session, telling its controller when the connection is gone."""

    def __init__(self, controller: TrackingController, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._controller = controller

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        self._controller.lost()


class TrackingController(Controller):
    """A Controller whose `stop` first waits for every connection to be closed.

    aiosmtpd's own `stop` cancels its tasks without closing the sessions' sockets: a session a
    client has just dropped (no QUIT) would be left unclosed and fail the test with a
    ResourceWarning.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open = 0
        self._changed = threading.Condition()

    def factory(self) -> SMTP:
        with self._changed:
            self._open += 1
        return TrackedSMTP(self, self.handler, **self.SMTP_kwargs)

    def lost(self) -> None:
        with self._changed:
            self._open -= 1
            self._changed.notify_all()

    def stop(self, no_assert: bool = False) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._open <= 0, timeout=10)
        super().stop(no_assert)


class SmtpServer:
    """A real SMTP server on a loopback port, started and stopped at will."""

    def __init__(self, **options: Any) -> None:
        self.port = free_port()
        self.handler = ScriptedHandler()
        self.options = options
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = TrackingController(
            self.handler, hostname="127.0.0.1", port=self.port, **self.options
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def transport(self) -> SmtpTransport:
        return SmtpTransport(
            host="127.0.0.1",
            port=self.port,
            sender="ibmflow@ibmflow.invalid",
            security="none",
            timeout_s=5,
        )


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def down() -> Iterator[SmtpServer]:
    """A server that is not running yet (its port is free); stopped at the end if started."""
    server = SmtpServer()
    yield server
    server.stop()


SET_ASIDE = "set aside by the test setup"


def prepare(ctx: Context, tmp_path: Path) -> None:
    """A process at stakeholder identification with the demo roster and an appointed coordinator,
    no request sent yet."""
    at_stakeholder_identification(ctx, KEY, tmp_path, starter=COORDINATOR, requests=False)
    # The setup's own mails (the step notifications of the advance) are not under test here: set
    # them aside so that each test sees only the mails it causes.
    with ctx.db.transaction() as tx:
        for row in tx.session.exec(select(OutboxRow)):
            row.status, row.sent_at, row.claimed_by = "sent", row.created_at, SET_ASIDE
            tx.session.add(row)


def request_round(ctx: Context, tmp_path: Path, codes: list[str] | None = None) -> list[int]:
    """Send the acknowledgement requests (to every permanent institution, or to `codes`)."""
    prepare(ctx, tmp_path)
    return requests.send_requests(
        ctx,
        KEY,
        kind="acknowledge_contact",
        actor=COORDINATOR,
        institutions=codes,
        scope="permanent",
    )


def dispatch(ctx: Context, server: SmtpServer, worker: str = "test") -> DispatchReport:
    return asyncio.run(dispatch_once(ctx, server.transport(), worker_id=worker))


def outbox(ctx: Context, kind: str | None = None) -> list[OutboxRow]:
    with ctx.db.reading() as session:
        query = select(OutboxRow).order_by(col(OutboxRow.id))
        query = query.where(col(OutboxRow.claimed_by).is_distinct_from(SET_ASIDE))
        if kind is not None:
            query = query.where(OutboxRow.kind == kind)
        rows = list(session.exec(query))
        session.expunge_all()  # keep them loaded: the read session rolls back (expires) on exit
        return with_text(ctx, rows)  # as the dispatcher renders them


def actions(ctx: Context, prefix: str = "mail.") -> list[tuple[str, str | None]]:
    with ctx.db.reading() as session:
        rows = session.exec(select(AuditEventRow).order_by(col(AuditEventRow.seq)))
        return [(r.action, r.entity) for r in rows if r.action.startswith(prefix)]


def header_names(raw: bytes) -> list[str]:
    """The names of the top-level header fields, read from the raw bytes (no parser involved)."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return [line.split(":", 1)[0] for line in head.split("\r\n") if line and line[0] not in " \t"]


# (a) ---------------------------------------------------------------------------------------------


def test_a_request_round_arrives_with_recipients_headers_threading_and_links(
    ctx: Context, smtp: SmtpServer, tmp_path: Path
) -> None:
    """Each focal point gets one mail: its own address only, the row's Message-ID, a per-request
    Reply-To, Auto-Submitted, and a working answer link in both the text and the HTML part."""
    created = request_round(ctx, tmp_path)
    rows = outbox(ctx, "request")
    assert len(rows) >= 6 and len(created) == len(rows)

    report = dispatch(ctx, smtp)
    assert set(report.sent) >= {r.id for r in rows} and not report.failed

    received = smtp.handler.by_message_id()
    with ctx.db.reading() as session:
        for row in rows:
            (got,) = received[row.message_id]
            request = session.get(RequestRow, row.request_id)
            assert request is not None and request.reply_key
            focal = session.get(PersonRow, request.focal_point_id)
            assert focal is not None
            message = got.message
            assert got.rcpt_tos == [focal.email] == row.to_addrs
            assert got.mail_from == "ibmflow@ibmflow.invalid"
            assert message["To"] == focal.email
            assert message["From"] == "ibmflow <ibmflow@ibmflow.invalid>"
            assert message["Subject"] == row.subject
            # Veterinary and Phytosanitary Inspection read French (the demo roster); the others
            # English.
            subject = str(message["Subject"])
            assert subject.startswith(f"[{KEY}] Acknowledgement of the contact request") or (
                subject.startswith(f"[{KEY}] Demande à ")
                and "Accusé de réception de la demande de contact" in subject
            )
            assert message["Message-ID"] == row.message_id == request.message_id
            assert message["Reply-To"] == f"replies+{request.reply_key}@ibmflow.invalid"
            assert message["Auto-Submitted"] == "auto-generated"
            assert message["X-Auto-Response-Suppress"] == "All"
            assert message["Date"].datetime == row.created_at
            assert message["Bcc"] is None and message["In-Reply-To"] is None
            assert message.get_content_type() == "multipart/alternative"
            text = message.get_body(("plain",))
            html = message.get_body(("html",))
            assert text is not None and html is not None
            text_body, html_body = text.get_content(), html.get_content()
            assert f"Dear {focal.name}," in text_body or f"Bonjour {focal.name}," in text_body
            (token,) = set(LINK.findall(text_body))
            assert LINK.findall(html_body) == [token]
            link = session.exec(
                select(LinkTokenRow).where(LinkTokenRow.token_hash == requests.token_hash(token))
            ).one()
            assert (link.request_id, link.person_id) == (request.id, focal.id)
    sent = {r.id: r for r in outbox(ctx, "request")}
    assert all(r.status == "sent" and r.sent_at == ctx.clock.now() for r in sent.values())
    assert all(r.attempts == 1 and r.claimed_until is None for r in sent.values())
    delivered = [entity for action, entity in actions(ctx) if action == "mail.delivered"]
    assert {f"outbox:{r.id}" for r in rows} <= set(delivered)


def test_an_answer_receipt_threads_under_its_request(
    ctx: Context, smtp: SmtpServer, tmp_path: Path, clock: FixedClock
) -> None:
    """The receipt of an answer by link carries In-Reply-To and References = the request's
    Message-ID, so the mail client shows it under the request."""
    request_round(ctx, tmp_path, codes=["MOF_CUSTOMS"])
    dispatch(ctx, smtp)
    (first,) = [r for r in smtp.handler.received if r.rcpt_tos == [CUSTOMS_FOCAL]]
    text = first.message.get_body(("plain",))
    assert text is not None
    (token,) = set(LINK.findall(text.get_content()))
    clock.advance(hours=2)
    links.answer_by_link(ctx, token, text="Confirmed.", fields={})
    report = dispatch(ctx, smtp)
    (receipt_row,) = outbox(ctx, "answer_receipt")
    assert report.sent == [receipt_row.id]
    (receipt,) = smtp.handler.by_message_id()[receipt_row.message_id]
    request_id = first.message["Message-ID"]
    assert receipt.rcpt_tos == [CUSTOMS_FOCAL]
    assert receipt.message["In-Reply-To"] == request_id
    assert receipt.message["References"] == request_id
    assert receipt.message["Subject"].startswith(f"[{KEY}] Received:")


# (b) ---------------------------------------------------------------------------------------------


def test_a_451_then_250_is_delivered_exactly_once(
    ctx: Context, smtp: SmtpServer, tmp_path: Path, clock: FixedClock
) -> None:
    """A temporary refusal keeps the row pending with a later try; the next pass delivers it once."""
    request_round(ctx, tmp_path, codes=["MOF_CUSTOMS"])
    rows = outbox(ctx, "request")
    smtp.handler.data_replies = ["451 4.3.0 Mail server temporarily rejected message"]

    first = dispatch(ctx, smtp)
    deferred = outbox(ctx, "request")[0]
    assert first.deferred == [deferred.id] and first.sent == [r.id for r in rows[1:]]
    assert deferred.status == "pending" and deferred.attempts == 1
    assert deferred.last_error == "451 4.3.0 Mail server temporarily rejected message"
    assert ctx.clock.now() < deferred.next_attempt_at
    assert dispatch(ctx, smtp).claimed == []  # not due yet: nothing is retried early

    clock.advance(seconds=ctx.settings.mail_retry_base_s + 1)
    second = dispatch(ctx, smtp)
    assert second.sent == [deferred.id]
    counts = {mid: len(got) for mid, got in smtp.handler.by_message_id().items()}
    assert counts == {r.message_id: 1 for r in rows}
    final = outbox(ctx, "request")[0]
    assert (final.status, final.attempts, final.last_error) == ("sent", 2, None)
    assert ("mail.deferred", f"outbox:{deferred.id}") in actions(ctx)


# (c) ---------------------------------------------------------------------------------------------


def test_a_550_fails_the_mail_with_the_reason_and_tells_the_coordinator(
    ctx: Context, smtp: SmtpServer, tmp_path: Path
) -> None:
    """A permanent refusal is not retried: the row is failed with the server's words, and the
    coordinator gets a delivery_failure mail, itself delivered by the next pass."""
    request_round(ctx, tmp_path, codes=["MOF_CUSTOMS"])
    reason = "550 5.1.1 <focal@customs.example>: Recipient address rejected: User unknown"
    smtp.handler.rcpt_replies[CUSTOMS_FOCAL] = reason

    report = dispatch(ctx, smtp)
    (failed,) = [r for r in outbox(ctx, "request") if r.to_addrs == [CUSTOMS_FOCAL]]
    assert report.failed == [failed.id]
    assert failed.status == "failed" and failed.attempts == 1 and failed.sent_at is None
    assert failed.last_error is not None and reason in failed.last_error
    (notice,) = outbox(ctx, "delivery_failure")
    assert notice.to_addrs == [COORDINATOR] and notice.status == "pending"
    assert CUSTOMS_FOCAL in notice.subject
    assert reason in notice.text_body and f"ibmflow mail show {failed.id}" in notice.text_body
    assert ("mail.failed", f"outbox:{failed.id}") in actions(ctx)

    assert dispatch(ctx, smtp).sent == [notice.id]
    (got,) = smtp.handler.by_message_id()[notice.message_id]
    assert got.rcpt_tos == [COORDINATOR]
    assert failed.message_id not in smtp.handler.by_message_id()  # never accepted
    assert dispatch(ctx, smtp).claimed == []  # a failed row is never picked up again


def test_a_failing_delivery_failure_notice_causes_no_further_notice(
    ctx: Context, smtp: SmtpServer, tmp_path: Path
) -> None:
    """When the coordinator's own address refuses mail, the notice fails and nothing loops."""
    request_round(ctx, tmp_path, codes=["MOF_CUSTOMS"])
    smtp.handler.rcpt_replies[CUSTOMS_FOCAL] = "550 5.1.1 unknown"
    smtp.handler.rcpt_replies[COORDINATOR] = "550 5.1.1 unknown too"
    dispatch(ctx, smtp)
    dispatch(ctx, smtp)
    (notice,) = outbox(ctx, "delivery_failure")
    assert notice.status == "failed"
    assert dispatch(ctx, smtp).claimed == []


def test_temporary_failures_give_up_after_the_maximum_attempts(
    ctx: Context, smtp: SmtpServer, tmp_path: Path, clock: FixedClock
) -> None:
    """A mail refused with 4xx on every try fails after mail.max_attempts, and the coordinator is
    told; until then each try is spaced by the backoff."""
    ctx.settings = dataclasses.replace(ctx.settings, mail_max_attempts=3)
    request_round(ctx, tmp_path, codes=["MOF_CUSTOMS"])
    smtp.handler.rcpt_replies[CUSTOMS_FOCAL] = "450 4.2.0 Mailbox busy"
    (row,) = [r for r in outbox(ctx, "request") if r.to_addrs == [CUSTOMS_FOCAL]]
    for attempt in (1, 2, 3):
        dispatch(ctx, smtp)
        (now,) = [r for r in outbox(ctx, "request") if r.id == row.id]
        assert now.attempts == attempt
        clock.advance(days=1, seconds=1)
    assert now.status == "failed"
    assert now.last_error is not None and "gave up after 3 tries" in now.last_error
    assert "450 4.2.0 Mailbox busy" in now.last_error
    (notice,) = outbox(ctx, "delivery_failure")
    assert notice.to_addrs == [COORDINATOR]


# (d) ---------------------------------------------------------------------------------------------


def test_the_server_down_loses_nothing_and_delivers_once_it_is_back(
    ctx: Context, down: SmtpServer, tmp_path: Path, clock: FixedClock
) -> None:
    request_round(ctx, tmp_path)
    rows = outbox(ctx, "request")

    report = dispatch(ctx, down)
    assert sorted(report.deferred) == [r.id for r in rows] and not report.sent
    for row in outbox(ctx, "request"):
        assert row.status == "pending" and row.attempts == 1
        assert row.last_error is not None and f"127.0.0.1:{down.port}" in row.last_error
        assert row.next_attempt_at > ctx.clock.now()

    down.start()
    clock.advance(seconds=ctx.settings.mail_retry_base_s + 1)
    report = dispatch(ctx, down)
    assert sorted(report.sent) == [r.id for r in rows]
    counts = {mid: len(got) for mid, got in down.handler.by_message_id().items()}
    assert counts == {r.message_id: 1 for r in rows}
    assert all(r.status == "sent" for r in outbox(ctx, "request"))


def test_the_backoff_doubles_with_full_jitter_and_is_capped_at_a_day() -> None:
    class Top:
        """A random source that always draws the top of the range."""

        def uniform(self, low: float, high: float) -> float:
            return high

    top: Any = Top()
    assert [retry_delay(n, 30, top).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert retry_delay(30, 30, top).total_seconds() == 86400
    assert all(1 <= retry_delay(3, 30).total_seconds() <= 120 for _ in range(50))


def test_dispatchers_running_at_once_send_each_mail_once(
    ctx: Context, smtp: SmtpServer, tmp_path: Path
) -> None:
    """Four dispatchers claiming at the same moment (SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on
    SQLite) never claim the same row twice."""
    request_round(ctx, tmp_path)
    rows = outbox(ctx, "request")
    barrier = threading.Barrier(4)
    reports: list[DispatchReport] = []

    def worker(name: str) -> None:
        barrier.wait(10)
        reports.append(asyncio.run(dispatch_once(ctx, smtp.transport(), worker_id=name, batch=2)))

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    claimed = [i for report in reports for i in report.claimed]
    assert len(claimed) == len(set(claimed)) == min(8, len(rows))
    counts = {mid: len(got) for mid, got in smtp.handler.by_message_id().items()}
    assert set(counts.values()) == {1}


# transport ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    if shutil.which("openssl") is None:
        reason = "the openssl command is needed to make a test certificate"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; install Debian's openssl")
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def one_row(**changes: Any) -> OutboxRow:
    """An outbox row as `enqueue` writes it, without a database."""
    now = FixedClock().now()
    values: dict[str, Any] = {
        "id": 1,
        "kind": "step_entered",
        "to_addrs": [CUSTOMS_FOCAL],
        "subject": "[MAIL-TEST] Now under way: Objectives",
        "text_body": "Plain text.\n",
        "html_body": "<p>HTML</p>\n",
        "message_id": "<ibmflow.0123456789abcdef@ibmflow.invalid>",
        "next_attempt_at": now,
        "created_at": now,
    }
    return OutboxRow(**{**values, **changes})


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_starttls_and_implicit_tls_deliver_with_credentials(
    certificate: tuple[Path, Path], security: str
) -> None:
    """Both TLS modes reach a real TLS server, and the credentials are given only over TLS."""
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        logins.append((data.login, data.password))
        return AuthResult(success=True)

    options: dict[str, Any] = {"authenticator": authenticator, "auth_required": True}
    if security == "tls":
        # aiosmtpd does not see implicit TLS as TLS when deciding to offer AUTH: tell it not to
        # wait for a STARTTLS that will never come.
        options.update(ssl_context=server_tls, auth_required=False, auth_require_tls=False)
    else:
        options.update(tls_context=server_tls, require_starttls=True)
    server = SmtpServer(**options)
    server.start()
    try:
        transport = SmtpTransport(
            host="127.0.0.1",
            port=server.port,
            sender="ibmflow@ibmflow.invalid",
            security=security,
            username="ibmflow",
            password="s3cret",
            timeout_s=5,
            tls_context=ssl.create_default_context(cafile=str(cert)),
        )
        settings = load_settings(config_path=REPO / "config.toml", environ={})
        asyncio.run(transport.send(compose(one_row(), settings), [CUSTOMS_FOCAL]))
    finally:
        server.stop()
    assert logins == [(b"ibmflow", b"s3cret")]
    (got,) = server.handler.received
    assert got.message["Message-ID"] == "<ibmflow.0123456789abcdef@ibmflow.invalid>"


def test_starttls_is_required_not_skipped_when_the_server_does_not_offer_it(
    smtp: SmtpServer,
) -> None:
    """With security "starttls" a server without STARTTLS gets nothing in clear: the try fails
    as transient (a configuration to fix) and the mail stays in the outbox."""
    transport = SmtpTransport(
        host="127.0.0.1", port=smtp.port, sender="ibmflow@ibmflow.invalid", timeout_s=5
    )
    settings = load_settings(config_path=REPO / "config.toml", environ={})
    with pytest.raises(TransientMailError, match="STARTTLS"):
        asyncio.run(transport.send(compose(one_row(), settings), [CUSTOMS_FOCAL]))
    assert smtp.handler.received == []


def test_a_mail_refused_for_some_recipients_is_sent_and_the_coordinator_told(
    ctx: Context, smtp: SmtpServer, tmp_path: Path
) -> None:
    """One refused recipient out of two: the mail counts as sent (sending again would duplicate
    it for the other), the refusal is kept, and the coordinator is told about that address."""
    prepare(ctx, tmp_path)
    with ctx.db.transaction() as tx:
        process = tx.session.exec(select(ProcessRow).where(ProcessRow.key == KEY)).one()
        mailings.send(
            ctx,
            tx,
            process,
            "step_completed",
            [CUSTOMS_FOCAL, "visa@mfa.example"],
            {"step": {"id": "a", "title": "A step"}, "next_step": None},
            ctx.clock.now(),
        )
    smtp.handler.rcpt_replies["visa@mfa.example"] = "550 5.1.1 No such user"
    report = dispatch(ctx, smtp)
    (row,) = outbox(ctx, "step_completed")
    assert report.sent == [row.id]
    assert row.status == "sent" and row.last_error == "visa@mfa.example: 550 5.1.1 No such user"
    (got,) = smtp.handler.received
    assert got.rcpt_tos == [CUSTOMS_FOCAL]
    (notice,) = outbox(ctx, "delivery_failure")
    assert notice.to_addrs == [COORDINATOR] and "visa@mfa.example" in notice.subject
    assert CUSTOMS_FOCAL not in notice.subject


def test_a_row_another_dispatcher_took_during_a_slow_delivery_is_left_to_it(
    ctx: Context, smtp: SmtpServer, tmp_path: Path, clock: FixedClock
) -> None:
    """A delivery slower than the lease lets another dispatcher take the rest of the batch: the
    first one then sends none of it (its claim renewal finds them no longer its own). The lease
    must outlast one delivery; `mail.lease_s` says so."""
    request_round(ctx, tmp_path, codes=["MOF_CUSTOMS"])
    rows = outbox(ctx, "request")
    assert len(rows) == 2  # the Customs focal point and their deputy
    other: list[DispatchReport] = []

    def take_over() -> None:
        run = lambda: other.append(  # noqa: E731 - the server's thread has its loop running
            asyncio.run(dispatch_once(ctx, MailboxTransport(tmp_path / "other"), worker_id="other"))
        )
        thread = threading.Thread(target=run)
        thread.start()
        thread.join(60)

    def slow_first_delivery() -> None:
        smtp.handler.on_accept = None
        clock.advance(seconds=ctx.settings.mail_lease_s + 1)
        take_over()

    smtp.handler.on_accept = slow_first_delivery
    report = dispatch(ctx, smtp)
    assert rows[1].id in report.skipped and rows[1].id not in report.sent
    [taken] = other
    # The other took the mail in hand too (its claim had run out): at most that one duplicate.
    assert taken.sent == [r.id for r in rows]
    assert [r.status for r in outbox(ctx, "request")] == ["sent", "sent"]
    counts = {mid: len(got) for mid, got in smtp.handler.by_message_id().items()}
    assert counts == {rows[0].message_id: 1}


# (e) ---------------------------------------------------------------------------------------------

_VICTIM = """
import asyncio, sys
from datetime import datetime
from ibmflow.bootstrap import bootstrap
from ibmflow.config import load_settings
from ibmflow.services.dispatch import build_transport, dispatch_once
from ibmflow.testing import FixedClock

settings = load_settings()
ctx = bootstrap(settings, clock=FixedClock(datetime.fromisoformat(sys.argv[1])))
asyncio.run(dispatch_once(ctx, build_transport(settings), worker_id="victim"))
print("the dispatcher was not killed")
"""


def test_a_dispatcher_killed_after_acceptance_resends_once_with_the_same_message_id(
    ctx: Context,
    smtp: SmtpServer,
    env: dict[str, str],
    tmp_path: Path,
    clock: FixedClock,
) -> None:
    """SIGKILL between the server's acceptance and the marking: after the lease the row is sent
    again, at most one duplicate per row, both copies with the same Message-ID."""
    request_round(ctx, tmp_path, codes=["MOF_CUSTOMS"])
    rows = outbox(ctx, "request")
    started = threading.Event()
    victim: dict[str, int] = {}

    def kill_dispatcher() -> None:
        smtp.handler.on_accept = None  # only the first accepted message
        assert started.wait(30)
        os.kill(victim["pid"], signal.SIGKILL)

    smtp.handler.on_accept = kill_dispatcher
    child_env = {
        **os.environ,
        **env,
        "IBMFLOW_SMTP_HOST": "127.0.0.1",
        "IBMFLOW_SMTP_PORT": str(smtp.port),
        "IBMFLOW_SMTP_SECURITY": "none",
    }
    child_env.pop("IBMFLOW_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", _VICTIM, clock.now().isoformat()],
        env=child_env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    victim["pid"] = proc.pid
    started.set()
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, stdout.decode() + stderr.decode()

    (accepted,) = smtp.handler.received
    in_flight = [
        r for r in outbox(ctx, "request") if r.message_id == accepted.message["Message-ID"]
    ]
    (stuck,) = in_flight
    assert stuck.status == "pending" and stuck.claimed_by == "victim"
    clock.advance(seconds=59)
    assert dispatch(ctx, smtp).claimed == []  # the lease (mail.lease_s, 60 s) still holds

    clock.advance(seconds=1)
    report = dispatch(ctx, smtp)
    assert sorted(report.sent) == [r.id for r in rows]
    copies = smtp.handler.by_message_id()
    assert {mid: len(got) for mid, got in copies.items()} == {
        r.message_id: 2 if r.id == stuck.id else 1 for r in rows
    }
    first, second = copies[stuck.message_id]
    assert first.message["Message-ID"] == second.message["Message-ID"] == stuck.message_id
    assert first.raw == second.raw  # the very same message, byte for byte
    assert all(r.status == "sent" for r in outbox(ctx, "request"))


# (f) ---------------------------------------------------------------------------------------------


def test_cr_lf_in_names_titles_and_settings_never_inject_a_header(
    ctx: Context, smtp: SmtpServer, tmp_path: Path
) -> None:
    """Names and titles that reached the database with CR/LF and "Bcc: evil@x" (the roster refuses
    them; an edited database does not), and a sender name configured the same way, end up inside
    one header line or in the body: the received message has no Bcc and goes to one recipient."""
    evil = "Rachid\r\nBcc: evil@x.example\r\nX-Injected: yes"
    prepare(ctx, tmp_path)
    with ctx.db.transaction() as tx:
        process = tx.session.exec(select(ProcessRow).where(ProcessRow.key == KEY)).one()
        process.title = "Strategy\r\nBcc: evil@x.example"
        person = tx.session.exec(
            select(PersonRow).where(
                PersonRow.process_id == process.id, PersonRow.email == CUSTOMS_FOCAL
            )
        ).one()
        person.name = evil
        customs = tx.session.exec(
            select(InstitutionRow).where(
                InstitutionRow.process_id == process.id, InstitutionRow.code == "MOF_CUSTOMS"
            )
        ).one()
        customs.short_name = "Customs\nBcc: evil@x.example"
        tx.session.add_all([process, person, customs])
    ctx.settings = dataclasses.replace(
        ctx.settings, mail_from_name='ibmflow"\r\nBcc: evil@x.example'
    )
    requests.send_requests(
        ctx, KEY, kind="acknowledge_contact", actor=COORDINATOR, institutions=["MOF_CUSTOMS"]
    )
    with ctx.db.transaction() as tx:  # and a row edited by hand after it was written
        (row,) = [r for r in tx.session.exec(select(OutboxRow)) if r.to_addrs == [CUSTOMS_FOCAL]]
        row = one_with_text(ctx, row)  # its text written on it, then edited
        row.subject = (row.subject or "") + "\r\nBcc: evil@x.example"
        row.references = "<a@b>\r\nBcc: evil@x.example"
        tx.session.add(row)

    report = dispatch(ctx, smtp)
    assert report.sent and not report.failed
    assert smtp.handler.received
    for got in smtp.handler.received:
        names = header_names(got.raw)
        assert "Bcc" not in names and "X-Injected" not in names
        assert sorted(names) == sorted(
            [
                "From",
                "To",
                "Subject",
                "Date",
                "Message-ID",
                "Reply-To",
                "Auto-Submitted",
                "X-Auto-Response-Suppress",
                "X-Ibmflow-Outbox-Id",
                "Content-Type",
                "MIME-Version",
                *(["References"] if got.message["References"] else []),
            ]
        )
        assert "evil@x.example" not in got.rcpt_tos
        assert got.rcpt_tos == [got.message["To"]]
        assert "\r" not in str(got.message["Subject"]) and "\n" not in str(got.message["Subject"])
    customs_mail = [g for g in smtp.handler.received if g.rcpt_tos == [CUSTOMS_FOCAL]]
    assert customs_mail
    for got in customs_mail:
        assert "Bcc: evil@x.example" in str(got.message["Subject"])  # kept, on the one line
        assert got.message["From"].addresses[0].addr_spec == "ibmflow@ibmflow.invalid"
        assert got.message["References"] == "<a@b>"
        body = got.message.get_body(("plain",))
        assert body is not None and "Rachid" in body.get_content()
