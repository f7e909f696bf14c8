"""Answers by reply through the real receiver: ibmflow's aiosmtpd server on loopback, fed by the real
aiosmtplib client (smtplib for LMTP), on mails taken from the outbox of a real request round; and IMAP
polling against a real Dovecot when one is installed."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
import sqlalchemy as sa
from helpers import free_port
from outboxtext import with_text
from scenarios import at_stakeholder_identification
from sqlmodel import col, select

from ibmflow.demo import COORDINATOR
from ibmflow.entrypoints.receiver import controller
from ibmflow.errors import DatabaseNotReady, InvalidCommand
from ibmflow.services import decisions, inbound, processes, quarantine_alerts, requests
from ibmflow.services.audit_log import verify_chain
from ibmflow.services.context import Context
from ibmflow.storage.tables import (
    AuditEventRow,
    DocumentRow,
    InboundMessageRow,
    OutboxRow,
    RequestRow,
    VoteRow,
)

REPO = Path(__file__).resolve().parent.parent
KEY = "MA-1"
CUSTOMS = "focal@customs.example"
DEPUTY = "deputy@customs.example"  # a customs focal point, registered as deputy for CUSTOMS
HEALTH = "focal@health.example"
STRANGER = "intruder@elsewhere.example"
BORDER_MEMBER = "member@borderguard.example"


# --- the process, the receiver, the mails ------------------------------------------------------


@pytest.fixture
def process(ctx: Context, tmp_path: Path) -> str:
    """A process at stakeholder identification with the demo roster, its acknowledgement requests
    sent to every focal point of the permanent institutions."""
    at_stakeholder_identification(ctx, KEY, tmp_path, title="Demo strategy")
    requests.send_requests(
        ctx, KEY, kind="acknowledge_contact", actor=COORDINATOR, scope="permanent"
    )
    return KEY


@dataclass(frozen=True)
class Receiver:
    host: str
    port: int


@pytest.fixture
def receiver(ctx: Context) -> Iterator[Receiver]:
    """ibmflow's SMTP receiver on a free loopback port."""
    port = free_port()
    server = controller(ctx, lmtp=False, host="127.0.0.1", port=port)
    server.start()
    try:
        yield Receiver("127.0.0.1", port)
    finally:
        server.stop()


def request_mail(ctx: Context, to: str, kind: str = "request") -> OutboxRow:
    """The outbox row of the request (or vote) mailed to `to`."""
    with ctx.db.reading() as session:
        rows = session.exec(select(OutboxRow).where(OutboxRow.kind == kind)).all()
        session.expunge_all()  # keep the loaded values after the reading ends
    return next(r for r in with_text(ctx, rows) if to in r.to_addrs)


def reply_to(
    original: OutboxRow,
    body: str,
    *,
    sender: str,
    to: str | None = None,
    subject: str | None = None,
    thread: bool = True,
) -> EmailMessage:
    """A reply as a mail client writes it: to the Reply-To, threaded under the original."""
    assert original.reply_to is not None
    msg = EmailMessage()
    msg["From"] = f"Someone <{sender}>"
    msg["To"] = to or original.reply_to
    msg["Subject"] = subject or f"Re: {original.subject}"
    msg["Message-ID"] = f"<{hashlib.sha1(body.encode()).hexdigest()}@{sender.split('@')[1]}>"
    if thread:
        msg["In-Reply-To"] = original.message_id
        msg["References"] = original.message_id
    msg.set_content(body)
    return msg


