"""Header injection through RFC 2047 encoded words (issue 9, item 12).

Text that reaches a header (a decision title, an institution's short name, the Subject of any
incoming mail, which an unknown sender can make reach the coordinator's quarantine alert) may be an
encoded word that decodes to CR/LF, NUL, U+2028 or U+0085. Whatever it holds, the message sent has
exactly the declared header set, each field on one line: checked on what a real SMTP server
(aiosmtpd on loopback) receives from the real dispatcher, and as a property of `compose`.
"""

from __future__ import annotations

import base64
import dataclasses
import email
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from scenarios import at_stakeholder_identification
from sqlmodel import select
from test_inbound_receive import (
    STRANGER,
    Receiver,
    process,
    receiver,
    request_mail,
    send,
)
from test_mail_delivery import SmtpServer, dispatch, header_names, smtp

from ibmflow.config import load_settings
from ibmflow.demo import COORDINATOR, demo_roster_text
from ibmflow.mail.compose import OUTBOX_HEADER, compose
from ibmflow.mail.headers import clean_header
from ibmflow.services import decisions, inbound, requests, roster
from ibmflow.services.context import Context
from ibmflow.storage.tables import OutboxRow
from ibmflow.testing import FixedClock

__all__ = ["process", "receiver", "smtp"]  # fixtures shared with the modules they come from

EVIL = "attacker@evil.example"
SEPARATORS = ["\r\n", "\n", "\r", "\x00", "\u2028", "\u0085", "\x0b", "\t"]
# Names that a header may hold only inside a value, never as a field of its own.
FORBIDDEN = ("reply-to", "x-injected", "bcc", "cc")
CONTROL = {chr(c) for c in range(32)} | {"\x7f", "\u0085", "\u2028", "\u2029"}


def _chunks(text: str, size: int = 20) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def q_word(text: str) -> str:
    """`text` as RFC 2047 Q-encoded words (every byte escaped), a few characters each: a reader
    joins adjacent encoded words without the space between them."""
    return " ".join(
        "=?utf-8?q?" + "".join(f"={b:02X}" for b in chunk.encode()) + "?="
        for chunk in _chunks(text)
    )


def b_word(text: str) -> str:
    """`text` as RFC 2047 B-encoded words, a few characters each."""
    return " ".join(
        "=?utf-8?b?" + base64.b64encode(chunk.encode()).decode("ascii") + "?="
        for chunk in _chunks(text)
    )


def payloads() -> list[tuple[str, str]]:
    """(name, header text) pairs: encoded words that decode, once or twice, to a header break."""
    out = []
    for sep in SEPARATORS:
        inner = f"Urgent{sep}Reply-To: {EVIL}{sep}X-Injected: 8"
        out.append((f"q {sep!r}", q_word(inner)))
        out.append((f"b {sep!r}", b_word(inner)))
        out.append((f"b(q) {sep!r}", b_word(q_word(inner))))  # survives one decoding
        out.append((f"q(b(q)) {sep!r}", q_word(b_word(q_word(inner)))))
    out.append(("long", b_word(q_word("A" * 3000 + "\r\nX-Injected: 8"))))
    out.append(("long words", " ".join([q_word("x\r\nX-Injected: 8")] * 80)))
    return out


def assert_clean(message: EmailMessage, raw: bytes, expected: list[str]) -> None:
    """Exactly the declared header fields (read from the bytes and by the parser), each one line
    with no control character once decoded."""
    names = header_names(raw)
    assert sorted(names) == sorted(expected), names
    assert sorted(message.keys()) == sorted(expected)
    for name in names:
        assert name in expected or name.lower() not in FORBIDDEN
        value = str(message[name])
        if name != "Content-Type":
            assert not CONTROL & set(value), (name, value)
    assert message.get_all("Reply-To") is None or "Reply-To" in expected
    for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        assert len(line) <= 998


