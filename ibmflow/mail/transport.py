"""Sending composed messages: over SMTP (aiosmtplib) or into a local mailbox folder of `.eml` files.

Errors are sorted into two kinds the dispatcher acts on: `TransientMailError` (try again later: 4xx
replies, disconnects, timeouts, a server that is down) and `PermanentMailError` (5xx replies: the
address or the message is refused, and trying again would not help).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import tempfile
from collections.abc import AsyncIterator, Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

import aiosmtplib

from ibmflow.config import Settings
from ibmflow.errors import IbmflowError
from ibmflow.mail.compose import OUTBOX_HEADER
from ibmflow.mail.headers import clean_header


class MailError(IbmflowError):
    """A message could not be handed over; `reason` is the server's own words."""

    def __init__(self, reason: str, *, code: int | None = None) -> None:
        self.reason = clean_header(reason, limit=2000) or "no reason given"
        self.code = code
        super().__init__(f"{code} {self.reason}" if code else self.reason)


class TransientMailError(MailError):
    """Try again later: a 4xx reply, a disconnect, a timeout, a server that is down."""


class PermanentMailError(MailError):
    """Do not try again: a 5xx reply (unknown mailbox, message refused...)."""


class PartialDeliveryError(MailError):
    """The server took the message for some recipients and refused the others.

    The message is delivered (sending it again would duplicate it for those who got it); `refused`
    maps each refused address to the server's reason, for the coordinator.
    """

    def __init__(self, refused: dict[str, str]) -> None:
        self.refused = refused
        super().__init__("; ".join(f"{a}: {r}" for a, r in sorted(refused.items())))


class Transport(Protocol):
    """Hands one composed message to its recipients."""

    async def send(self, message: EmailMessage, recipients: Sequence[str]) -> None:
        """Send or raise TransientMailError / PermanentMailError / PartialDeliveryError."""
        ...


def _classify(code: int, text: str) -> MailError:
    # RFC 5321: 4yz is a transient negative completion, 5yz a permanent one. Any other code
    # where a reply was expected means a confused exchange: worth another try.
    if 500 <= code < 600:
        return PermanentMailError(text, code=code)
    return TransientMailError(text, code=code)


def _reply(exc: aiosmtplib.SMTPRecipientRefused) -> str:
    return f"{exc.code} {clean_header(exc.message, limit=500)}"


class _Client(aiosmtplib.SMTP):
    """aiosmtplib's client, telling two things it does not: whether the DATA of the message in
    hand began (a connection lost before that delivered nothing), and when its connection is gone
    (a future, so that hanging up waits without polling)."""

    data_started = False
    _gone: asyncio.Future[None] | None = None

    async def connect(self, *args: Any, **kwargs: Any) -> aiosmtplib.SMTPResponse:
        self._gone = asyncio.get_running_loop().create_future()
        try:
            return await super().connect(*args, **kwargs)
        except BaseException:
            self._gone = None  # no connection was made: nothing to wait for
            raise

    def _on_connection_lost(self, protocol: Any) -> None:
        if self._gone is not None and not self._gone.done():
            self._gone.set_result(None)
        super()._on_connection_lost(protocol)

    async def data(self, *args: Any, **kwargs: Any) -> aiosmtplib.SMTPResponse:
        self.data_started = True
        return await super().data(*args, **kwargs)

    async def hang_up(self, limit_s: float = 5.0) -> None:
        """QUIT if still connected, close, and wait (bounded) until the connection is really gone.

        A failed QUIT never turns a delivered message into a failure: the server had accepted it.
        Over TLS, closing starts a close_notify exchange that needs the event loop for a few more
        turns; without waiting, `asyncio.run` can end first and leave the socket open.
        """
        if self.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await self.quit()
        self.close()
        if self._gone is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._gone), limit_s)


