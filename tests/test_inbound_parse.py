"""Reading replies (pure): parsing, classification, quote stripping, reply keys and votes."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibmflow.mail.inbound import (
    AUTO_REPLY,
    BOUNCE,
    OUT_OF_OFFICE,
    REPLY,
    MalformedMessage,
    classify,
    html_to_text,
    parse,
)
from ibmflow.mail.reply_text import at_reply_domain, parse_vote, reply_keys, strip_quoted

REPLY_TO = "replies@ibmflow.example"


def mail(
    body: str = "Confirmed, I am the focal point.",
    *,
    subject: str = "Re: [MA-1] Acknowledgement requested",
    sender: str = "Rachid Alaoui <focal@customs.example>",
    headers: dict[str, str] | None = None,
    html: str | None = None,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "replies+0123456789abcdef@ibmflow.example"
    msg["Subject"] = subject
    msg["Message-ID"] = "<reply.1@customs.example>"
    msg["In-Reply-To"] = "<ibmflow.aaa@ibmflow.example>"
    msg["References"] = "<ibmflow.root@ibmflow.example> <ibmflow.aaa@ibmflow.example>"
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg


# --- parse --------------------------------------------------------------------------------------


def test_parse_reads_sender_subject_threading_and_body() -> None:
    incoming = parse(mail().as_bytes())
    assert incoming.sender == "focal@customs.example"
    assert incoming.display_name == "Rachid Alaoui"
    assert incoming.subject == "Re: [MA-1] Acknowledgement requested"
    assert incoming.message_id == "<reply.1@customs.example>"
    assert incoming.in_reply_to == ("<ibmflow.aaa@ibmflow.example>",)
    assert incoming.references == (
        "<ibmflow.root@ibmflow.example>",
        "<ibmflow.aaa@ibmflow.example>",
    )
    assert incoming.thread_ids == (
        "<ibmflow.aaa@ibmflow.example>",
        "<ibmflow.root@ibmflow.example>",
    )
    assert incoming.recipients == ("replies+0123456789abcdef@ibmflow.example",)
    assert incoming.body.strip() == "Confirmed, I am the focal point."
    assert incoming.attachments == ()


def test_parse_prefers_plain_text_over_html() -> None:
    incoming = parse(mail("plain words", html="<p>html words</p>").as_bytes())
    assert incoming.body.strip() == "plain words"


def test_parse_converts_an_html_only_body_and_drops_its_quoted_blockquote() -> None:
    msg = EmailMessage()
    msg["From"] = "focal@customs.example"
    msg["Subject"] = "Re: request"
    msg.set_content(
        "<html><head><style>p {color: red}</style></head><body>"
        "<p>We agree &amp; confirm.</p><div>Second line<br>third</div>"
        "<blockquote>old quoted request</blockquote></body></html>",
        subtype="html",
    )
    body = parse(msg.as_bytes()).body
    assert [line for line in body.splitlines() if line] == [
        "We agree & confirm.",
        "Second line",
        "third",
    ]


def test_parse_keeps_attachments_and_skips_small_inline_images_and_signatures() -> None:
    msg = mail("See the attached grid.")
    msg.add_attachment(b"%PDF-1.4 grid", maintype="application", subtype="pdf", filename="grid.pdf")
    msg.add_attachment(
        b"\x89PNG logo", maintype="image", subtype="png", filename="logo.png", disposition="inline"
    )
    msg.add_attachment(
        b"sig", maintype="application", subtype="pkcs7-signature", filename="smime.p7s"
    )
    msg.add_attachment(
        b"\x89PNG" + b"x" * 70_000,
        maintype="image",
        subtype="png",
        filename="scan.png",
        disposition="inline",
    )
    incoming = parse(msg.as_bytes())
    assert [(a.filename, a.content_type) for a in incoming.attachments] == [
        ("grid.pdf", "application/pdf"),
        ("scan.png", "image/png"),
    ]
    assert incoming.attachments[0].content == b"%PDF-1.4 grid"


def test_attachment_names_lose_their_path_and_control_characters() -> None:
    raw = (
        b"From: focal@customs.example\r\nSubject: files\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nhere\r\n"
        b"--B\r\nContent-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''..%5C..%5Cevil%0D%0Aname.pdf\r\n"
        b"\r\nx\r\n"
        b"--B\r\nContent-Type: application/octet-stream\r\n\r\ny\r\n--B--\r\n"
    )
    names = [a.filename for a in parse(raw).attachments]
    assert names == ["evil name.pdf", "attachment-2.bin"]


def test_parse_decodes_encoded_words_and_an_unknown_charset_leniently() -> None:
    raw = (
        b"From: =?utf-8?q?L=C3=A9la_Chraibi?= <deputy@customs.example>\r\n"
        b"Subject: =?utf-8?q?R=C3=A9ponse?=\r\n"
        b"Content-Type: text/plain; charset=x-unknown-charset\r\n"
        b"\r\n"
        b"caf\xc3\xa9\r\n"
    )
    incoming = parse(raw)
    assert incoming.display_name == "L\u00e9la Chraibi"
    assert incoming.subject == "R\u00e9ponse"
    assert incoming.body.strip() == "caf\u00e9"


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"\r\n\r\njust a body"])
def test_input_that_is_no_mail_at_all_raises_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse(raw)


def test_garbage_headers_do_not_raise() -> None:
    raw = (
        b"From: <<<@@@>>>\r\nTo: ;;;,,,\r\nMessage-ID: not an id\r\n"
        b"Subject: \xff\xfe broken\r\nContent-Type: multipart/mixed\r\n\r\nno boundary at all\r\n"
    )
    incoming = parse(raw)
    assert incoming.sender is None
    assert incoming.message_id is None
    assert incoming.problems  # the parser's complaints are kept


@given(st.binary(max_size=400))
def test_any_bytes_after_a_header_parse_and_classify(raw: bytes) -> None:
    incoming = parse(b"From: a@b.example\r\n" + raw)
    assert classify(incoming) in (REPLY, OUT_OF_OFFICE, AUTO_REPLY, BOUNCE)
    strip_quoted(incoming.body)


@given(st.binary(max_size=400))
def test_any_bytes_at_all_parse_or_raise_malformed(raw: bytes) -> None:
    """Whatever arrives is read into text fields, or refused as malformed; nothing else is raised."""
    try:
        message = parse(raw)
    except MalformedMessage:
        return
    assert isinstance(message.body, str) and isinstance(message.subject, str)
    assert "\n" not in message.subject and "\r" not in message.subject


# --- classify -----------------------------------------------------------------------------------


def test_a_plain_reply_is_a_reply() -> None:
    assert classify(parse(mail().as_bytes()), envelope_from="focal@customs.example") == REPLY


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office: [MA-1] Acknowledgement requested",
        "Automatic reply: [MA-1] Acknowledgement requested",
        "Réponse automatique : [MA-1] Accusé de réception",
        "Absence du bureau",
        "Absent: back on Monday",
    ],
)
def test_out_of_office_subjects(subject: str) -> None:
    msg = mail("I am away until Monday.", subject=subject)
    assert classify(parse(msg.as_bytes())) == OUT_OF_OFFICE


@pytest.mark.parametrize(
    "header",
    [
        {"Auto-Submitted": "auto-replied"},
        {"Auto-Submitted": "auto-generated"},
        {"X-Autoreply": "yes"},
        {"X-Autorespond": "yes"},
        {"Precedence": "bulk"},
        {"Precedence": "auto_reply"},
        {"Precedence": "junk"},
        {"Precedence": "list"},
    ],
)
def test_auto_reply_headers(header: dict[str, str]) -> None:
    msg = mail("Your message was received; ticket 42.", subject="Re: ticket", headers=header)
    assert classify(parse(msg.as_bytes())) == AUTO_REPLY


def test_auto_submitted_no_is_a_human_reply() -> None:
    msg = mail(headers={"Auto-Submitted": "no"})
    assert classify(parse(msg.as_bytes())) == REPLY


def test_an_auto_submitted_out_of_office_is_out_of_office() -> None:
    msg = mail(subject="Automatic reply: x", headers={"Auto-Submitted": "auto-replied"})
    assert classify(parse(msg.as_bytes())) == OUT_OF_OFFICE


def dsn(original_id: str = "<ibmflow.aaa@ibmflow.example>") -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.customs.example>\r\n"
        "To: ibmflow@ibmflow.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.customs.example\r\n\r\n"
        "Final-Recipient: rfc822; gone@customs.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {original_id}\r\nSubject: [MA-1] Request\r\n"
        "\r\n--B--\r\n"
    ).encode()


def test_a_delivery_status_report_is_a_bounce_and_names_the_original() -> None:
    incoming = parse(dsn())
    assert classify(incoming) == BOUNCE
    assert incoming.reported_ids == ("<ibmflow.aaa@ibmflow.example>",)
    assert incoming.body.strip() == "The mail could not be delivered."


def test_a_returned_message_rfc822_part_is_not_taken_as_the_body() -> None:
    returned = mail("the original request text", subject="[MA-1] Request")
    del returned["Message-ID"]
    returned["Message-ID"] = "<ibmflow.orig@ibmflow.example>"
    outer = EmailMessage()
    outer["From"] = "postmaster@customs.example"
    outer["Subject"] = "failure notice"
    outer.set_content("Sorry, we were unable to deliver your message.")
    outer.add_attachment(returned)
    incoming = parse(outer.as_bytes())
    assert classify(incoming) == BOUNCE
    assert incoming.reported_ids == ("<ibmflow.orig@ibmflow.example>",)
    assert "original request" not in incoming.body


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.example", "postmaster@customs.example"])
def test_daemon_senders_are_bounces(sender: str) -> None:
    assert classify(parse(mail(sender=sender, subject="Re: hello").as_bytes())) == BOUNCE


def test_a_null_return_path_is_a_bounce_from_the_envelope_or_the_header() -> None:
    msg = mail(subject="Notification")
    assert classify(parse(msg.as_bytes()), envelope_from="") == BOUNCE
    assert classify(parse(msg.as_bytes()), envelope_from="<>") == BOUNCE
    msg["Return-Path"] = "<>"
    assert classify(parse(msg.as_bytes())) == BOUNCE
    assert classify(parse(msg.as_bytes()), envelope_from="focal@customs.example") == REPLY


# --- strip_quoted -------------------------------------------------------------------------------


def test_quoted_lines_and_a_gmail_attribution_are_dropped() -> None:
    text = (
        "We confirm.\n\nBest regards\n\n"
        "On Mon, 5 Jan 2026 at 09:00, Karim Benali <coordinator@interior.example>\nwrote:\n"
        "> Please confirm that you are the focal point.\n> Thanks\n"
    )
    assert strip_quoted(text) == "We confirm.\n\nBest regards"


def test_interleaved_quotes_are_dropped_and_new_lines_kept() -> None:
    text = "> Question one?\nAnswer one.\n> Question two?\nAnswer two.\n"
    assert strip_quoted(text) == "Answer one.\nAnswer two."


def test_french_attribution() -> None:
    text = "Nous confirmons.\n\nLe lun. 5 janv. 2026 à 09:00, Karim Benali a écrit :\n> Bonjour\n"
    assert strip_quoted(text) == "Nous confirmons."


@pytest.mark.parametrize(
    "separator",
    [
        "-----Original Message-----",
        "-----Message d'origine-----",
        "________________________________",
    ],
)
def test_outlook_separators(separator: str) -> None:
    text = f"Approved on our side.\n\n{separator}\nFrom: ibmflow\nSent: Monday\nthe request\n"
    assert strip_quoted(text) == "Approved on our side."


def test_outlook_header_block_without_separator_english_and_french() -> None:
    english = (
        "Done.\n\nFrom: ibmflow <ibmflow@ibmflow.example>\nSent: Monday, January 5, 2026 10:00\n"
        "To: Rachid\nSubject: [MA-1] Request\n\nPlease answer.\n"
    )
    french = (
        "Fait.\n\n*De :* ibmflow <ibmflow@ibmflow.example>\n*Envoyé :* lundi 5 janvier 2026\n"
        "*À :* Rachid\n*Objet :* [MA-1] Demande\n"
    )
    assert strip_quoted(english) == "Done."
    assert strip_quoted(french) == "Fait."


def test_a_from_line_in_the_answer_itself_is_kept() -> None:
    text = "From: our side, no objection.\nThe customs chapter is fine.\n"
    assert strip_quoted(text) == "From: our side, no objection.\nThe customs chapter is fine."


def test_a_sentence_ending_in_wrote_is_not_an_attribution() -> None:
    text = "On the legal framework, here is what our lawyers wrote:\nall good.\n"
    assert strip_quoted(text) == text.strip()


def test_signature_and_mobile_footer_are_dropped() -> None:
    assert strip_quoted("Yes.\n\n-- \nRachid Alaoui\nCustoms") == "Yes."
    assert strip_quoted("Yes.\n\nSent from my iPhone\n") == "Yes."


def test_windows_newlines() -> None:
    assert strip_quoted("Fine.\r\n> old\r\n") == "Fine."


def test_html_to_text_handles_broken_markup() -> None:
    assert html_to_text("<p>open <b>bold <i>never closed") == "open bold never closed"


# --- reply keys ---------------------------------------------------------------------------------


def test_reply_keys_of_recipients_on_the_reply_address() -> None:
    keys = reply_keys(
        [
            "Replies <replies+0123456789ABCDEF@ibmflow.example>",
            "replies+0123456789abcdef@ibmflow.example",
            "replies+ffff@other.example",
            "someone+ffff@ibmflow.example",
            "replies@ibmflow.example",
            "replies+bad key!@ibmflow.example",
        ],
        REPLY_TO,
    )
    assert keys == ("0123456789abcdef",)


def test_reply_keys_ignore_a_plus_in_the_configured_address() -> None:
    assert reply_keys(["replies+abc@ibmflow.example"], "replies+x@ibmflow.example") == ("abc",)


def test_at_reply_domain() -> None:
    assert at_reply_domain("replies+abc@IBMFLOW.example", REPLY_TO)
    assert at_reply_domain("<anything@ibmflow.example>", REPLY_TO)
    assert not at_reply_domain("victim@gmail.example", REPLY_TO)
    assert not at_reply_domain("x@ibmflow.example.evil.example", REPLY_TO)


# --- votes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["approve", "Approve.", "I approve", "Yes", "yes, we agree", "Agree", "J'approuve", "Oui"],
)
def test_approvals(text: str) -> None:
    assert parse_vote(text + "\n") == (True, parse_vote(text)[1])
    assert parse_vote(text)[0] is True


def test_an_approval_keeps_its_comment() -> None:
    assert parse_vote("Approve - good work\nthanks") == (True, "good work\nthanks")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("object: the tariff chapter is missing", "the tariff chapter is missing"),
        ("I object.\nThe tariff chapter is missing.", "The tariff chapter is missing."),
        ("No - not before the budget is known", "not before the budget is known"),
        ("Oppose, see the annex", "see the annex"),
        ("Je m\u2019oppose : le chapitre douanes manque", "le chapitre douanes manque"),
        ("Non. Pas en l'état.", "Pas en l'état."),
    ],
)
def test_objections_carry_the_rest_as_reason(text: str, reason: str) -> None:
    assert parse_vote(text) == (False, reason)


def test_an_objection_without_reason_has_an_empty_reason() -> None:
    assert parse_vote("Object") == (False, "")


@pytest.mark.parametrize(
    "text", ["", "\n\n", "Maybe next week", "nothing to add", "I do not approve"]
)
def test_unreadable_votes(text: str) -> None:
    approve, why = parse_vote(text)
    assert approve is None
    assert why
