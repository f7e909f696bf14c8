"""Replies whose headers carry undeclared 8-bit text (issue 9, item 13).

Real mail clients send a `From` display name or a `Subject` as raw UTF-8 or raw Latin-1/cp1252
bytes, without RFC 2047 encoding. Sent byte for byte with smtplib to ibmflow's real receiver, a
correct reply from the right focal point is recorded as the answer, with its name and subject read
as the sender meant them.
"""

from __future__ import annotations

import smtplib

import pytest
from test_inbound_receive import (
    CUSTOMS,
    Receiver,
    inbound_rows,
    process,
    receiver,
    request_mail,
    request_row,
)

from ibmflow.mail import inbound as mail
from ibmflow.services.context import Context

__all__ = ["process", "receiver"]  # fixtures shared with the module they come from

NAME = "Rachid Alaoui \u2013 Douanes & Impôts"  # an en dash: in cp1252, not in Latin-1
SUBJECT = "Re: Accusé de réception \u2013 \u2018contact\u2019"


def raw_reply(in_reply_to: str, *, name: bytes, subject: bytes, body: bytes) -> bytes:
    """A reply written byte by byte, its headers not encoded at all."""
    head = [
        b"From: " + name + b" <" + CUSTOMS.encode() + b">",
        b"To: replies@ibmflow.invalid",
        b"Subject: " + subject,
        b"Message-ID: <8bit." + str(abs(hash(name + subject))).encode() + b"@customs.example>",
        b"In-Reply-To: " + in_reply_to.encode(),
        b"MIME-Version: 1.0",
        b"Content-Type: text/plain",
        b"Content-Transfer-Encoding: 8bit",
    ]
    return b"\r\n".join([*head, b"", body, b""])


CASES = {
    "utf-8 name and subject": ("utf-8", "utf-8", NAME, SUBJECT),
    "latin-1 name, utf-8 subject": ("latin-1", "utf-8", "Zoé Ñúñez", SUBJECT),
    "utf-8 name, cp1252 subject": ("utf-8", "cp1252", NAME, SUBJECT),
    "latin-1 name and subject": ("latin-1", "latin-1", "Zoé Ñúñez", "Re: Accusé de réception"),
    "quoted utf-8 name": ("utf-8", "utf-8", f'"{NAME}"', SUBJECT),
}


@pytest.mark.parametrize(
    "name_charset, subject_charset, name, subject",
    [pytest.param(*case, id=label) for label, case in CASES.items()],
)
def test_a_reply_with_raw_8bit_headers_is_recorded_as_the_answer(
    ctx: Context,
    process: str,
    receiver: Receiver,
    name_charset: str,
    subject_charset: str,
    name: str,
    subject: str,
) -> None:
    original = request_mail(ctx, CUSTOMS)
    raw = raw_reply(
        original.message_id,
        name=name.encode(name_charset),
        subject=subject.encode(subject_charset),
        body="Reçu, merci. Confirmed.".encode(subject_charset),
    )
    with smtplib.SMTP(receiver.host, receiver.port, timeout=30) as client:
        client.sendmail(CUSTOMS, ["replies@ibmflow.invalid"], raw)
    [row] = inbound_rows(ctx)
    assert (row.status, row.reason) == ("answered", None)
    assert row.header_from == f"{name.strip(chr(34))} <{CUSTOMS}>"
    assert row.subject == subject
    answered = request_row(ctx, original.request_id)
    assert answered.status == "answered" and answered.answered_via == "reply"
    assert answered.answer_text == "Reçu, merci. Confirmed."


@pytest.mark.parametrize(
    "header",
    [
        b"From: Zo\xe9 <focal@customs.example>",
        b"From: Zo\xc3\xa9 <focal@customs.example>",
        b"Sender: Zo\xe9 <focal@customs.example>",
        b"Return-Path: <zo\xe9@customs.example>",
        b"Subject: R\xe9ponse \x92ok\x92",
        b"Subject: \xff\xfe\x81\x8d",
        b"In-Reply-To: <a\xe9@b>",
        b"Auto-Submitted: n\xe9",
        b'Content-Disposition: attachment; filename="r\xe9ponse.pdf"',
    ],
)
def test_no_header_read_from_8bit_bytes_holds_a_surrogate(header: bytes) -> None:
    """Every header the inbound code reads comes out as text that can be stored (no lone
    surrogate from the parser's surrogateescape)."""
    raw = b"\r\n".join(
        [
            b"From: Zo\xe9 <focal@customs.example>" if not header.startswith(b"From") else header,
            b"To: replies@ibmflow.invalid",
            header,
            b"Content-Type: text/plain",
            b"",
            b"R\xe9ponse",
            b"",
        ]
    )
    incoming = mail.parse(raw)
    texts = [
        incoming.sender or "",
        incoming.display_name,
        incoming.subject,
        incoming.return_path or "",
        incoming.body,
        *incoming.in_reply_to,
        *incoming.headers.values(),
        *(a.filename for a in incoming.attachments),
    ]
    for text in texts:
        text.encode("utf-8")  # raises on a surrogate
    assert incoming.sender == "focal@customs.example"
    assert incoming.display_name == "Zoé"