def send(
    receiver: Receiver,
    msg: EmailMessage | bytes,
    *,
    mail_from: str | None = None,
    rcpt: str | None = None,
) -> tuple[int, str]:
    """Deliver one message with aiosmtplib (an empty `mail_from` is the null sender `<>`); the
    server's answer to the data."""
    if isinstance(msg, EmailMessage):
        sender = mail_from if mail_from is not None else msg["From"].addresses[0].addr_spec
        recipients = [rcpt or msg["To"].addresses[0].addr_spec]
        raw = msg.as_bytes()
    else:
        sender, recipients, raw = mail_from or "", [rcpt or "replies@ibmflow.invalid"], msg

    async def go() -> tuple[int, str]:
        client = aiosmtplib.SMTP(
            hostname=receiver.host, port=receiver.port, start_tls=False, timeout=30
        )
        async with client:
            errors, response = await client.sendmail(sender, recipients, raw)
        assert errors == {}
        return 250, response

    return asyncio.run(go())


def request_row(ctx: Context, request_id: int | None) -> RequestRow:
    with ctx.db.reading() as session:
        row = session.get(RequestRow, request_id)
        assert row is not None
        session.expunge_all()
        return row


def inbound_rows(ctx: Context) -> list[InboundMessageRow]:
    with ctx.db.reading() as session:
        rows = list(session.exec(select(InboundMessageRow).order_by(col(InboundMessageRow.id))))
        session.expunge_all()
        return rows


def events(ctx: Context, action: str) -> list[dict[str, Any]]:
    """The audit events of an action: entity, reason and `after`."""
    with ctx.db.reading() as session:
        rows = session.exec(
            select(AuditEventRow)
            .where(AuditEventRow.action == action)
            .order_by(col(AuditEventRow.seq))
        ).all()
        return [
            {
                "actor": r.actor,
                "entity": r.entity,
                "reason": r.reason,
                "after": json.loads(r.after_json or "null"),
            }
            for r in rows
        ]


def outbox_of_kind(ctx: Context, kind: str) -> list[OutboxRow]:
    with ctx.db.reading() as session:
        rows = list(session.exec(select(OutboxRow).where(OutboxRow.kind == kind)))
        session.expunge_all()
        return with_text(ctx, rows)


# --- replies taken as answers -------------------------------------------------------------------