def sent_of_kind(ctx: Context, smtp: SmtpServer, kind: str) -> list[tuple[EmailMessage, bytes]]:
    """The messages of one outbox kind that the SMTP server accepted."""
    with ctx.db.reading() as session:
        ids = {str(r.id) for r in session.exec(select(OutboxRow).where(OutboxRow.kind == kind))}
    return [
        (got.message, got.raw)
        for got in smtp.handler.received
        if str(got.message[OUTBOX_HEADER]) in ids
    ]


ALERT_HEADERS = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Auto-Submitted",
    "X-Auto-Response-Suppress",
    OUTBOX_HEADER,
    "Content-Type",
    "MIME-Version",
]


def raw_reply(subject: str, in_reply_to: str, *, sender: str = STRANGER) -> bytes:
    """A reply written byte by byte, so that its Subject reaches the receiver as given."""
    lines = [
        f"From: Someone <{sender}>",
        "To: replies@ibmflow.invalid",
        "Subject: " + subject.replace(" =?", "\r\n =?"),  # folded: lines stay short
        f"Message-ID: <{abs(hash(subject))}@elsewhere.example>",
        f"In-Reply-To: {in_reply_to}",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "I answer for customs.",
        "",
    ]
    return "\r\n".join(lines).encode("ascii")


def test_an_incoming_subject_of_encoded_words_never_adds_a_header_to_the_alert(
    ctx: Context, process: str, receiver: Receiver, smtp: SmtpServer, clock: FixedClock
) -> None:
    """A stranger's reply with an encoded Subject is quarantined; the coordinator's alert, sent by
    the real dispatcher to a real SMTP server, has exactly its declared headers and a one-line
    Subject, for CR/LF, LF, CR, NUL, VT, U+2028, U+0085, tabs, and very long values."""
    original = request_mail(ctx, "focal@customs.example")
    dispatch(ctx, smtp)
    for name, subject in payloads():
        before = len(sent_of_kind(ctx, smtp, "quarantine_alert"))
        send(receiver, raw_reply(subject, original.message_id), mail_from=STRANGER)
        clock.advance(hours=2)  # one alert per process and hour: each mail gets its own
        report = dispatch(ctx, smtp)
        assert not report.failed, name
        alerts = sent_of_kind(ctx, smtp, "quarantine_alert")
        assert len(alerts) == before + 1, name
        message, raw = alerts[-1]
        assert_clean(message, raw, ALERT_HEADERS)
        assert message["To"] == COORDINATOR
        subject_line = str(message["Subject"])
        assert subject_line.startswith("[MA-1] "), name
        assert "X-Injected" in subject_line or len(subject_line) > 500, name


REQUEST_HEADERS = [*ALERT_HEADERS, "Reply-To"]


def test_encoded_words_in_a_decision_title_and_a_short_name_stay_inside_the_subject(
    ctx: Context, smtp: SmtpServer, tmp_path: Path
) -> None:
    """A decision titled, and an institution short-named, with encoded words that decode to a
    header break: the vote and request mails have exactly their declared headers."""
    key = "ENC-1"
    # The roster recorded without its requests: the import of the encoded short name below sends
    # the step's acknowledgement requests, their subjects carrying it.
    at_stakeholder_identification(ctx, key, tmp_path, requests=False)
    text = demo_roster_text().replace(
        'short_name = "Veterinary Inspection"',
        # One level of encoding: the short name is stored as written (at most 120 characters).
        f'short_name = "{b_word(f"Vet{chr(13)}{chr(10)}Reply-To: {EVIL}")}"',
    )
    path = tmp_path / "roster-encoded.toml"
    path.write_text(text, encoding="utf-8")
    roster.import_roster(ctx, key, path, actor=COORDINATOR)
    requests.send_requests(
        ctx, key, kind="acknowledge_contact", actor=COORDINATOR, scope="permanent"
    )
    decisions.open_decision(
        ctx,
        key,
        subject="terms_of_reference",
        actor=COORDINATOR,
        title=q_word(f"ToR\r\nX-Injected: 8\r\nReply-To: {EVIL}"),
    )
    report = dispatch(ctx, smtp)
    assert report.sent and not report.failed
    votes = sent_of_kind(ctx, smtp, "vote")
    asks = sent_of_kind(ctx, smtp, "request")
    assert votes and asks
    for message, raw in [*votes, *asks]:
        assert_clean(message, raw, REQUEST_HEADERS)
        assert str(message["Reply-To"]).startswith("replies+")
    assert any("X-Injected: 8" in str(m["Subject"]) for m, _ in votes)
    assert any(f"Reply-To: {EVIL}" in str(m["Subject"]) for m, _ in asks)


