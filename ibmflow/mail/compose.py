"""Composing the `EmailMessage` of one outbox row: headers checked one by one, text and HTML parts."""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from email import policy, quoprimime
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from typing import Any, Protocol

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
    def subject(self) -> str | None: ...
    @property
    def text_body(self) -> str | None: ...
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
    standard library's own header folding cannot be trusted with CR/LF on this Python. A field whose
    cleaned value is plain printable ASCII on one short line is stored as the text the standard
    library would write for it (`_field`); any other goes through `EmailMessage` as before, so the
    bytes are the same either way (tests/test_mail_compose_bytes.py), only cheaper.
    """
    if row.subject is None or row.text_body is None:
        raise ValueError("the mail is not rendered yet (the dispatcher renders it first)")
    message = EmailMessage(policy=policy.SMTP)
    message.set_raw("From", _from_field(settings.mail_from_address, settings.mail_from_name))
    _field(message, "To", ", ".join(recipients(row)), _ADDRESSES)
    subject, subject_checked = _subject_field(clean_header(row.subject))
    message.set_raw("Subject", subject)
    _field(message, "Date", format_datetime(row.created_at), _DATE)
    message_id = clean_message_id(row.message_id)
    if message_id is None:
        raise ValueError(f"outbox row #{row.id} has no valid Message-ID: {row.message_id!r}")
    _field(message, "Message-ID", message_id, _SIMPLE_MSG_ID)
    if row.reply_to:
        _field(message, "Reply-To", clean_address(row.reply_to), _ADDRESSES)
    thread = _references(row.references)
    parent = clean_message_id(row.in_reply_to) if row.in_reply_to else None
    if parent is not None:
        _field(message, "In-Reply-To", parent, _UNSTRUCTURED)
        if parent not in thread:
            thread.append(parent)
    if thread:
        _field(message, "References", " ".join(thread), _UNSTRUCTURED)
    # RFC 3834: an automatic message; well-behaved auto-responders stay silent, and
    # Exchange's out-of-office replies are suppressed by the Microsoft header.
    message.set_raw("Auto-Submitted", "auto-generated")
    message.set_raw("X-Auto-Response-Suppress", "All")
    if row.id is not None:
        message.set_raw(OUTBOX_HEADER, str(row.id))
    if row.html_body:
        # What `set_content` then `add_alternative` and `set_boundary` make, field for field. A
        # boundary derived from the Message-ID (not random) makes a re-sent message identical byte
        # for byte to the first copy.
        digest = hashlib.sha256(message_id.encode("ascii", "replace")).hexdigest()[:32]
        plain, html = EmailMessage(policy=policy.SMTP), EmailMessage(policy=policy.SMTP)
        _text_part(plain, row.text_body, "plain")
        _text_part(html, row.html_body, "html")
        html.set_raw("MIME-Version", _MIME_VERSION)
        message.set_raw("MIME-Version", _MIME_VERSION)
        message.set_raw("Content-Type", _multipart_type(digest))
        message.set_payload([plain, html])
    else:  # what `set_content(text, subtype="plain", charset="utf-8")` makes
        _text_part(message, row.text_body, "plain")
        message.set_raw("MIME-Version", _MIME_VERSION)
    _one_field_each(message, checked=_CHECKED if subject_checked else _CHECKED_BUT_SUBJECT)
    return message


def _stdlib_header(name: str, value: str) -> Any:
    """The header object `message[name] = value` stores."""
    return policy.SMTP.header_store_parse(name, value)[1]


# The body parts' fields are the same for every mail: parsed once, shared (headers are immutable).
_MIME_VERSION = _stdlib_header("MIME-Version", "1.0")
_TEXT_TYPES = {
    s: _stdlib_header("Content-Type", f'text/{s}; charset="utf-8"') for s in ("plain", "html")
}
_ENCODINGS = {
    cte: _stdlib_header("Content-Transfer-Encoding", cte)
    for cte in ("7bit", "8bit", "quoted-printable", "base64")
}


# The class the policy's header factory makes for a Content-Type field, made once: the factory
# makes a new class at every call (the same one each time), which costs more than parsing the
# value and leaves a reference cycle for the garbage collector.
_CONTENT_TYPE = policy.SMTP.header_factory["Content-Type"]  # type: ignore[index]  # a HeaderRegistry


def _multipart_type(digest: str) -> Any:
    """The Content-Type field of a message with a text and an HTML part, its boundary made of the
    32 hexadecimal digits of `digest`: the header `message["Content-Type"] = ...` would store."""
    return _CONTENT_TYPE("Content-Type", f'multipart/alternative; boundary="=_ibmflow_{digest}"')


def _text_part(part: EmailMessage, text: str, subtype: str) -> None:
    """The fields and payload `email.contentmanager.set_text_content` gives a text part in UTF-8."""
    part.set_raw("Content-Type", _TEXT_TYPES[subtype])
    encoding, payload = _encoded_text(text)
    part.set_raw("Content-Transfer-Encoding", _ENCODINGS[encoding])
    part.set_payload(payload)


def _encoded_text(text: str) -> tuple[str, str]:
    """The transfer encoding and encoded body the standard library's `set_content` picks for `text`
    under `policy.SMTP` (its `contentmanager._encode_text`, with charset utf-8 and no `cte` given):
    7bit or 8bit when every line fits, else the shorter of quoted-printable and base64 judged on
    the first ten lines."""
    lines = text.encode("utf-8").splitlines()
    width = _MAX_LINE
    if max((len(line) for line in lines), default=0) <= width:
        body = b"\n".join(lines) + b"\n"
        if body.isascii():
            return "7bit", body.decode("ascii")
        return "8bit", body.decode("ascii", "surrogateescape")
    sniff = b"\r\n".join(lines[:10]) + b"\r\n"
    sniff_qp = quoprimime.body_encode(sniff.decode("latin-1"), width)
    if len(sniff_qp) > len(binascii.b2a_base64(sniff)):
        data = b"\r\n".join(lines) + b"\r\n"
        step = width // 4 * 3
        chunks = (data[i : i + step] for i in range(0, len(data), step))
        return "base64", "".join(binascii.b2a_base64(chunk).decode("ascii") for chunk in chunks)
    if len(lines) <= 10:
        return "quoted-printable", sniff_qp
    body = b"\n".join(lines) + b"\n"
    return "quoted-printable", quoprimime.body_encode(body.decode("latin-1"), width)


_MAX_LINE = policy.SMTP.max_line_length or 78
# Values the standard library writes exactly as given when the field fits on one line (its parser
# keeps every character of them, and its folder has nothing to encode or break): printable ASCII
# words separated by single spaces, with no `=?` (an encoded word) anywhere.
_UNSTRUCTURED = re.compile(r"^[\x21-\x7e]+(?: [\x21-\x7e]+)*$")
_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_ADDRESSES = re.compile(rf"^{_ATOM}@{_ATOM}(?:, {_ATOM}@{_ATOM})*$")
_SIMPLE_MSG_ID = re.compile(rf"^<{_ATOM}@{_ATOM}>$", re.IGNORECASE)
# A date the standard library parses back to the same text: four digits of year, a numeric zone.
_DATE = re.compile(r"^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} [1-9]\d{3} \d\d:\d\d:\d\d [+-]\d{4}$")


def _field(message: EmailMessage, name: str, value: str, simple: re.Pattern[str]) -> None:
    """Add a header: as the very text the standard library would write when `value` is `simple`
    and fits on one line (or, unstructured, folds at its spaces), else through the standard library
    itself (parsed, encoded, folded)."""
    message.set_raw(name, _field_value(name, value, simple))


def _field_value(name: str, value: str, simple: re.Pattern[str]) -> Any:
    """The value `_field` stores: the text itself, or the header object `message[name] = value`
    would store (the same, as `compose` sets each field once)."""
    if "=?" in value or not simple.match(value):
        return _stdlib_header(name, value)
    if len(name) + 2 + len(value) <= _MAX_LINE:
        return value
    if simple is _UNSTRUCTURED and (folded := _folded_at_spaces(name, value)) is not None:
        return folded
    return _stdlib_header(name, value)


@lru_cache(maxsize=1024)
def _subject_field(value: str) -> tuple[Any, bool]:
    """The Subject field's value for a cleaned subject: as `_field` makes it, unless the standard
    library's folding would not read back as `value`. Its folder can break a line at a space
    between two encoded words, and a mail reader then drops that space (RFC 2047 ignores
    whitespace between encoded words: a French subject read "Inspection :Accusé"); such a subject
    is written as encoded words only, each space inside one (`email.header.Header`), which every
    reader decodes exactly.

    Remembered by subject, with whether it folds as one field (`_one_field_each`, which then
    need not fold it again): a notice goes to many people under the same subject, and a subject
    that is not plain ASCII costs some 0.2 ms to parse, fold, read back and check. The value is a
    string or a header object, both immutable, so one can be shared by many messages (as the body
    parts' fields are)."""
    if value.isascii():
        field = _field_value("Subject", value, _UNSTRUCTURED)
    else:
        header = _stdlib_header("Subject", value)
        if _read_back(policy.SMTP.fold("Subject", header)) == value:
            field = header
        else:
            field = Header(value, "utf-8", header_name="Subject").encode(linesep="\r\n")
    try:
        _check_one_field("Subject", field)
    except ValueError:
        return field, False  # `_one_field_each` raises it, in the order of the fields
    return field, True


def _read_back(folded: str) -> str:
    """What a mail reader shows of a folded `Name: value\r\n` field (decoded, unfolded)."""
    name, value = policy.default.header_source_parse(folded.split("\r\n")[:-1] or [folded])
    return str(policy.default.header_fetch_parse(name, value))


_LONGEST_WORD = 40  # a longer word may be broken or encoded by the standard library: left to it


def _folded_at_spaces(name: str, value: str) -> str | None:
    """An unstructured value of printable ASCII words (`_UNSTRUCTURED`) folded as the standard
    library folds it: as many words on a line as fit in `_MAX_LINE` (the first after `Name: `),
    each further line beginning with the space before its first word. None if a word is too long
    to be sure of that."""
    words = value.split(" ")
    if max(map(len, words)) > _LONGEST_WORD or len(value) < _MAX_LINE:
        return None  # (a value that fits on a line of its own is put there whole: left to it)
    lines, line = [], words[0]
    width = len(name) + 2  # "Name: "
    for word in words[1:]:
        if width + len(line) + 1 + len(word) <= _MAX_LINE:
            line += " " + word
        else:
            lines.append(line)
            line, width = " " + word, 0
    lines.append(line)
    return "\r\n".join(lines)


@lru_cache(maxsize=16)
def _from_field(address: str, name: str) -> Any:
    """The From field for the settings' sender, composed once: its text as the standard library
    folds it when that text is written back unchanged, else the standard library's header."""
    scratch = EmailMessage(policy=policy.SMTP)
    local, domain = clean_address(address).split("@", 1)
    scratch["From"] = Address(display_name=clean_display_name(name), username=local, domain=domain)
    header = scratch.get_all("From", [])[0]
    folded = policy.SMTP.fold("From", header)
    text = folded[len("From: ") : -len("\r\n")]
    if folded.startswith("From: ") and text.isascii() and policy.SMTP.fold("From", text) == folded:
        return text
    return header


def _one_field_each(message: EmailMessage, checked: frozenset[str] = frozenset()) -> None:
    """Refuse (ValueError) a message whose folded headers would not be exactly the fields set.

    The values are clean already; this is the last line of defence should the standard library's
    folding ever turn one field into two again. `checked` names fields whose values were checked
    when they were made (the remembered Subject, the shared MIME-Version): the same immutable
    value folds the same way every time.
    """
    for name, value in message.raw_items():
        if name not in checked:
            _check_one_field(name, value, message.policy)


def _check_one_field(name: str, value: Any, folding: Any = policy.SMTP) -> None:
    lines = folding.fold(name, value).split("\r\n")
    if lines[-1] != "" or any(not line or line[0] not in " \t" for line in lines[1:-1]):
        raise ValueError(f"the {name} header would not stay one field: {value!r}")


# Fields `compose` sets from values checked when they were made: the Subject (`_subject_field`),
# and, checked here once, the MIME-Version and the Content-Type. A Content-Type is one of the two
# shared text types, or a multipart type whose value differs from one message to the next only in
# the 32 hexadecimal digits of its boundary: digits fold as any other digits do.
_check_one_field("MIME-Version", _MIME_VERSION)
for _type in (*_TEXT_TYPES.values(), _multipart_type("0" * 32), _multipart_type("f" * 32)):
    _check_one_field("Content-Type", _type)
_CHECKED_BUT_SUBJECT = frozenset({"MIME-Version", "Content-Type"})
_CHECKED = _CHECKED_BUT_SUBJECT | {"Subject"}
