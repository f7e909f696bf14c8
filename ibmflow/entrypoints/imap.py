"""Polling an IMAP mailbox for replies (the alternative to ibmflow's own receiver).

Each unread message is fetched without marking it (`BODY.PEEK[]`), kept and matched by
`services.inbound.receive`, and marked `\\Seen` only once that transaction has committed: a crash in
between leaves it unread, and the next poll's copy is recognised as the same message.
"""

from __future__ import annotations

import contextlib
import imaplib
import ipaddress
import logging
import socket
import ssl

from ibmflow.config import Settings
from ibmflow.errors import ConfigError, IbmflowError
from ibmflow.services.context import Context
from ibmflow.services.inbound import receive

# The name it had before it moved out of `mail/`: log filters and alerts that match it keep working.
log = logging.getLogger("ibmflow.mail.imap")
TIMEOUT_S = 60


class MailboxUnavailable(IbmflowError):
    """The IMAP server refused the connection, the login or the folder."""


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


def connect(settings: Settings) -> imaplib.IMAP4:
    """A logged-in IMAP connection: implicit TLS (`imap.ssl`), else STARTTLS when the server offers
    it; a plain connection only to a server on this machine."""
    host, user, password = settings.imap_host, settings.imap_username, settings.imap_password
    if not host or not user or password is None:
        raise ConfigError(
            "IMAP polling needs imap.host, imap.username and imap.password; set them in the "
            "configuration file or in IBMFLOW_IMAP_HOST, IBMFLOW_IMAP_USERNAME, IBMFLOW_IMAP_PASSWORD."
        )
    context = ssl.create_default_context()
    conn: imaplib.IMAP4 | None = None
    try:
        if settings.imap_ssl:
            conn = imaplib.IMAP4_SSL(
                host, settings.imap_port, ssl_context=context, timeout=TIMEOUT_S
            )
        else:
            conn = imaplib.IMAP4(host, settings.imap_port, timeout=TIMEOUT_S)
            if "STARTTLS" in conn.capabilities:
                conn.starttls(context)
            elif not _loopback(host):
                raise MailboxUnavailable(
                    f"the IMAP server {host}:{settings.imap_port} offers no STARTTLS, and the "
                    "password would cross the network in clear; set imap.ssl = true (port 993)."
                )
        conn.login(user, password)
    except (OSError, imaplib.IMAP4.error, MailboxUnavailable) as exc:
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.shutdown()
        if isinstance(exc, MailboxUnavailable):
            raise
        raise MailboxUnavailable(
            f"cannot connect or log in to the IMAP server {host}:{settings.imap_port} as "
            f"{user}: {exc}; check the imap.* settings."
        ) from None
    return conn


def _fetched(data: list[object]) -> bytes | None:
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def poll_once(ctx: Context) -> int:
    """Receive every unread message of the configured folder; return how many were received.

    A database failure stops the poll and is raised: the message stays unread for the next one.
    """
    settings = ctx.settings
    conn = connect(settings)
    count = 0
    try:
        status, _ = conn.select(_quoted(settings.imap_folder))
        if status != "OK":
            raise MailboxUnavailable(
                f"the IMAP folder {settings.imap_folder!r} cannot be opened; check imap.folder."
            )
        status, found = conn.uid("SEARCH", "UNSEEN")
        uids = found[0].split() if status == "OK" and found and found[0] else []
        for uid in uids:
            status, data = conn.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
            raw = _fetched(list(data)) if status == "OK" else None
            if raw is None:
                log.warning("IMAP message UID %s could not be fetched; left unread", uid)
                continue
            receive(ctx, raw, via="imap", envelope_from=None, envelope_to=[])
            conn.uid("STORE", uid.decode(), "+FLAGS.SILENT", "(\\Seen)")
            count += 1
        conn.close()
    except imaplib.IMAP4.error as exc:
        raise MailboxUnavailable(f"the IMAP server failed during the poll: {exc}") from None
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            conn.logout()
    return count


def _quoted(folder: str) -> str:
    """A folder name as an IMAP string (names with spaces need quotes)."""
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