# --- the property: any text in, exactly the declared headers out -----------------------------

_texts = st.one_of(
    st.text(max_size=300),
    st.builds(
        lambda parts: " ".join(parts),
        st.lists(
            st.one_of(
                st.text(max_size=40),
                st.text(max_size=40).map(q_word),
                st.text(max_size=40).map(b_word),
                st.text(max_size=40).map(lambda t: b_word(q_word(t))),
                st.sampled_from(["\r\nX-Injected: 8", "=?", "?=", "=?utf-8?q?", '"', "<", ">"]),
            ),
            max_size=8,
        ),
    ),
)

_SETTINGS = load_settings(environ={})


@given(subject=_texts, from_name=_texts, thread=_texts, parent=_texts)
@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_text_in_any_header_gives_a_message_with_exactly_the_declared_headers(
    subject: str, from_name: str, thread: str, parent: str
) -> None:
    """compose() on a row whose subject, thread and sender name are any text (as an edited
    database or a hostile template variable could make them): the message parses back with
    exactly the declared header set, the Subject is the cleaned text on one line, and the sender
    name never brings a header or an address of its own."""
    row = OutboxRow(
        id=7,
        kind="request",
        to_addrs=["focal@customs.example"],
        subject=subject,
        text_body="body",
        html_body=None,
        message_id="<ibmflow.abc@ibmflow.invalid>",
        reply_to="replies+k1@ibmflow.invalid",
        in_reply_to=parent,
        references=thread,
        created_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        next_attempt_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    )
    settings = dataclasses.replace(_SETTINGS, mail_from_name=from_name)
    raw = compose(row, settings).as_bytes()
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    expected = [
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "Reply-To",
        "Auto-Submitted",
        "X-Auto-Response-Suppress",
        OUTBOX_HEADER,
        "Content-Type",
        "Content-Transfer-Encoding",
        "MIME-Version",
    ]
    optional = {"In-Reply-To", "References"}
    present = set(header_names(raw))
    assert set(expected) <= present <= set(expected) | optional, present
    assert len(header_names(raw)) == len(present)  # no field twice
    assert not message.defects
    # Unfolding may leave a space where the folder broke the line, and the folder may drop one
    # between two encoded words: the text, without its spaces, is the cleaned subject's.
    assert "".join(str(message["Subject"]).split()) == "".join(clean_header(subject).split())
    assert [a.addr_spec for a in message["From"].addresses] == ["ibmflow@ibmflow.invalid"]
    assert [a.addr_spec for a in message["To"].addresses] == ["focal@customs.example"]
    for name in present - {"Content-Type"}:
        assert not CONTROL & set(str(message[name])), name


@pytest.mark.parametrize("value", [pytest.param(v, id=n) for n, v in payloads()])
def test_clean_header_decodes_encoded_words_to_one_harmless_line(value: str) -> None:
    """Decode, then sanitise: no control character, and no encoded word left to decode again."""
    cleaned = clean_header(value)
    assert not CONTROL & set(cleaned)
    assert "=?" not in cleaned
    assert clean_header(cleaned) == cleaned


def test_the_stored_subject_of_a_received_mail_is_decoded_and_one_line(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    """What the quarantine shows is the decoded text, never an encoded word left to decode."""
    original = request_mail(ctx, "focal@customs.example")
    inner = f"Urgent\r\nReply-To: {EVIL}"
    send(receiver, raw_reply(b_word(q_word(inner)), original.message_id), mail_from=STRANGER)
    [held] = inbound.list_quarantine(ctx)
    assert held.subject == f"Urgent Reply-To: {EVIL}"
