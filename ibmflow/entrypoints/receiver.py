"""ibmflow's own mail receiver (`ibmflow inbound`): an aiosmtpd SMTP or LMTP server that the mail
system forwards replies to.

It accepts mail only for the reply address's domain (550 for any other: it is no open relay), hands
each message to `services.inbound.receive` in a worker thread, and answers 250 once the message is
committed, or 451 when the database cannot take it, so that the sending server keeps it and retries.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from ibmflow.documents import MAX_DOCUMENT_BYTES
from ibmflow.mail.headers import has_control
from ibmflow.mail.reply_text import at_reply_domain
from ibmflow.services.context import Context
from ibmflow.services.inbound import receive

# The name it had before it moved out of `mail/`: log filters and alerts that match it keep working.
log = logging.getLogger("ibmflow.mail.receiver")

# The largest mail accepted: what the document store keeps whole.
MAX_MESSAGE_BYTES = MAX_DOCUMENT_BYTES


class InboundHandler:
    """The aiosmtpd handler: recipients on the reply domain only; each message kept and matched."""

    def __init__(self, ctx: Context, *, via: str) -> None:
        self.ctx = ctx
        self.via = via
        self.domain = ctx.settings.mail_reply_address.rpartition("@")[2]

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """Accept a recipient on the reply address's domain; refuse any other (no relaying)."""
        if has_control(address) or not at_reply_domain(
            address, self.ctx.settings.mail_reply_address
        ):
            return f"550 5.7.1 relaying denied: this server takes mail for @{self.domain} only"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Keep the message (in a worker thread: the database is synchronous), then answer."""
        raw = envelope.original_content or b""
        if isinstance(raw, str):  # pragma: no cover - only with decode_data, which is off
            raw = raw.encode("utf-8", "surrogateescape")
        recipients = list(envelope.rcpt_tos)
        mail_from = envelope.mail_from or ""
        if mail_from.strip() == "<>":
            mail_from = ""  # the null return path of bounces and auto-replies
        try:
            outcome = await asyncio.to_thread(
                receive,
                self.ctx,
                raw,
                via=self.via,
                envelope_from=mail_from,
                envelope_to=recipients,
            )
        except Exception:
            log.exception("inbound mail not stored; the sending server will retry")
            status = "451 4.3.0 temporary failure storing the message; try again later"
        else:
            status = f"250 2.0.0 OK: received as #{outcome.inbound_id} ({outcome.status})"
        if self.via == "lmtp":
            # LMTP answers once per recipient; ibmflow keeps the message once for all of them.
            return "\r\n".join([status] * max(1, len(recipients)))
        return status


class LMTPController(Controller):
    """aiosmtpd's threaded controller serving LMTP instead of SMTP."""

    def factory(self) -> SMTP:
        """An LMTP server with this controller's handler and settings."""
        return LMTP(self.handler, **self.SMTP_kwargs)


def controller(
    ctx: Context,
    *,
    lmtp: bool | None = None,
    host: str | None = None,
    port: int | None = None,
    max_bytes: int = MAX_MESSAGE_BYTES,
) -> Controller:
    """A (not yet started) receiver on the configured host and port; `start()` and `stop()` it."""
    use_lmtp = ctx.settings.inbound_lmtp if lmtp is None else lmtp
    handler = InboundHandler(ctx, via="lmtp" if use_lmtp else "smtp")
    kwargs: dict[str, Any] = {
        "hostname": host or ctx.settings.inbound_host,
        "port": port or ctx.settings.inbound_port,
        "data_size_limit": max_bytes,
        "server_hostname": handler.domain,
        "ident": "ibmflow inbound",
    }
    if use_lmtp:
        return LMTPController(handler, **kwargs)
    return Controller(handler, **kwargs)