def _classified(exc: Exception, where: str) -> MailError:
    """The MailError an exception of aiosmtplib (or of the socket under it) stands for."""
    if isinstance(exc, MailError):
        return exc
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        # Every recipient refused: permanent if any refusal is, so the coordinator is told.
        codes = [r.code for r in exc.recipients]
        text = "; ".join(f"{r.recipient}: {_reply(r)}" for r in exc.recipients)
        if any(500 <= c < 600 for c in codes):
            return PermanentMailError(text, code=max(codes))
        return TransientMailError(text, code=min(codes))
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        # Connect, HELO, MAIL FROM, DATA and AUTH replies; SMTPConnectResponseError is one.
        return _classify(exc.code, exc.message)
    if isinstance(exc, TimeoutError | aiosmtplib.SMTPTimeoutError):
        return TransientMailError(f"timed out talking to {where}: {exc}")
    if isinstance(exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPServerDisconnected):
        return TransientMailError(f"connection to {where} failed: {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        # E.g. STARTTLS required but not offered: a configuration problem that may be fixed on the
        # server side; keep the mail and retry rather than lose it.
        return TransientMailError(f"{where}: {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPException):
        return TransientMailError(f"{where}: {exc.message}")
    return TransientMailError(f"cannot reach {where}: {exc}")


# Raised when the connection was found closed: the server hung up an idle connection, or between
# two messages. Not SMTPConnectError: a server that cannot be reached is not tried twice.
_LOST = (aiosmtplib.SMTPServerDisconnected, ConnectionResetError, BrokenPipeError)
_FAILURES = (aiosmtplib.SMTPException, OSError, ssl.SSLError, TimeoutError)


class SmtpConnection:
    """One SMTP connection kept open across the messages of a dispatch pass.

    It connects for the first message, and again after `max_per_connection` messages or when the
    server has closed it. A connection found lost before a message's DATA began delivered nothing
    of it: the message goes again at once, once, on a new connection. Lost during DATA, the server
    may or may not have taken it: the message fails as transient (tried again later, with the same
    Message-ID), never sent twice on the spot.
    """

    def __init__(self, transport: SmtpTransport) -> None:
        self.transport = transport
        self.connections = 0  # how many were opened, for the curious (tests, benchmarks)
        self._client: _Client | None = None
        self._sent = 0

    async def _connected(self) -> _Client:
        client = self._client
        if client is not None and client.is_connected:
            if self._sent < self.transport.max_per_connection:
                return client
            await client.hang_up()  # the cap: a fresh connection from time to time
        elif client is not None:
            await client.hang_up()  # the server closed it: release what is left
        self._client, self._sent = None, 0
        client = _Client(**self.transport.options())
        await client.connect()
        self._client = client
        self.connections += 1
        return client

    async def send(self, message: EmailMessage, recipients: Sequence[str]) -> None:
        """Send over this connection; raise a classified MailError on any failure."""
        where = f"{self.transport.host}:{self.transport.port}"
        for last_try in (False, True):
            client: _Client | None = None
            try:
                client = await self._connected()
                client.data_started = False
                refused, _ = await client.send_message(
                    message, sender=self.transport.sender, recipients=list(recipients)
                )
            except _FAILURES as exc:
                lost = isinstance(exc, _LOST) and not isinstance(exc, aiosmtplib.SMTPConnectError)
                broken = not isinstance(
                    exc, aiosmtplib.SMTPResponseException | aiosmtplib.SMTPRecipientsRefused
                )
                if broken:  # a timeout, a lost connection: not fit for the next message
                    await self.close()
                if lost and client is not None and not client.data_started and not last_try:
                    continue
                raise _classified(exc, where) from None
            self._sent += 1
            if refused:
                raise PartialDeliveryError(
                    {
                        address: f"{r.code} {clean_header(r.message, limit=500)}"
                        for address, r in refused.items()
                    }
                )
            return

    async def close(self) -> None:
        """QUIT and close the connection, if one is open."""
        client, self._client, self._sent = self._client, None, 0
        if client is not None:
            await client.hang_up()


class SmtpTransport:
    """An SMTP submission server reached with aiosmtplib: STARTTLS, implicit TLS or plain."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 30,
        tls_context: ssl.SSLContext | None = None,
        max_per_connection: int = 100,
    ) -> None:
        if security not in ("starttls", "tls", "none"):
            raise ValueError(f"unknown SMTP security {security!r}; starttls, tls or none")
        self.host, self.port, self.sender = host, port, sender
        self.security = security
        self.username, self.password = username, password
        self.timeout_s = timeout_s
        self.tls_context = tls_context
        self.max_per_connection = max(1, max_per_connection)

    def options(self) -> dict[str, Any]:
        """The keyword arguments of `aiosmtplib.SMTP` for this server."""
        options: dict[str, Any] = {
            "hostname": self.host,
            "port": self.port,
            "timeout": self.timeout_s,
            "use_tls": self.security == "tls",
            # With "starttls" the upgrade is required, never skipped when the server does not
            # offer it: credentials and messages must not cross the network in clear.
            "start_tls": self.security == "starttls",
        }
        if self.tls_context is not None:
            options["tls_context"] = self.tls_context
        if self.username:
            options["username"] = self.username
            options["password"] = self.password or ""
        return options

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[SmtpConnection]:
        """One connection for many messages, closed (QUIT) at the end."""
        connection = SmtpConnection(self)
        try:
            yield connection
        finally:
            await connection.close()

    async def send(self, message: EmailMessage, recipients: Sequence[str]) -> None:
        """Send one message on a connection of its own; raise a classified MailError on failure."""
        async with self.connection() as connection:
            await connection.send(message, recipients)


@contextlib.asynccontextmanager
async def connected(transport: Transport) -> AsyncIterator[Transport]:
    """What a dispatch pass sends through: one SMTP connection for all its messages, or any other
    transport as it is."""
    if isinstance(transport, SmtpTransport):
        async with transport.connection() as connection:
            yield connection
    else:
        yield transport


class MailboxTransport:
    """No SMTP server configured: each message becomes `<outbox id>.eml` in a local folder.

    The quick start's embedded default; `ibmflow mail list` / `mail show` read it back.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, outbox_id: int | str) -> Path:
        """Where the message of an outbox row is (or will be) captured."""
        return self.folder / f"{outbox_id}.eml"

    async def send(self, message: EmailMessage, recipients: Sequence[str]) -> None:
        """Write the message atomically (a temporary file renamed into place)."""
        outbox_id = message.get(OUTBOX_HEADER)
        if not outbox_id or not str(outbox_id).isdigit():
            raise PermanentMailError(f"the message has no {OUTBOX_HEADER} header to name its file")
        try:
            self._write(self.path_for(str(outbox_id)), message.as_bytes())
        except OSError as exc:
            raise TransientMailError(f"cannot write to the mailbox {self.folder}: {exc}") from None

    def _write(self, target: Path, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            # A reader sees either no file or the whole message, never half of one.
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def build_transport(settings: Settings) -> SmtpTransport | MailboxTransport:
    """SMTP when `smtp.host` is configured, else the local mailbox under the data folder."""
    if settings.smtp_host is None:
        return MailboxTransport(settings.mailbox_dir)
    return SmtpTransport(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.mail_from_address,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password,
        timeout_s=settings.smtp_timeout_s,
        max_per_connection=settings.smtp_max_per_connection,
    )
