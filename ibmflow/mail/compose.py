"""Composing the `EmailMessage` of one outbox row: headers checked one by one, text and HTML parts."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Protocol

from ibmflow.config import Settings
from ibmflow.mail.headers import clean_address, clean_display_name, clean_header

OUTBOX_HEADER = "X-Ibmflow-Outbox-Id"
# Printable ASCII only, and no `=?`: a Message-ID is never decoded as an encoded word by anyone.
_MSG_ID = re.compile(r"^<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>$")


class OutboxMail(Protocol):
    """What composing reads of a mail to send: the fields of an outbox row (`storage.tables.OutboxRow`),
    declared here so that `mail/` stays free of the storage it is composed from."""

    @property
    def id(self) -> int | None: ...
    @property
    def to_addrs(self) -> Sequence[str]: ...
    @property
    def subject(self) -> str: ...
    @property
    def text_body(self) -> str: ...
    @property
    def html_body(self) -> str | None: ...
    @property
    def message_id(self) -> str: ...
    @property
    def reply_to(self) -> str | None: ...
    @property
    def in_reply_to(self) -> str | None: ...
    @property
    def references(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...


def clean_message_id(value: str) -> str | None:
    """A Message-ID as `<local@domain>` on one line, or None when the value is not one."""
    candidate = value.strip()
    if len(candidate) > 250 or "=?" in candidate or candidate.count("@") != 1:
        return None
    return candidate if _MSG_ID.match(candidate) else None


def _references(value: str | None) -> list[str]:
    # A stored thread is a space-separated list; anything that is not a plain msg-id is dropped
    # rather than passed on, since it could only come from an edited row.
    ids = (clean_message_id(token) for token in (value or "")[:8000].split())
    return [i for i in ids if i is not None]


def envelope_sender(settings: Settings) -> str:
    """The SMTP envelope sender (MAIL FROM): ibmflow's own address, where bounces come back."""
    return clean_address(settings.mail_from_address)


def recipients(row: OutboxMail) -> list[str]:
    """The row's recipients, each checked again (a stored row may have been edited by hand)."""
    return [clean_address(address) for address in row.to_addrs]


def compose(row: OutboxMail, settings: Settings) -> EmailMessage:
    """The message of an outbox row, ready for SMTP (`email.policy.SMTP`: CRLF line ends).

    Every header value that comes from data goes through `ibmflow.mail.headers` first, because the
    standard library's own header folding cannot be trusted with CR/LF on this Python.
    """
    message = EmailMessage(policy=policy.SMTP)
    local, domain = clean_address(settings.mail_from_address).split("@", 1)
    message["From"] = Address(
        display_name=clean_display_name(settings.mail_from_name), username=local, domain=domain
    )
    message["To"] = ", ".join(recipients(row))
    message["Subject"] = clean_header(row.subject)
    message["Date"] = format_datetime(row.created_at)
    message_id = clean_message_id(row.message_id)
    if message_id is None:
        raise ValueError(f"outbox row #{row.id} has no valid Message-ID: {row.message_id!r}")
    message["Message-ID"] = message_id
    if row.reply_to:
        message["Reply-To"] = clean_address(row.reply_to)
    thread = _references(row.references)
    parent = clean_message_id(row.in_reply_to) if row.in_reply_to else None
    if parent is not None:
        message["In-Reply-To"] = parent
        if parent not in thread:
            thread.append(parent)
    if thread:
        message["References"] = " ".join(thread)
    # RFC 3834: an automatic message; well-behaved auto-responders stay silent, and
    # Exchange's out-of-office replies are suppressed by the Microsoft header.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    if row.id is not None:
        message[OUTBOX_HEADER] = str(row.id)
    message.set_content(row.text_body, subtype="plain", charset="utf-8")
    if row.html_body:
        message.add_alternative(row.html_body, subtype="html", charset="utf-8")
        # A boundary derived from the Message-ID (not random) makes a re-sent message identical
        # byte for byte to the first copy.
        digest = hashlib.sha256(message_id.encode("ascii", "replace")).hexdigest()[:32]
        message.set_boundary(f"=_ibmflow_{digest}")
    _one_field_each(message)
    return message


def _one_field_each(message: EmailMessage) -> None:
    """Refuse (ValueError) a message whose folded headers would not be exactly the fields set.

    The values are clean already; this is the last line of defence should the standard library's
    folding ever turn one field into two again.
    """
    for name, value in message.items():
        lines = message.policy.fold(name, value).split("\r\n")
        if lines[-1] != "" or any(not line or line[0] not in " \t" for line in lines[1:-1]):
            raise ValueError(f"the {name} header would not stay one field: {value!r}")
