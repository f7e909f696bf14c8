"""Reading mail that comes back: parse it and tell replies from auto-replies and bounces. Pure:
standard library only, no database, no clock. Reading a reply's text (stripping the quoted history,
finding the reply keys, reading a vote) is in `reply_text`; its functions are importable from here too.

`parse` never lets the standard library's parser errors escape: a header it cannot read is recorded in
`Incoming.problems` and left empty; only input that is no mail at all raises `MalformedMessage`.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.utils import parseaddr
from html.parser import HTMLParser

from ibmflow.errors import IbmflowError
from ibmflow.mail.fields import addresses, header, one_line, text_of_8bit, unescaped
from ibmflow.mail.reply_text import at_reply_domain, parse_vote, reply_keys, strip_quoted

__all__ = [
    "AUTO_REPLY",
    "BOUNCE",
    "CLASSIFICATIONS",
    "OUT_OF_OFFICE",
    "REPLY",
    "Attachment",
    "Incoming",
    "MalformedMessage",
    "at_reply_domain",
    "classify",
    "html_to_text",
    "parse",
    "parse_vote",
    "reply_keys",
    "strip_quoted",
]

REPLY = "reply"
OUT_OF_OFFICE = "out_of_office"
AUTO_REPLY = "auto_reply"
BOUNCE = "bounce"
CLASSIFICATIONS = (REPLY, OUT_OF_OFFICE, AUTO_REPLY, BOUNCE)

# Inline images (logos in signatures) below this size are not kept as attachments.
INLINE_IMAGE_LIMIT = 64 * 1024
_SIGNATURE_TYPES = frozenset(
    {
        "application/pgp-signature",
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
        "application/ms-tnef",
    }
)
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


class MalformedMessage(IbmflowError):
    """The bytes received are not a readable mail (the message says what is wrong)."""


@dataclass(frozen=True)
class Attachment:
    """A file attached to a mail."""

    filename: str
    content: bytes
    content_type: str


@dataclass(frozen=True)
class Incoming:
    """What ibmflow reads from a received mail."""

    sender: str | None
    display_name: str
    subject: str
    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    recipients: tuple[str, ...]
    body: str
    attachments: tuple[Attachment, ...]
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "text/plain"
    part_types: tuple[str, ...] = ()
    reported_ids: tuple[str, ...] = ()
    return_path: str | None = None
    problems: tuple[str, ...] = ()

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """Every Message-ID this mail answers, the direct parent first."""
        seen: dict[str, None] = {}
        for mid in (*self.in_reply_to, *reversed(self.references)):
            seen.setdefault(mid, None)
        return tuple(seen)


# --- parsing ------------------------------------------------------------------------------------


def _ids(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_MESSAGE_ID.findall(value)))


def _text_of(part: Message, problems: list[str]) -> str:
    charset = (part.get_param("charset") or "") if part.get_params() else ""
    if not isinstance(charset, str) or charset.lower() in ("", "us-ascii", "ascii"):
        # No charset declared (or ASCII declared, wrongly, over 8-bit text): read it as UTF-8,
        # else Windows-1252, rather than turn every accented letter into U+FFFD.
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            return text_of_8bit(payload)
    try:
        if isinstance(part, EmailMessage):
            content = part.get_content()
            if isinstance(content, str):
                return content
    except (LookupError, UnicodeError, ValueError, AssertionError) as exc:
        problems.append(f"{part.get_content_type()} part: {exc}; decoded leniently")
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


class _HTMLText(HTMLParser):
    """A crude HTML-to-text conversion: block elements become line breaks, quoted blocks vanish."""

    _BLOCK = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "hr"})
    _SKIP = frozenset({"style", "script", "head", "title", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skipping.append(tag)
        elif tag in self._BLOCK and not self.skipping:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self.skipping and tag == self.skipping[-1]:
            self.skipping.pop()
        elif tag in self._BLOCK and not self.skipping:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(markup: str) -> str:
    """The text of an HTML body, one paragraph per line; quoted `<blockquote>` history dropped."""
    parser = _HTMLText()
    try:
        parser.feed(markup)
        parser.close()
    except (AssertionError, ValueError):  # unbalanced markup: keep what was read
        pass
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _safe_filename(name: str | None, content_type: str, n: int) -> str:
    text = one_line(unescaped(name or ""), 255).replace("\\", "/").rsplit("/", 1)[-1].strip(". ")
    if text:
        return text
    extension = mimetypes.guess_extension(content_type) or ".bin"
    return f"attachment-{n}{extension}"


def _is_attachment(part: Message) -> bool:
    disposition = (part.get_content_disposition() or "").lower()
    content_type = part.get_content_type()
    if content_type in _SIGNATURE_TYPES:
        return False
    if disposition == "attachment":
        return True
    if content_type.startswith("text/") and part.get_filename() is None:
        return False  # a body part
    return part.get_filename() is not None or not content_type.startswith(("text/", "multipart/"))


@dataclass
class _Parts:
    plain: str | None = None
    markup: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    reported: list[str] = field(default_factory=list)


def _visit(part: Message, found: _Parts, problems: list[str]) -> None:
    content_type = part.get_content_type()
    found.types.append(content_type)
    if content_type in ("message/rfc822", "message/global"):
        # A returned or forwarded mail: its Message-ID says what a bounce reports on; its body is
        # not the body of this mail.
        inner = part.get_payload()
        for message in inner if isinstance(inner, list) else []:
            if isinstance(message, Message):
                found.reported.extend(_ids(header(message, "Message-ID", problems)))
        return
    if content_type in ("text/rfc822-headers", "text/global-headers"):
        headers = HeaderParser(policy=policy.default).parsestr(_text_of(part, problems))
        found.reported.extend(_ids(header(headers, "Message-ID", problems)))
        return
    if part.is_multipart():
        for child in part.iter_parts() if isinstance(part, EmailMessage) else []:
            _visit(child, found, problems)
        return
    if content_type.startswith("message/"):
        return  # delivery-status and the like: read by their content type only
    if _is_attachment(part):
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            return
        inline = (part.get_content_disposition() or "inline") == "inline"
        if content_type.startswith("image/") and inline and len(payload) < INLINE_IMAGE_LIMIT:
            return  # a logo in a signature
        name = _safe_filename(part.get_filename(), content_type, len(found.attachments) + 1)
        found.attachments.append(Attachment(name, payload, content_type))
    elif content_type == "text/plain" and found.plain is None:
        found.plain = _text_of(part, problems)
    elif content_type == "text/html" and found.markup is None:
        found.markup = _text_of(part, problems)


def _body(found: _Parts) -> str:
    if found.plain is not None and found.plain.strip():
        body = found.plain
    elif found.markup is not None:
        body = html_to_text(found.markup)
    else:
        body = found.plain or ""
    return body.replace("\r\n", "\n").replace("\r", "\n")


def parse(raw: bytes) -> Incoming:
    """Read a received mail. Raises MalformedMessage only when it has no header at all."""
    if not raw or not raw.strip():
        raise MalformedMessage("the message is empty.")
    try:
        msg = message_from_bytes(raw, policy=policy.default)
    except Exception as exc:  # the parser is lenient; this is a last resort
        raise MalformedMessage(f"the message cannot be parsed: {exc}") from exc
    if not msg.keys():
        raise MalformedMessage("the message has no header (no From, no Subject): not a mail.")
    problems: list[str] = [type(d).__name__ for d in msg.defects]
    senders = addresses(msg, "From", problems) or addresses(msg, "Sender", problems)
    name, sender = senders[0] if senders else ("", None)
    recipients = [
        a
        for h in ("To", "Cc", "Delivered-To", "X-Original-To")
        for _, a in addresses(msg, h, problems)
    ]
    headers = {
        key: header(msg, key, problems)
        for key in (
            "Auto-Submitted",
            "X-Autoreply",
            "X-Autorespond",
            "X-Auto-Response-Suppress",
            "Precedence",
            "X-Failed-Recipients",
            "List-Id",
        )
        if key in msg
    }
    return_path = None
    if "Return-Path" in msg:
        return_path = parseaddr(header(msg, "Return-Path", problems))[1].lower()
    found = _Parts()
    try:
        _visit(msg, found, problems)
        body, content_type = _body(found), msg.get_content_type()
    except Exception as exc:  # a broken MIME structure: keep the headers, quarantine the body
        problems.append(f"MIME structure unreadable: {exc}")
        body, content_type = "", "text/plain"
    return Incoming(
        sender=sender,
        display_name=name,
        subject=header(msg, "Subject", problems),
        message_id=(_ids(header(msg, "Message-ID", problems)) or (None,))[0],
        in_reply_to=_ids(header(msg, "In-Reply-To", problems)),
        references=_ids(header(msg, "References", problems)),
        recipients=tuple(dict.fromkeys(recipients)),
        body=body,
        attachments=tuple(found.attachments),
        headers=headers,
        content_type=content_type,
        part_types=tuple(found.types),
        reported_ids=tuple(dict.fromkeys(found.reported)),
        return_path=return_path,
        problems=tuple(problems),
    )


# --- classification -----------------------------------------------------------------------------

_OOO_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)?(?:out of (?:the )?office|automatic reply|auto(?:matic)?[- ]?reply|"
    r"autoreply|auto:|r[ée]ponse automatique|absen(?:ce|t)|vacation|on leave|cong[ée]s?\b|"
    r"abwesenheit|message d['’]?\s?absence)",
    re.IGNORECASE,
)
# Said anywhere in the subject ("RE: Vote - Réponse automatique : absent du bureau"), accents
# and apostrophes optional: only auto-replies say these.
_OOO_ANYWHERE = re.compile(
    r"\b(?:out of (?:the )?office|automatic reply|r[ée]ponse automatique|"
    r"absen(?:ce|te?)\s+(?:du|de mon)\s+bureau|message d[’'\s]?absence|"
    r"abwesenheitsnotiz)\b",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:undeliver(?:ed|able)|delivery status notification|mail delivery (?:failed|failure)|"
    r"returned mail|delivery failure|non remis|échec de la remise|non-remise)",
    re.IGNORECASE,
)
_DAEMONS = ("mailer-daemon", "postmaster")


def _null(path: str | None) -> bool:
    return path is not None and path.strip().strip("<>").strip() == ""


def classify(incoming: Incoming, *, envelope_from: str | None = None) -> str:
    """`reply`, `out_of_office`, `auto_reply` or `bounce`.

    `envelope_from` is the SMTP MAIL FROM (an empty string is the null return path `<>`); without it
    (IMAP) the `Return-Path` header stands in.
    """
    headers = {k.lower(): v.strip().lower() for k, v in incoming.headers.items()}
    local = (incoming.sender or "").split("@", 1)[0]
    return_path = envelope_from if envelope_from is not None else incoming.return_path
    report = incoming.content_type == "multipart/report" or any(
        t in ("message/delivery-status", "message/global-delivery-status")
        for t in incoming.part_types
    )
    if (
        report
        or local in _DAEMONS
        or "x-failed-recipients" in headers
        or _BOUNCE_SUBJECT.search(incoming.subject)
    ):
        return BOUNCE
    automatic = (
        headers.get("auto-submitted", "no") not in ("", "no")
        or "x-autoreply" in headers
        or "x-autorespond" in headers
        or headers.get("precedence") in ("auto_reply", "bulk", "junk", "list")
    )
    if _OOO_SUBJECT.search(incoming.subject) or _OOO_ANYWHERE.search(incoming.subject):
        return OUT_OF_OFFICE
    if automatic:
        return AUTO_REPLY
    if _null(return_path):
        return BOUNCE  # a null return path and none of the auto-reply marks: a delivery report
    return REPLY
