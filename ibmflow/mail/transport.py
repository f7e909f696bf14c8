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
from collections.abc import Sequence
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


async def _hang_up(client: aiosmtplib.SMTP, protocol: Any, limit_s: float = 5.0) -> None:
    """QUIT if still connected, close, and wait (bounded) until the connection is really gone.

    A failed QUIT never turns a delivered message into a failure: the server had accepted it.
    Over TLS, closing starts a close_notify exchange that needs the event loop for a few more
    turns; without waiting, `asyncio.run` can end first and leave the socket open.
    """
    if client.is_connected:
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await client.quit()
    client.close()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while protocol is not None and protocol.transport is not None and loop.time() < deadline:
        await asyncio.sleep(0.005)


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
    ) -> None:
        if security not in ("starttls", "tls", "none"):
            raise ValueError(f"unknown SMTP security {security!r}; starttls, tls or none")
        self.host, self.port, self.sender = host, port, sender
        self.security = security
        self.username, self.password = username, password
        self.timeout_s = timeout_s
        self.tls_context = tls_context

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

    async def send(self, message: EmailMessage, recipients: Sequence[str]) -> None:
        """Send over SMTP; raise a classified MailError on any failure."""
        client = aiosmtplib.SMTP(**self.options())
        protocol: Any = None
        try:
            try:
                await client.connect()
                protocol = client.protocol
                refused, _ = await client.send_message(
                    message, sender=self.sender, recipients=list(recipients)
                )
            finally:
                await _hang_up(client, protocol)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            # Every recipient refused: permanent if any refusal is, so the coordinator is told.
            codes = [r.code for r in exc.recipients]
            text = "; ".join(f"{r.recipient}: {_reply(r)}" for r in exc.recipients)
            if any(500 <= c < 600 for c in codes):
                raise PermanentMailError(text, code=max(codes)) from None
            raise TransientMailError(text, code=min(codes)) from None
        except aiosmtplib.SMTPResponseException as exc:
            # Connect, HELO, MAIL FROM, DATA and AUTH replies; SMTPConnectResponseError is one.
            raise _classify(exc.code, exc.message) from None
        except (TimeoutError, aiosmtplib.SMTPTimeoutError) as exc:
            raise TransientMailError(
                f"timed out talking to {self.host}:{self.port}: {exc}"
            ) from None
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected) as exc:
            raise TransientMailError(
                f"connection to {self.host}:{self.port} failed: {exc.message}"
            ) from None
        except aiosmtplib.SMTPNotSupported as exc:
            # E.g. STARTTLS required but not offered: a configuration problem that may be fixed
            # on the server side; keep the mail and retry rather than lose it.
            raise TransientMailError(f"{self.host}:{self.port}: {exc.message}") from None
        except aiosmtplib.SMTPException as exc:
            raise TransientMailError(f"{self.host}:{self.port}: {exc.message}") from None
        except (OSError, ssl.SSLError) as exc:
            raise TransientMailError(f"cannot reach {self.host}:{self.port}: {exc}") from None
        if refused:
            raise PartialDeliveryError(
                {
                    address: f"{r.code} {clean_header(r.message, limit=500)}"
                    for address, r in refused.items()
                }
            )


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
    )