def test_a_plain_reply_answers_the_request_by_reply(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    original = request_mail(ctx, CUSTOMS)
    code, response = send(receiver, reply_to(original, "Confirmed.", sender=CUSTOMS))
    assert code == 250 and "(answered)" in response
    request = request_row(ctx, original.request_id)
    assert (request.status, request.answered_via, request.answered_by) == (
        "answered",
        "reply",
        CUSTOMS,
    )
    assert request.answer_text == "Confirmed."
    [row] = inbound_rows(ctx)
    assert (row.status, row.classification, row.via, row.request_id) == (
        "answered",
        "reply",
        "smtp",
        request.id,
    )
    assert row.envelope_from == CUSTOMS and row.envelope_to == [original.reply_to]
    raw = ctx.documents.read(row.raw_sha256)
    assert b"Confirmed." in raw and row.size == len(raw)
    [answered] = events(ctx, "request.answered")
    assert answered["after"]["via"] == "reply"
    assert answered["after"]["inbound"] == row.id
    [receipt] = outbox_of_kind(ctx, "answer_receipt")
    assert receipt.to_addrs == [CUSTOMS]
    assert receipt.in_reply_to == original.message_id


def test_quoted_history_is_stripped_from_the_answer(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    original = request_mail(ctx, CUSTOMS)
    body = (
        "I confirm, and my direct line is +212 5 00 00 00.\n\n"
        "Rachid\n\n"
        "On Mon, 5 Jan 2026 at 10:00, ibmflow <ibmflow@ibmflow.invalid> wrote:\n"
        "> Dear Rachid Alaoui,\n> As focal point of ...\n"
    )
    send(receiver, reply_to(original, body, sender=CUSTOMS))
    assert request_row(ctx, original.request_id).answer_text == (
        "I confirm, and my direct line is +212 5 00 00 00.\n\nRachid"
    )


def test_an_attachment_is_saved_as_a_document_of_the_answer(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    original = request_mail(ctx, CUSTOMS)
    msg = reply_to(original, "Confirmed; our organigram is attached.", sender=CUSTOMS)
    content = b"%PDF-1.4 organigram of the customs directorate"
    msg.add_attachment(content, maintype="application", subtype="pdf", filename="organigram.pdf")
    msg.add_attachment(b"MZ...", maintype="application", subtype="x-msdownload", filename="x.exe")
    send(receiver, msg)
    request = request_row(ctx, original.request_id)
    assert request.answer_fields is not None
    [document_id] = request.answer_fields["documents"]
    with ctx.db.reading() as session:
        document = session.get(DocumentRow, document_id)
        session.expunge_all()
    assert document is not None
    assert document.filename == "organigram.pdf"
    assert document.sha256 == hashlib.sha256(content).hexdigest()
    assert ctx.documents.read(document.sha256) == content
    [answered] = events(ctx, "request.answered")
    assert answered["after"]["files_not_kept"] == ["x.exe"]  # refused type; still in the raw mail
    [attached] = events(ctx, "document.attached")
    assert attached["after"]["sha256"] == document.sha256
    assert attached["after"]["request"] == request.id


def test_a_deputy_may_answer_for_their_focal_point(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    original = request_mail(ctx, CUSTOMS)
    send(receiver, reply_to(original, "Confirmed on behalf of Rachid.", sender=DEPUTY))
    request = request_row(ctx, original.request_id)
    assert (request.status, request.answered_by) == ("answered", DEPUTY)


def test_a_reply_matched_only_by_in_reply_to(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    original = request_mail(ctx, CUSTOMS)
    msg = reply_to(original, "Confirmed.", sender=CUSTOMS, to="replies@ibmflow.invalid")
    send(receiver, msg)
    assert request_row(ctx, original.request_id).status == "answered"


def test_the_same_mail_delivered_twice_is_kept_and_answers_once(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    original = request_mail(ctx, CUSTOMS)
    msg = reply_to(original, "Confirmed.", sender=CUSTOMS)
    send(receiver, msg)
    send(receiver, msg)
    assert [r.status for r in inbound_rows(ctx)] == ["answered"]
    assert len(events(ctx, "request.answered")) == 1


def test_a_vote_by_reply(ctx: Context, process: str, receiver: Receiver) -> None:
    decision_id = decisions.open_decision(ctx, KEY, subject="terms_of_reference", actor=COORDINATOR)
    original = request_mail(ctx, BORDER_MEMBER, kind="vote")
    body = "Approve\n\nOn 5 Jan 2026, ibmflow wrote:\n> Or reply with object"
    send(receiver, reply_to(original, body, sender=BORDER_MEMBER))
    with ctx.db.reading() as session:
        [vote] = session.exec(select(VoteRow).where(VoteRow.decision_id == decision_id)).all()
        session.expunge_all()
    assert vote.approve is True
    request = request_row(ctx, original.request_id)
    assert (request.status, request.answered_via) == ("answered", "reply")
    [cast] = events(ctx, "vote.cast")
    assert cast["after"]["via"] == "reply" and cast["actor"] == BORDER_MEMBER
    [linked] = events(ctx, "mail.vote_received")
    assert linked["after"]["inbound"] == inbound_rows(ctx)[0].id


def test_an_objection_by_reply_carries_its_reason(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    decision_id = decisions.open_decision(ctx, KEY, subject="terms_of_reference", actor=COORDINATOR)
    original = request_mail(ctx, BORDER_MEMBER, kind="vote")
    send(receiver, reply_to(original, "Object: article 4 is unclear.", sender=BORDER_MEMBER))
    with ctx.db.reading() as session:
        [vote] = session.exec(select(VoteRow).where(VoteRow.decision_id == decision_id)).all()
        session.expunge_all()
    assert (vote.approve, vote.reason) == (False, "article 4 is unclear.")


def test_an_unreadable_vote_is_quarantined_and_nothing_is_cast(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    decisions.open_decision(ctx, KEY, subject="terms_of_reference", actor=COORDINATOR)
    original = request_mail(ctx, BORDER_MEMBER, kind="vote")
    send(receiver, reply_to(original, "Let us discuss it on Monday.", sender=BORDER_MEMBER))
    [row] = inbound_rows(ctx)
    assert row.status == "quarantined"
    assert row.reason is not None and "neither" in row.reason
    assert events(ctx, "vote.cast") == []
    assert request_row(ctx, original.request_id).status == "sent"


def test_a_vote_reply_while_the_process_is_suspended_is_quarantined_and_the_chain_intact(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    decisions.open_decision(ctx, KEY, subject="terms_of_reference", actor=COORDINATOR)
    processes.fire(ctx, KEY, "suspend", actor=COORDINATOR, reason="elections")
    original = request_mail(ctx, BORDER_MEMBER, kind="vote")
    send(receiver, reply_to(original, "Approve", sender=BORDER_MEMBER))
    [row] = inbound_rows(ctx)
    assert row.status == "quarantined"
    assert row.reason is not None and "suspended" in row.reason
    assert events(ctx, "vote.cast") == [] and events(ctx, "request.answered") == []
    assert verify_chain(ctx).ok


def test_a_structured_answer_by_reply_reads_its_fields(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    [request_id] = requests.send_requests(
        ctx, KEY, kind="self_assessment", actor=COORDINATOR, institutions=["MOF_CUSTOMS"]
    )
    original = next(r for r in outbox_of_kind(ctx, "request") if r.request_id == request_id)
    scores = (
        "Our scores:\n"
        "legal_framework: 3\n"
        "Institutional framework and inter-agency cooperation: 2\n"
        "procedures: 4\nhuman resources: 2\ninformation_exchange: 1\ninfrastructure: 3\n"
    )
    send(receiver, reply_to(original, scores, sender=DEPUTY))
    request = request_row(ctx, request_id)
    assert request.status == "answered"
    assert request.answer_fields == {
        "legal_framework": 3,
        "institutional_framework": 2,
        "procedures": 4,
        "human_resources": 2,
        "information_exchange": 1,
        "infrastructure": 3,
    }


def test_a_structured_answer_without_its_fields_or_a_file_is_quarantined(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    [request_id] = requests.send_requests(
        ctx, KEY, kind="self_assessment", actor=COORDINATOR, institutions=["MOF_CUSTOMS"]
    )
    original = next(r for r in outbox_of_kind(ctx, "request") if r.request_id == request_id)
    send(receiver, reply_to(original, "We will send it next week.", sender=CUSTOMS))
    [row] = inbound_rows(ctx)
    assert row.status == "quarantined"
    assert row.reason is not None and "Legal and regulatory framework" in row.reason
    assert request_row(ctx, request_id).status == "sent"


# --- mails that are never answers ---------------------------------------------------------------


def test_an_out_of_office_is_recorded_and_shown_not_taken_as_answer(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    original = request_mail(ctx, CUSTOMS)
    msg = reply_to(
        original,
        "I am out of the office until 19 January.",
        sender=CUSTOMS,
        subject=f"Automatic reply: {original.subject}",
    )
    msg["Auto-Submitted"] = "auto-replied"
    send(receiver, msg, mail_from="")
    assert request_row(ctx, original.request_id).status == "sent"
    [shown] = inbound.list_inbound(ctx, KEY)
    assert (shown.classification, shown.status, shown.request) == (
        "out_of_office",
        "recorded",
        original.request_id,
    )
    [audited] = events(ctx, "mail.auto_reply")
    assert audited["after"]["request"] == original.request_id
    assert inbound.list_quarantine(ctx) == []


def test_a_bounce_is_recorded_against_the_request_it_reports(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    original = request_mail(ctx, CUSTOMS)
    report = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.customs.example>\r\n"
        "To: replies@ibmflow.invalid\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nUser unknown.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        "Final-Recipient: rfc822; focal@customs.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {original.message_id}\r\n\r\n--B--\r\n"
    ).encode()
    send(receiver, report, mail_from="", rcpt="replies@ibmflow.invalid")
    [row] = inbound_rows(ctx)
    assert (row.classification, row.status, row.request_id) == (
        "bounce",
        "recorded",
        original.request_id,
    )
    assert row.envelope_from == ""
    assert request_row(ctx, original.request_id).status == "sent"
    assert events(ctx, "mail.bounce")[0]["after"]["request"] == original.request_id


# --- quarantine ---------------------------------------------------------------------------------


def test_a_reply_from_a_stranger_is_quarantined_and_the_coordinator_alerted(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    original = request_mail(ctx, CUSTOMS)
    send(receiver, reply_to(original, "I answer for customs.", sender=STRANGER))
    assert request_row(ctx, original.request_id).status == "sent"
    [held] = inbound.list_quarantine(ctx, KEY)
    assert held.status == "quarantined" and held.request == original.request_id
    assert STRANGER in held.reason and "Customs Directorate" in held.reason
    [audited] = events(ctx, "mail.quarantined")
    assert audited["entity"] == f"inbound:{held.id}" and audited["reason"] == held.reason
    quarantine_alerts.flush(ctx)  # as the next dispatch pass does
    [alert] = outbox_of_kind(ctx, "quarantine_alert")
    assert alert.to_addrs == [COORDINATOR]
    assert STRANGER in alert.text_body and f"quarantine assign {held.id}" in alert.text_body
    assert verify_chain(ctx).ok


def test_another_institutions_focal_point_is_quarantined(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    original = request_mail(ctx, CUSTOMS)
    send(receiver, reply_to(original, "Confirmed.", sender=HEALTH))
    assert [r.status for r in inbound_rows(ctx)] == ["quarantined"]


def test_a_reply_matching_nothing_is_quarantined_without_an_alert(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    msg = EmailMessage()
    msg["From"] = STRANGER
    msg["To"] = "replies+0000000000000000@ibmflow.invalid"
    msg["Subject"] = "hello"
    msg.set_content("Is this the border strategy team?")
    send(receiver, msg)
    [held] = inbound.list_quarantine(ctx)
    assert held.process is None and "no known request" in held.reason
    assert inbound.list_quarantine(ctx, KEY) == []
    quarantine_alerts.flush(ctx)
    assert outbox_of_kind(ctx, "quarantine_alert") == []


def test_a_reply_to_an_answered_request_is_quarantined_with_that_reason(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    original = request_mail(ctx, CUSTOMS)
    send(receiver, reply_to(original, "Confirmed.", sender=CUSTOMS))
    send(receiver, reply_to(original, "Confirmed again, with a new number.", sender=CUSTOMS))
    first, second = inbound_rows(ctx)
    assert (first.status, second.status) == ("answered", "quarantined")
    assert second.reason is not None and "already answered" in second.reason
    assert request_row(ctx, original.request_id).answer_text == "Confirmed."


def test_a_malformed_message_is_quarantined_not_refused(ctx: Context, receiver: Receiver) -> None:
    with smtplib.SMTP(receiver.host, receiver.port, timeout=30) as client:
        client.sendmail(STRANGER, ["replies@ibmflow.invalid"], b"\r\n\r\nno header at all\r\n")
    [row] = inbound_rows(ctx)
    assert row.status == "quarantined"
    assert row.reason is not None and row.reason.startswith("unreadable mail")


def test_assign_from_quarantine_records_the_answer(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    original = request_mail(ctx, CUSTOMS)
    send(receiver, reply_to(original, "Rachid is away; I confirm for him.", sender=STRANGER))
    [held] = inbound.list_quarantine(ctx, KEY)
    inbound.assign(ctx, held.id, original.request_id or 0, COORDINATOR)
    request = request_row(ctx, original.request_id)
    assert (request.status, request.answered_via, request.answered_by) == (
        "answered",
        "reply",
        STRANGER,
    )
    assert request.answer_text == "Rachid is away; I confirm for him."
    assert inbound.list_quarantine(ctx) == []
    [row] = inbound_rows(ctx)
    assert (row.status, row.decided_by) == ("assigned", COORDINATOR)
    [assigned] = events(ctx, "quarantine.assigned")
    assert assigned["actor"] == COORDINATOR and assigned["after"]["request"] == request.id
    assert events(ctx, "request.answered")[0]["after"]["assigned_by"] == COORDINATOR
    with pytest.raises(InvalidCommand, match="not in quarantine"):
        inbound.assign(ctx, held.id, original.request_id or 0, COORDINATOR)


def test_reject_from_quarantine(ctx: Context, process: str, receiver: Receiver) -> None:
    original = request_mail(ctx, CUSTOMS)
    send(receiver, reply_to(original, "Buy cheap watches.", sender=STRANGER))
    [held] = inbound.list_quarantine(ctx, KEY)
    with pytest.raises(InvalidCommand, match="reason"):
        inbound.reject(ctx, held.id, "  ", COORDINATOR)
    inbound.reject(ctx, held.id, "spam", COORDINATOR)
    assert inbound.list_quarantine(ctx) == []
    [row] = inbound.list_inbound(ctx, KEY)
    assert row.status == "rejected" and row.reason.endswith("rejected: spam")
    [rejected] = events(ctx, "quarantine.rejected")
    assert rejected["reason"] == "spam" and rejected["actor"] == COORDINATOR
    assert request_row(ctx, original.request_id).status == "sent"


def test_a_fault_while_reading_keeps_the_mail_in_quarantine(
    ctx: Context, process: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("classifier bug")

    monkeypatch.setattr("ibmflow.mail.inbound.classify", broken)
    original = request_mail(ctx, CUSTOMS)
    code, _ = send(receiver, reply_to(original, "Confirmed.", sender=CUSTOMS))
    assert code == 250  # accepted: the sender is not asked to retry a mail ibmflow cannot read
    [row] = inbound_rows(ctx)
    assert row.status == "quarantined"
    assert row.reason == "ibmflow could not process this mail: classifier bug"
    assert b"Confirmed." in ctx.documents.read(row.raw_sha256)


# --- the receiver itself ------------------------------------------------------------------------


def test_mail_for_a_foreign_domain_is_refused_550(ctx: Context, receiver: Receiver) -> None:
    msg = EmailMessage()
    msg["From"] = STRANGER
    msg["To"] = "victim@gmail.example"
    msg["Subject"] = "relay me"
    msg.set_content("spam")

    async def go() -> None:
        await aiosmtplib.send(
            msg, hostname=receiver.host, port=receiver.port, start_tls=False, timeout=30
        )

    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        asyncio.run(go())
    assert refused.value.recipients[0].code == 550
    assert inbound_rows(ctx) == []


def test_a_database_failure_answers_451_so_the_sender_retries(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    with ctx.db.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE inbound_message"))
    original = request_mail(ctx, CUSTOMS)
    with pytest.raises(aiosmtplib.SMTPDataError) as failed:
        send(receiver, reply_to(original, "Confirmed.", sender=CUSTOMS))
    assert failed.value.code == 451
    assert request_row(ctx, original.request_id).status == "sent"


def test_lmtp_mode(ctx: Context, process: str) -> None:
    port = free_port()
    server = controller(ctx, lmtp=True, host="127.0.0.1", port=port)
    server.start()
    try:
        original = request_mail(ctx, CUSTOMS)
        msg = reply_to(original, "Confirmed through LMTP.", sender=CUSTOMS)
        with smtplib.LMTP("127.0.0.1", port) as client:
            assert client.send_message(msg) == {}
            client.mail(CUSTOMS)
            code, _ = client.rcpt("victim@gmail.example")
            assert code == 550
    finally:
        server.stop()
    [row] = inbound_rows(ctx)
    assert (row.via, row.status) == ("lmtp", "answered")
    assert request_row(ctx, original.request_id).answer_text == "Confirmed through LMTP."


# --- IMAP against a real Dovecot ----------------------------------------------------------------


@dataclass(frozen=True)
class Mailbox:
    port: int
    user: str
    password: str


@pytest.fixture
def dovecot() -> Iterator[Mailbox]:
    """A throw-away Dovecot IMAP server on a free loopback port (plaintext passdb, no TLS)."""
    binary = shutil.which("dovecot")
    if binary is None or os.geteuid() != 0:
        reason = "Dovecot (Debian's dovecot-imapd) is not installed, or not running as root"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; .ci/run installs it")
        pytest.skip(reason)
    pwd.getpwnam("dovenull")
    folder = Path(tempfile.mkdtemp(prefix="ibmflow-dovecot-"))
    folder.chmod(0o755)
    (folder / "mail").mkdir()
    shutil.chown(folder / "mail", "nobody", "nogroup")
    (folder / "passwd").write_text("replies:{PLAIN}secret\n", encoding="utf-8")
    port = free_port()
    config = folder / "dovecot.conf"
    config.write_text(
        f"""base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{folder}/mail/%u
default_internal_user = dovecot
default_login_user = dovenull
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {folder}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={folder}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
""",
        encoding="utf-8",
    )
    server = subprocess.Popen(
        [binary, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(f"Dovecot did not start; see {folder}/dovecot.log")
                time.sleep(0.05)
        yield Mailbox(port, "replies", "secret")
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def test_imap_poll_receives_unread_replies_once_and_marks_them_read(
    ctx: Context, process: str, dovecot: Mailbox
) -> None:
    import dataclasses
    import imaplib

    from ibmflow.entrypoints.imap import poll_once

    original = request_mail(ctx, CUSTOMS)
    answer = reply_to(original, "Confirmed by IMAP.", sender=CUSTOMS)
    answer["Delivered-To"] = str(original.reply_to)
    stranger = reply_to(original, "Me too.", sender=STRANGER)
    with imaplib.IMAP4("127.0.0.1", dovecot.port) as client:
        client.login(dovecot.user, dovecot.password)
        client.append("INBOX", None, None, answer.as_bytes())
        client.append("INBOX", None, None, stranger.as_bytes())
        client.append(
            "INBOX", "(\\Seen)", None, reply_to(original, "old", sender=HEALTH).as_bytes()
        )
    ctx.settings = dataclasses.replace(
        ctx.settings,
        imap_host="127.0.0.1",
        imap_port=dovecot.port,
        imap_username=dovecot.user,
        imap_password=dovecot.password,
        imap_ssl=False,
    )
    assert poll_once(ctx) == 2
    assert poll_once(ctx) == 0  # marked read: not received again
    rows = inbound_rows(ctx)
    assert [(r.via, r.status) for r in rows] == [("imap", "answered"), ("imap", "quarantined")]
    assert request_row(ctx, original.request_id).answer_text == "Confirmed by IMAP."
    with imaplib.IMAP4("127.0.0.1", dovecot.port) as client:
        client.login(dovecot.user, dovecot.password)
        client.select("INBOX", readonly=True)
        _, unseen = client.search(None, "UNSEEN")
        assert unseen == [b""]


def test_imap_refuses_a_wrong_password_and_a_missing_configuration(
    ctx: Context, dovecot: Mailbox
) -> None:
    import dataclasses

    from ibmflow.entrypoints.imap import MailboxUnavailable, poll_once
    from ibmflow.errors import ConfigError

    with pytest.raises(ConfigError, match=r"imap\.host"):
        poll_once(ctx)
    ctx.settings = dataclasses.replace(
        ctx.settings,
        imap_host="127.0.0.1",
        imap_port=dovecot.port,
        imap_username=dovecot.user,
        imap_password="wrong",
        imap_ssl=False,
    )
    with pytest.raises(MailboxUnavailable, match="cannot connect or log in"):
        poll_once(ctx)


def test_imap_leaves_a_message_unread_when_the_database_fails(
    ctx: Context, process: str, dovecot: Mailbox
) -> None:
    import dataclasses
    import imaplib

    from ibmflow.entrypoints.imap import poll_once

    original = request_mail(ctx, CUSTOMS)
    with imaplib.IMAP4("127.0.0.1", dovecot.port) as client:
        client.login(dovecot.user, dovecot.password)
        client.append("INBOX", None, None, reply_to(original, "Yes.", sender=CUSTOMS).as_bytes())
    ctx.settings = dataclasses.replace(
        ctx.settings,
        imap_host="127.0.0.1",
        imap_port=dovecot.port,
        imap_username=dovecot.user,
        imap_password=dovecot.password,
        imap_ssl=False,
    )
    with ctx.db.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE inbound_message"))
    # SQLite says "no such table" (DatabaseNotReady); PostgreSQL raises its ProgrammingError.
    with pytest.raises((DatabaseNotReady, sa.exc.ProgrammingError)):
        poll_once(ctx)
    with imaplib.IMAP4("127.0.0.1", dovecot.port) as client:
        client.login(dovecot.user, dovecot.password)
        client.select("INBOX", readonly=True)
        _, unseen = client.search(None, "UNSEEN")
        assert unseen == [b"1"]


# --- the command line ---------------------------------------------------------------------------


def test_quarantine_and_received_mail_from_the_command_line(
    ctx: Context,
    process: str,
    receiver: Receiver,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import ibmflow.cli.inbound  # noqa: F401  (registers the commands)
    from ibmflow.cli import run

    for name, value in {**env, "IBMFLOW_CONFIG": str(REPO / "config.toml")}.items():
        monkeypatch.setenv(name, value)
    original = request_mail(ctx, CUSTOMS)
    send(receiver, reply_to(original, "For customs.", sender=STRANGER))
    send(receiver, reply_to(original, "Also for customs.", sender=HEALTH))

    def cli(*args: str) -> str:
        capsys.readouterr()
        assert run(list(args)) == 0
        return capsys.readouterr().out

    first, second = json.loads(cli("quarantine", "list", KEY, "--json"))
    assert STRANGER in first["from"] and first["status"] == "quarantined"
    assert "Quarantine" in cli("quarantine", "list")
    cli(
        "--as",
        COORDINATOR,
        "quarantine",
        "assign",
        str(first["id"]),
        "--request",
        str(original.request_id),
    )
    cli("--as", COORDINATOR, "quarantine", "reject", str(second["id"]), "--reason", "duplicate")
    assert json.loads(cli("quarantine", "list", "--json")) == []
    received = json.loads(cli("mail", "received", KEY, "--json"))
    assert [r["status"] for r in received] == ["assigned", "rejected"]
    assert "Mail received for" in cli("mail", "received", KEY)
    assert request_row(ctx, original.request_id).answered_by == STRANGER


def test_ibmflow_inbound_runs_the_receiver_until_stopped(
    ctx: Context, process: str, env: dict[str, str]
) -> None:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import ibmflow.cli.inbound; from ibmflow.cli import main; main()",
            "inbound",
            "--smtp",
            "--port",
            str(port),
        ],
        env={**os.environ, **env, "IBMFLOW_CONFIG": str(REPO / "config.toml")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, server.stderr
                time.sleep(0.05)
        original = request_mail(ctx, CUSTOMS)
        send(Receiver("127.0.0.1", port), reply_to(original, "Confirmed.", sender=CUSTOMS))
    finally:
        server.send_signal(signal.SIGTERM)
        out, errors = server.communicate(timeout=30)
    assert server.returncode == 0, errors
    assert f"receiving SMTP on 127.0.0.1:{port}" in out and "receiver stopped" in out
    assert request_row(ctx, original.request_id).answered_via == "reply"
