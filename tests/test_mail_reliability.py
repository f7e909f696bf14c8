"""The dispatcher and the quarantine alert under stress (issue 9, item 18): a killed dispatcher's
claims come back after `mail.lease_s`, a long pass keeps its claims, `ibmflow mail dispatch --every`
stops on SIGTERM after the mail in hand, and the coordinator gets one quarantine alert per process
and hour listing every mail quarantined since the last one.

Real parts: the database files, aiosmtpd on loopback, the real aiosmtplib client, ibmflow's own
receiver, and the command line run as a subprocess.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

import pytest
from test_inbound_receive import (
    CUSTOMS,
    KEY,
    STRANGER,
    Receiver,
    outbox_of_kind,
    process,
    receiver,
    reply_to,
    request_mail,
    send,
)
from test_mail_delivery import SmtpServer, dispatch, outbox, request_round, smtp

from ibmflow.config import load_settings
from ibmflow.demo import COORDINATOR
from ibmflow.services import inbound
from ibmflow.services.context import Context
from ibmflow.services.dispatch import dispatch_once
from ibmflow.testing import FixedClock

__all__ = ["process", "receiver", "smtp"]  # fixtures shared with the modules they come from

REPO = Path(__file__).resolve().parent.parent


class Killed(BaseException):
    """Stands for SIGKILL in the middle of a delivery: nothing after it runs."""


class DyingTransport:
    """Delivers nothing: the dispatcher dies while handing over its first mail."""

    async def send(self, message: EmailMessage, recipients: Sequence[str]) -> None:
        raise Killed


# --- (a) the lease --------------------------------------------------------------------------------


def test_mail_lease_s_is_a_setting_of_60_seconds_by_default(tmp_path: Path) -> None:
    assert load_settings(environ={}).mail_lease_s == 60
    assert load_settings(environ={"IBMFLOW_MAIL_LEASE_S": "20"}).mail_lease_s == 20


@pytest.mark.parametrize("lease_s", [None, 20])
def test_a_killed_dispatchers_claims_are_taken_up_once_its_lease_ends(
    ctx: Context, smtp: SmtpServer, tmp_path: Path, clock: FixedClock, lease_s: int | None
) -> None:
    """A dispatcher killed in its first delivery holds its claimed mails for `mail.lease_s` (60 s
    unless configured), not longer; then another dispatcher sends each of them once."""
    if lease_s is not None:
        ctx.settings = dataclasses.replace(ctx.settings, mail_lease_s=lease_s)
    lease = lease_s or 60
    request_round(ctx, tmp_path, codes=["MOF_CUSTOMS"])
    rows = outbox(ctx, "request")
    with pytest.raises(Killed):
        asyncio.run(dispatch_once(ctx, DyingTransport(), worker_id="victim"))
    assert {r.claimed_by for r in outbox(ctx, "request")} == {"victim"}

    clock.advance(seconds=lease - 1)
    assert dispatch(ctx, smtp).claimed == []  # still held
    clock.advance(seconds=1)
    report = dispatch(ctx, smtp)
    assert sorted(report.sent) == [r.id for r in rows]
    assert {mid: len(got) for mid, got in smtp.handler.by_message_id().items()} == {
        r.message_id: 1 for r in rows
    }


def test_a_long_pass_keeps_its_claims_and_sends_every_mail_once(
    ctx: Context, smtp: SmtpServer, tmp_path: Path, clock: FixedClock
) -> None:
    """Each delivery takes 40 s of a 60 s lease, a pass of seven takes almost five minutes: the
    dispatcher renews its claims as it goes, so it sends them all, and another dispatcher that
    looks in after every delivery finds nothing to take."""
    request_round(ctx, tmp_path)
    rows = outbox(ctx, "request")
    assert len(rows) >= 5
    taken: list[list[int]] = []

    def look_in() -> None:
        try:
            taken.append(
                asyncio.run(dispatch_once(ctx, DyingTransport(), worker_id="other")).claimed
            )
        except Killed:
            taken.append([-1])  # it claimed a mail and tried to send it

    def slow_delivery() -> None:
        clock.advance(seconds=40)
        other = threading.Thread(target=look_in)  # the server's thread has its loop running
        other.start()
        other.join(60)

    smtp.handler.on_accept = slow_delivery
    report = dispatch(ctx, smtp)
    assert sorted(report.sent) == [r.id for r in rows] and report.skipped == []
    assert taken == [[]] * len(rows)
    assert {mid: len(got) for mid, got in smtp.handler.by_message_id().items()} == {
        r.message_id: 1 for r in rows
    }


# --- (b) SIGTERM ----------------------------------------------------------------------------------


def test_sigterm_lets_mail_dispatch_every_finish_the_mail_in_hand_and_exit_0(
    ctx: Context, smtp: SmtpServer, env: dict[str, str], tmp_path: Path
) -> None:
    """SIGTERM while `ibmflow mail dispatch --every 1` hands a mail over: that mail is delivered
    and marked sent, the others stay pending and unclaimed (the next dispatcher sends them at
    once), nothing is sent twice, and the command exits 0."""
    request_round(ctx, tmp_path, codes=["MOF_CUSTOMS", "MFA_VISA"])
    rows = outbox(ctx, "request")
    assert len(rows) >= 3
    in_hand, go = threading.Event(), threading.Event()

    def hold_the_first() -> None:
        smtp.handler.on_accept = None
        in_hand.set()
        assert go.wait(60)

    smtp.handler.on_accept = hold_the_first
    child_env = {
        **os.environ,
        **env,
        "IBMFLOW_CONFIG": str(REPO / "config.toml"),
        "IBMFLOW_SMTP_HOST": "127.0.0.1",
        "IBMFLOW_SMTP_PORT": str(smtp.port),
        "IBMFLOW_SMTP_SECURITY": "none",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from ibmflow.cli import main; main()",
            "mail",
            "dispatch",
            "--every",
            "1",
        ],
        env=child_env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert in_hand.wait(60), "the dispatcher never delivered"
        proc.send_signal(signal.SIGTERM)
    finally:
        go.set()
        out, errors = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + errors
    assert "Traceback" not in errors
    (delivered,) = smtp.handler.received
    after = {r.message_id: r for r in outbox(ctx, "request")}
    assert after[str(delivered.message["Message-ID"])].status == "sent"
    left = [r for r in after.values() if r.status != "sent"]
    assert len(left) == len(rows) - 1
    assert all(r.status == "pending" and r.claimed_until is None for r in left)
    assert sorted(dispatch(ctx, smtp).sent) == sorted(r.id for r in left)  # no lease to wait for
    assert {mid: len(got) for mid, got in smtp.handler.by_message_id().items()} == {
        r.message_id: 1 for r in rows
    }


# --- (c) one quarantine alert per process and hour ------------------------------------------------

LISTED = re.compile(r"quarantine assign (\d+)")


def alerts(ctx: Context) -> list[tuple[list[int], str]]:
    """Each quarantine alert in the outbox: the mails it lists, and its subject."""
    return [
        ([int(i) for i in LISTED.findall(row.text_body)], row.subject)
        for row in sorted(outbox_of_kind(ctx, "quarantine_alert"), key=lambda r: r.id or 0)
    ]


def test_twenty_bad_mails_in_a_minute_make_one_alert_and_the_next_hour_another(
    ctx: Context, process: str, receiver: Receiver, smtp: SmtpServer, clock: FixedClock
) -> None:
    original = request_mail(ctx, CUSTOMS)
    for n in range(20):
        bad = reply_to(original, f"Answer {n} from a stranger.", sender=STRANGER)
        send(receiver, bad)
        clock.advance(seconds=3)
    held = [q.id for q in inbound.list_quarantine(ctx, KEY)]
    assert len(held) == 20
    assert alerts(ctx) == []  # recorded, waiting for the next alert

    dispatch(ctx, smtp)
    [(listed, subject)] = alerts(ctx)
    assert sorted(listed) == sorted(held)
    assert subject == f"[{KEY}] 20 replies need your review"
    [alert] = outbox_of_kind(ctx, "quarantine_alert")
    assert alert.to_addrs == [COORDINATOR] and alert.status == "sent"

    clock.advance(minutes=30)
    send(receiver, reply_to(original, "Once more, half an hour later.", sender=STRANGER))
    dispatch(ctx, smtp)
    assert len(alerts(ctx)) == 1  # within the hour: it waits

    clock.advance(minutes=30)
    dispatch(ctx, smtp)
    first, second = alerts(ctx)
    [late] = [q.id for q in inbound.list_quarantine(ctx, KEY) if q.id not in held]
    assert second[0] == [late]
    assert second[1].startswith(f"[{KEY}] A reply needs your review: Re: ")
    every = {q.id for q in inbound.list_quarantine(ctx, KEY)}
    assert set(first[0]) | set(second[0]) == every  # nothing left un-alerted

    clock.advance(hours=5)
    dispatch(ctx, smtp)
    assert len(alerts(ctx)) == 2  # nothing new: no empty alert


def test_a_mail_the_coordinator_already_dealt_with_is_not_alerted(
    ctx: Context, process: str, receiver: Receiver, smtp: SmtpServer
) -> None:
    original = request_mail(ctx, CUSTOMS)
    send(receiver, reply_to(original, "Rachid is away; I confirm.", sender=STRANGER))
    [held] = inbound.list_quarantine(ctx, KEY)
    inbound.reject(ctx, held.id, "not from customs", COORDINATOR)
    dispatch(ctx, smtp)
    assert alerts(ctx) == []


def test_the_worker_and_mail_dispatch_send_the_bundled_alert(
    ctx: Context, process: str, receiver: Receiver, env: dict[str, str], tmp_path: Path
) -> None:
    """`ibmflow mail dispatch --once` (as every dispatch pass of the worker) writes the waiting
    alert to the outbox and sends it in the same pass."""
    original = request_mail(ctx, CUSTOMS)
    for n in range(3):
        send(receiver, reply_to(original, f"Stranger {n}.", sender=STRANGER))
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from ibmflow.cli import main; main()",
            "mail",
            "dispatch",
            "--once",
        ],
        env={**os.environ, **env, "IBMFLOW_CONFIG": str(REPO / "config.toml")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    [(listed, subject)] = alerts(ctx)
    assert len(listed) == 3 and subject == f"[{KEY}] 3 replies need your review"
    [alert] = outbox_of_kind(ctx, "quarantine_alert")
    assert alert.status == "sent"


def test_a_coordinators_own_mail_in_quarantine_is_not_alerted_to_them(
    ctx: Context, process: str, receiver: Receiver, smtp: SmtpServer, clock: FixedClock
) -> None:
    """The coordinator answering an alert by mail: their reply is kept in quarantine (it answers
    no request), and no alert about it goes back to them."""
    original = request_mail(ctx, CUSTOMS)
    send(receiver, reply_to(original, "I answer for customs.", sender=STRANGER))
    dispatch(ctx, smtp)
    [alert] = outbox_of_kind(ctx, "quarantine_alert")
    answer = EmailMessage()
    answer["From"] = f"Karim Benali <{COORDINATOR}>"
    answer["To"] = "replies@ibmflow.invalid"
    answer["Subject"] = f"Re: {alert.subject}"
    answer["In-Reply-To"] = alert.message_id
    answer.set_content("Looking into it.")
    send(receiver, answer)
    assert len(inbound.list_quarantine(ctx, KEY)) == 2
    clock.advance(hours=2)
    dispatch(ctx, smtp)
    assert len(outbox_of_kind(ctx, "quarantine_alert")) == 1
