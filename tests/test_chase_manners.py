"""The chaser's manners, read where the people meet them, in their mailboxes (a real SMTP server on
loopback, fed by the real dispatcher and aiosmtplib client): after a late start only the latest rung
of each request goes out, the others are recorded as superseded; a person gets one mail per process
per sweep, listing every item that rang for them; an escalation waits a sweep after the first
reminder, goes up (never to the person chased) and counts the reminders really sent.

The process is Moroccan (Africa/Casablanca, UTC+1 in January), started on Tuesday 15 December 2026.
Customs (Saturday-Sunday weekend) gets two requests due Tuesday 29 December; Veterinary Inspection
(Friday-Saturday) one due Sunday 27 December; the Chair's institution one due 29 December. Nobody
sweeps until Wednesday 20 January 2027, 10:00 local. By then, for Customs: before:3 (24 Dec), due
(29 Dec), overdue:5 (6 Jan) and the escalation (6 Jan) are due, and overdue:10 (15 Jan) has passed;
overdue:15 falls on 22 January. For Veterinary: overdue:15 fell on Tuesday 19 January. The
coordinator appointment step was due on 15 January: its first alert rang on Monday 18 January.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from smtpsink import Sink, deliver, outgoing
from sqlmodel import select
from test_mail_end_to_end import _text

from ibmflow.demo import demo_roster_text
from ibmflow.services import chase, processes, records, requests, roster
from ibmflow.services.audit_log import verify_chain
from ibmflow.services.context import Context
from ibmflow.storage.tables import AuditEventRow, RequestRow, RungRow
from ibmflow.testing import FixedClock

ZONE = ZoneInfo("Africa/Casablanca")
KEY = "MA-LATE"
COORDINATOR = "coordinator@interior.example"
CHAIR = "chair@interior.example"
FOCAL_CUSTOMS, DEPUTY_CUSTOMS = "focal@customs.example", "deputy@customs.example"
FOCAL_VETERINARY = "focal@veterinary.example"


def local(day: date, at: time = time(10, 0)) -> datetime:
    return datetime.combine(day, at, tzinfo=ZONE).astimezone(UTC)


START = local(date(2026, 12, 15))
FIRST_SWEEP = local(date(2027, 1, 20))
NEXT_SWEEP = local(date(2027, 1, 21))


def late_start(ctx: Context, clock: FixedClock, tmp_path: Path) -> dict[str, int]:
    """The process of this module's docstring; returns the requests' ids by name."""
    clock.at = START
    processes.start_process(
        ctx,
        title="Morocco IBM strategy",
        actor=COORDINATOR,
        key=KEY,
        country="MA",
        timezone="Africa/Casablanca",
    )
    path = tmp_path / "roster.toml"
    path.write_text(demo_roster_text(), encoding="utf-8")
    roster.import_roster(ctx, KEY, path, actor=COORDINATOR)
    records.appoint_coordinator(
        ctx,
        KEY,
        name="Karim Benali",
        email=COORDINATOR,
        authority="Head of Government",
        reference="Decree 2-26-100",
        appointed_on=date(2026, 12, 15),
        actor=COORDINATOR,
    )
    ids: dict[str, int] = {}
    for name, kind, institution, days in (
        ("customs_inventory", "activity_inventory", "MOF_CUSTOMS", 10),
        ("customs_assessment", "self_assessment", "MOF_CUSTOMS", 10),
        ("veterinary", "activity_inventory", "MOA_VETERINARY", 8),
        ("chair", "activity_inventory", "CHAIR", 10),
    ):
        (ids[name],) = requests.send_requests(
            ctx, KEY, kind=kind, actor=COORDINATOR, institutions=[institution], due_days=days
        )
    return ids


@pytest.fixture
def mailboxes(ctx: Context) -> Iterator[Sink]:
    """The SMTP server the outbox is dispatched to (aiosmtpd on loopback)."""
    with outgoing(ctx) as sink:
        yield sink


def rungs_of(ctx: Context, request_id: int) -> dict[str, RungRow]:
    with ctx.db.reading() as session:
        rows = list(session.exec(select(RungRow).where(RungRow.request_id == request_id)))
        session.expunge_all()
    return {r.rung: r for r in rows}


def thread_of(ctx: Context, request_id: int) -> str:
    with ctx.db.reading() as session:
        message_id = session.exec(
            select(RequestRow.message_id).where(RequestRow.id == request_id)
        ).one()
    assert message_id
    return message_id


def test_a_late_start_sends_each_person_one_mail_with_the_latest_rung_of_each_item(
    ctx: Context, clock: FixedClock, tmp_path: Path, mailboxes: Sink
) -> None:
    ids = late_start(ctx, clock, tmp_path)
    deliver(ctx, mailboxes)  # the requests themselves
    clock.at = FIRST_SWEEP
    report = chase.sweep(ctx)
    got = deliver(ctx, mailboxes)

    # One mail per person of the process, whatever rang for them.
    assert {a: len(m) for a, m in got.items()} == {
        FOCAL_CUSTOMS: 1,
        DEPUTY_CUSTOMS: 1,
        FOCAL_VETERINARY: 1,
        CHAIR: 1,  # the Chair's own reminder and the step alert, in one mail
        COORDINATOR: 1,  # the step alert; no escalation yet
    }
    # Customs' focal point and deputy: one mail listing both requests, each with a link of its
    # own, threaded under the first one's request mail.
    first = min(ids["customs_inventory"], ids["customs_assessment"])
    for address in (FOCAL_CUSTOMS, DEPUTY_CUSTOMS):
        (mail,) = got[address]
        text = _text(mail)
        assert f"#{ids['customs_inventory']}" in text and f"#{ids['customs_assessment']}" in text
        links = {line.strip() for line in text.splitlines() if "/r/" in line}
        assert len(links) == 2, text
        assert mail["In-Reply-To"] == thread_of(ctx, first)
        assert text.count("13 working days overdue") == 2  # as of today, for both
    (vet,) = got[FOCAL_VETERINARY]
    # Veterinary Inspection reads French (the demo roster): "16 jours ouvrés de retard".
    assert "16 jours ouvrés de retard" in _text(vet) and _text(vet).count("/r/") == 1
    assert vet["In-Reply-To"] == thread_of(ctx, ids["veterinary"])
    (chair,) = got[CHAIR]
    assert f"#{ids['chair']}" in _text(chair) and "Identification of a national" in _text(chair)
    assert not any("Escalation" in str(m["Subject"]) for ms in got.values() for m in ms)

    # Per request: the latest rung sent, the earlier ones superseded, with the reason on record.
    customs = rungs_of(ctx, ids["customs_inventory"])
    assert {name: r.status for name, r in customs.items()} == {
        "before:3": "skipped",
        "due": "skipped",
        "overdue:5": "skipped",
        "overdue:10": "sent",
        "escalation": "pending",
        "overdue:15": "pending",
    }
    assert customs["due"].outcome == "superseded by overdue:10"
    assert customs["overdue:15"].due_on == date(2027, 1, 22)
    assert customs["escalation"].fire_at == local(date(2027, 1, 21), time(9))
    assert "waits" in (customs["escalation"].outcome or "")
    vet_rungs = rungs_of(ctx, ids["veterinary"])
    assert [n for n, r in vet_rungs.items() if r.status == "sent"] == ["overdue:15"]
    assert {n for n, r in vet_rungs.items() if r.status == "skipped"} == {
        "before:3",
        "due",
        "overdue:5",
        "overdue:10",
    }
    outcomes = Counter(r.outcome for r in report.rungs)
    assert outcomes["sent"] == 5  # four requests and the step
    with ctx.db.reading() as session:
        reasons = session.exec(
            select(AuditEventRow.reason).where(AuditEventRow.action == "chase.superseded")
        ).all()
    assert outcomes["superseded"] == len(reasons) == 3 + 3 + 4 + 3 + 0
    assert all(r and r.startswith("superseded by overdue:") for r in reasons)

    # The same sweep again sends nothing.
    assert chase.sweep(ctx).rungs == []
    assert deliver(ctx, mailboxes) == {}
    assert verify_chain(ctx).ok


def test_the_escalation_waits_a_sweep_goes_up_and_counts_the_reminders_sent(
    ctx: Context, clock: FixedClock, tmp_path: Path, mailboxes: Sink
) -> None:
    """Customs' and Veterinary's IAWG members are their focal points: their escalations go to the
    coordinator and the chair, not to them. The Chair's institution's member is the chair: its
    escalation goes to the coordinator alone."""
    ids = late_start(ctx, clock, tmp_path)
    clock.at = FIRST_SWEEP
    chase.sweep(ctx)
    deliver(ctx, mailboxes)
    clock.at = NEXT_SWEEP
    report = chase.sweep(ctx)
    got = deliver(ctx, mailboxes)
    assert sorted((r.rung, r.outcome) for r in report.rungs) == [("escalation", "sent")] * 4
    assert {a: len(m) for a, m in got.items()} == {COORDINATOR: 1, CHAIR: 1}
    (to_coordinator,) = got[COORDINATOR]
    text = _text(to_coordinator)
    for name in ("customs_inventory", "customs_assessment", "veterinary", "chair"):
        assert f"#{ids[name]}" in text, name
    assert "after 1 reminder." in text and "after 2 reminders" not in text
    assert "is also the focal point being chased" in text
    (to_chair,) = got[CHAIR]
    chair_text = _text(to_chair)
    assert f"#{ids['chair']}" not in chair_text and f"#{ids['veterinary']}" in chair_text
    with ctx.db.reading() as session:
        events = session.exec(
            select(AuditEventRow.entity, AuditEventRow.after_json).where(
                AuditEventRow.action == "chase.escalation"
            )
        ).all()
    chased = {FOCAL_CUSTOMS, DEPUTY_CUSTOMS, FOCAL_VETERINARY}
    to = {entity: json.loads(after or "{}")["to"] for entity, after in events}
    assert len(to) == 4 and not any(chased & set(addresses) for addresses in to.values())
    assert to[f"request:{ids['chair']}"] == [COORDINATOR]  # the chair is the one chased there
    assert to[f"request:{ids['veterinary']}"] == [COORDINATOR, CHAIR]


def test_a_single_escalation_says_whom_it_passed_over(
    ctx: Context, clock: FixedClock, tmp_path: Path, mailboxes: Sink
) -> None:
    """One escalation alone is the escalation mail itself, to the coordinator and the chair."""
    ids = late_start(ctx, clock, tmp_path)
    for name in ("customs_assessment", "veterinary", "chair"):
        clock.at = local(date(2026, 12, 16))
        requests.close(ctx, KEY, ids[name], status="withdrawn", reason="test", actor=COORDINATOR)
    clock.at = FIRST_SWEEP
    chase.sweep(ctx)
    deliver(ctx, mailboxes)
    clock.at = NEXT_SWEEP
    chase.sweep(ctx)
    got = deliver(ctx, mailboxes)
    assert {a: len(m) for a, m in got.items()} == {COORDINATOR: 1, CHAIR: 1}
    for address in (COORDINATOR, CHAIR):
        (mail,) = got[address]
        assert str(mail["Subject"]).startswith(f"[{KEY}] Escalation:")
        text = _text(mail)
        assert "after 1 reminder." in text
        assert "Rachid Alaoui" in text and "is also the focal point being chased" in text
        assert mail["In-Reply-To"] == thread_of(ctx, ids["customs_inventory"])
