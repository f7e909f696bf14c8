"""Reminding by hand ("Remind now") and acting on several requests at once, against a real database
and a real SMTP server on loopback (aiosmtpd).

The process is Moroccan (Africa/Casablanca, UTC+1 in January 2026), at stakeholder identification
with the demo roster; the clock stands on Monday 5 January 2026, 09:00 UTC. The requests are
activity inventories due in 3 working days: Customs (two focal points, Saturday-Sunday weekend)
on Thursday 8 January, Veterinary Inspection (reads French, Friday-Saturday weekend) on Thursday 8
January too. Their ladder: no reminder 3 days before (that is the day they were sent), one on the
due day at 09:00 local (08:00 UTC), then overdue rungs and the escalation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from clirun import invoker, on_database
from scenarios import at_stakeholder_identification
from smtpsink import deliver, outgoing
from sqlmodel import col, select

from ibmflow.errors import InvalidCommand, NotFound
from ibmflow.services import bulk, chase, extensions, processes, remind, requests
from ibmflow.services.context import Context
from ibmflow.storage.tables import (
    AuditEventRow,
    ChaseMailRow,
    DeadlineExtensionRow,
    OutboxRow,
    RequestRow,
    RungRow,
)
from ibmflow.testing import FixedClock

KEY, OTHER = "MA-1", "TN-1"
COORDINATOR = "coordinator@interior.example"
CUSTOMS = ("focal@customs.example", "deputy@customs.example")
VETERINARY = "focal@veterinary.example"


def _moment(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of January 2026, UTC."""
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


def _requests(ctx: Context, tmp_path: Path, key: str = KEY) -> dict[str, int]:
    at_stakeholder_identification(ctx, key, tmp_path, coordinator=COORDINATOR, requests=False)
    ids = {}
    for code in ("MOF_CUSTOMS", "MOA_VETERINARY", "MOI_BORDER_GUARD"):
        (ids[code],) = requests.send_requests(
            ctx,
            key,
            kind="activity_inventory",
            actor=COORDINATOR,
            institutions=[code],
            due_days=3,
        )
    return ids


def _rungs(ctx: Context, request_id: int) -> dict[str, RungRow]:
    with ctx.db.reading() as session:
        rows = session.exec(select(RungRow).where(RungRow.request_id == request_id)).all()
        session.expunge_all()
    return {r.rung: r for r in rows}


def _events(ctx: Context, action: str) -> list[AuditEventRow]:
    with ctx.db.reading() as session:
        rows = session.exec(
            select(AuditEventRow)
            .where(AuditEventRow.action == action)
            .order_by(col(AuditEventRow.seq))
        ).all()
        session.expunge_all()
    return list(rows)


def _message_id(ctx: Context, request_id: int) -> str:
    with ctx.db.reading() as session:
        request = session.get(RequestRow, request_id)
        assert request is not None and request.message_id
        return request.message_id


def test_remind_now_sends_the_ladders_reminder_threaded_in_each_readers_language_once_a_day(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    """On the due day, before the ladder's 09:00 rung: the reminder by hand reaches both Customs
    focal points at the SMTP server, under the request's first mail; it takes the place of the
    day's rung, so that the sweeps of that day send nothing for it (the other requests ring); a
    second reminder by hand that day is refused; the ladder goes on: the next overdue rung rings."""
    ids = _requests(ctx, tmp_path)
    customs = ids["MOF_CUSTOMS"]
    with outgoing(ctx) as sink:
        deliver(ctx, sink)  # the requests themselves
        clock.at = _moment(8, 7)  # Thursday, 08:00 local
        done = remind.remind_now(ctx, KEY, customs, COORDINATOR, reason="the minister asks")
        assert done.stands_for == ("due",)
        assert sorted(a for m in done.mails for a in m.to) == sorted(CUSTOMS)
        got = deliver(ctx, sink)
        assert sorted(got) == sorted(CUSTOMS)
        original = _message_id(ctx, customs)
        for address in CUSTOMS:
            (mail,) = got[address]
            assert mail["In-Reply-To"] == original
            assert original in mail["References"]
            assert mail["Subject"].startswith(f"[{KEY}] Reminder: ")
            body = mail.get_body(("plain",))
            assert body is not None
            text = body.get_content()
            assert f"request #{customs}" in text and "is due today" in text
            assert f"{ctx.settings.mail_base_url}/r/" in text  # a fresh personal link
        # exactly what the service said it sent
        assert {m.subject for m in done.mails} == {got[a][0]["Subject"] for a in CUSTOMS}

        with pytest.raises(InvalidCommand, match="already reminded by hand today"):
            remind.remind_now(ctx, KEY, customs, COORDINATOR)

        rungs = _rungs(ctx, customs)
        assert rungs["due"].status == "skipped" and rungs["due"].outcome == remind.BY_HAND
        manual = rungs["manual:2026-01-08"]
        assert manual.status == "sent"
        with ctx.db.reading() as session:
            carried = session.exec(
                select(ChaseMailRow).where(ChaseMailRow.rung_id == manual.id)
            ).all()
        assert len(carried) == 2

        for hour in (8, 12, 17):  # the day's sweeps: the others' due rungs ring, not Customs'
            chase.sweep(ctx, now=_moment(8, hour))
        clock.at = _moment(8, 17)
        got = deliver(ctx, sink)
        assert not set(got) & set(CUSTOMS)
        assert "focal@borderguard.example" in got

        (event,) = _events(ctx, "request.reminded")
        assert event.actor == COORDINATOR and event.entity == f"request:{customs}"
        assert event.reason == "the minister asks"

        # Friday the 16th: the first overdue rung (14 January is a holiday) rings as planned.
        clock.at = _moment(16, 9)
        report = chase.sweep(ctx)
        rang = {(r.subject, r.rung) for r in report.rungs if r.outcome == "sent"}
        assert any(s.startswith(f"request {customs} ") and n == "overdue:5" for s, n in rang)
        assert set(CUSTOMS) <= set(deliver(ctx, sink))


def test_a_french_focal_point_is_reminded_in_french(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    ids = _requests(ctx, tmp_path)
    clock.at = _moment(6, 10)
    shown = remind.preview(ctx, KEY, ids["MOA_VETERINARY"], COORDINATOR)
    (mail,) = shown.mails
    assert mail.to == (VETERINARY,) and mail.language == "fr"
    assert "Rappel" in mail.subject
    assert "Omar Fassi" in mail.text and "Dear" not in mail.text
    assert "/r/…" in mail.text  # the personal link shortened
    with outgoing(ctx) as sink:
        deliver(ctx, sink)
        sent = remind.remind_now(ctx, KEY, ids["MOA_VETERINARY"], COORDINATOR)
        (arrived,) = deliver(ctx, sink)[VETERINARY][-1:]
        assert arrived["Subject"] == mail.subject == sent.mails[0].subject
        body = arrived.get_body(("plain",))
        assert body is not None and "Rappel" in arrived["Subject"]
        # the preview is the sent mail, but for the personal link
        words = body.get_content().split("/r/")[0].split()
        assert words == mail.text.split("/r/")[0].split()


def test_a_preview_writes_nothing(ctx: Context, clock: FixedClock, tmp_path: Path) -> None:
    ids = _requests(ctx, tmp_path)
    clock.at = _moment(8, 7)
    with ctx.db.reading() as session:
        mails_before = len(session.exec(select(OutboxRow.id)).all())
    shown = remind.preview(ctx, KEY, ids["MOF_CUSTOMS"], COORDINATOR)
    assert len(shown.mails) == 2 and shown.stands_for == ("due",)
    with ctx.db.reading() as session:
        assert len(session.exec(select(OutboxRow.id)).all()) == mails_before
    assert _rungs(ctx, ids["MOF_CUSTOMS"])["due"].status == "pending"
    assert not _events(ctx, "request.reminded")
    # and it may be sent afterwards
    remind.remind_now(ctx, KEY, ids["MOF_CUSTOMS"], COORDINATOR)


def test_a_reminder_by_hand_then_an_extension_rings_no_ladder_reminder_that_day(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    """Reminded by hand on Tuesday, then extended by a day: the new ladder's reminder 3 days before
    falls on that Tuesday; the sweep defers it to Wednesday, when it rings."""
    ids = _requests(ctx, tmp_path)
    customs = ids["MOF_CUSTOMS"]
    clock.at = _moment(6, 7)
    remind.remind_now(ctx, KEY, customs, COORDINATOR)
    extensions.extend_deadline(
        ctx, KEY, reason="holiday", actor=COORDINATOR, request_id=customs, days=1
    )
    assert _rungs(ctx, customs)["before:3"].due_on.isoformat() == "2026-01-06"
    report = chase.sweep(ctx, now=_moment(6, 12))
    mine = [r for r in report.rungs if r.subject.startswith(f"request {customs} ")]
    assert [(r.rung, r.outcome) for r in mine] == [("before:3", "deferred")]
    assert "reminded by hand today" in mine[0].note
    report = chase.sweep(ctx, now=_moment(7, 12))
    mine = [r for r in report.rungs if r.subject.startswith(f"request {customs} ")]
    assert [(r.rung, r.outcome) for r in mine] == [("before:3", "sent")]


def test_remind_now_refuses_a_request_not_pending_not_of_the_process_or_suspended(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    ids = _requests(ctx, tmp_path)
    requests.close(
        ctx, KEY, ids["MOF_CUSTOMS"], status="waived", reason="not needed", actor=COORDINATOR
    )
    with pytest.raises(InvalidCommand, match=r"is waived; only a pending request can be reminded"):
        remind.remind_now(ctx, KEY, ids["MOF_CUSTOMS"], COORDINATOR)
    with pytest.raises(InvalidCommand, match=r"is waived"):
        remind.preview(ctx, KEY, ids["MOF_CUSTOMS"], COORDINATOR)
    with pytest.raises(NotFound, match=r"There is no request #999999 in process MA-1"):
        remind.remind_now(ctx, KEY, 999999, COORDINATOR)
    processes.fire(ctx, KEY, "suspend", actor=COORDINATOR, reason="elections")
    with pytest.raises(InvalidCommand, match=r"is suspended; resume it before reminding"):
        remind.remind_now(ctx, KEY, ids["MOA_VETERINARY"], COORDINATOR)
    assert not _events(ctx, "request.reminded")


def test_bulk_extend_moves_every_deadline_with_one_reason_and_an_event_each(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    ids = _requests(ctx, tmp_path)
    chosen = [ids["MOF_CUSTOMS"], ids["MOA_VETERINARY"]]
    done = bulk.apply(
        ctx, KEY, request_ids=chosen, action="extend", reason="Ramadan", days=5, actor=COORDINATOR
    )
    assert done.requests == tuple(chosen)
    events = _events(ctx, "deadline.extended")
    assert [e.entity for e in events] == [f"request:{i}" for i in chosen]
    assert {e.reason for e in events} == {"Ramadan"}
    with ctx.db.reading() as session:
        assert len(session.exec(select(DeadlineExtensionRow)).all()) == 2


def test_bulk_is_all_or_nothing(ctx: Context, clock: FixedClock, tmp_path: Path) -> None:
    """One request that may not be waived (already answered... here: already waived), or one of
    another process, refuses the whole: nothing is written."""
    ids = _requests(ctx, tmp_path)
    theirs = _requests(ctx, tmp_path, OTHER)["MOF_CUSTOMS"]
    requests.close(
        ctx, KEY, ids["MOI_BORDER_GUARD"], status="withdrawn", reason="x", actor=COORDINATOR
    )
    before = len(_events(ctx, "request.waived"))
    with pytest.raises(InvalidCommand, match=r"request #\d+ is withdrawn"):
        bulk.apply(
            ctx,
            KEY,
            request_ids=[ids["MOF_CUSTOMS"], ids["MOI_BORDER_GUARD"]],
            action="waive",
            reason="covered elsewhere",
            actor=COORDINATOR,
        )
    with pytest.raises(NotFound, match=rf"There is no request #{theirs} in process MA-1"):
        bulk.apply(
            ctx,
            KEY,
            request_ids=[ids["MOF_CUSTOMS"], theirs],
            action="remind",
            reason="late",
            actor=COORDINATOR,
        )
    assert len(_events(ctx, "request.waived")) == before
    assert not _events(ctx, "request.reminded")
    with ctx.db.reading() as session:
        statuses = {
            r.id: r.status for r in session.exec(select(RequestRow)) if r.id in ids.values()
        }
    assert statuses[ids["MOF_CUSTOMS"]] == "sent"


def test_bulk_remind_writes_one_mail_per_person(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    ids = _requests(ctx, tmp_path)
    clock.at = _moment(7, 10)
    with outgoing(ctx) as sink:
        deliver(ctx, sink)
        bulk.apply(
            ctx,
            KEY,
            request_ids=list(ids.values()),
            action="remind",
            reason="a week to go",
            actor=COORDINATOR,
        )
        got = deliver(ctx, sink)
    assert sorted(got) == sorted([*CUSTOMS, VETERINARY, "focal@borderguard.example"])
    assert all(len(mails) == 1 for mails in got.values())
    assert len(_events(ctx, "request.reminded")) == 3


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"action": "shout", "reason": "x"}, "not something done to several requests"),
        ({"action": "extend", "reason": "x"}, "number of working days"),
        ({"action": "waive", "reason": "  "}, "Give a reason"),
        ({"action": "waive", "reason": "x", "request_ids": []}, "Tick at least one request"),
    ],
)
def test_bulk_refuses_what_is_incomplete(
    ctx: Context, tmp_path: Path, args: dict[str, object], expected: str
) -> None:
    ids = _requests(ctx, tmp_path)
    given: dict[str, object] = {"request_ids": list(ids.values()), **args}
    with pytest.raises(InvalidCommand, match=expected):
        bulk.apply(ctx, KEY, actor=COORDINATOR, **given)  # type: ignore[arg-type]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_command_line_previews_sends_and_acts_on_several(
    ctx: Context,
    tmp_path: Path,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids = _requests(ctx, tmp_path)
    on_database(env, tmp_path, monkeypatch)
    cli = invoker(capsys)
    rid = str(ids["MOA_VETERINARY"])
    _, out, _ = cli("request", "remind", KEY, rid, "--preview")
    assert f"To: {VETERINARY} (fr)" in out and "Subject: [MA-1] " in out
    assert "/r/…" in out and "(preview: nothing was sent)" in out
    assert not _events(ctx, "request.reminded")
    _, out, _ = cli("request", "remind", KEY, rid, "--reason", "late")
    assert f"request #{rid} reminded" in out
    (event,) = _events(ctx, "request.reminded")
    assert event.actor == "cli:coordinator" and event.reason == "late"
    _, _, err = cli("request", "remind", KEY, rid, expect=1)
    assert "already reminded by hand today" in err
    both = [str(ids["MOF_CUSTOMS"]), str(ids["MOI_BORDER_GUARD"])]
    _, out, _ = cli("request", "bulk", KEY, *both, "--action", "waive", "--reason", "covered")
    assert out.strip() == f"waive: #{both[0]}, #{both[1]}"
    assert len(_events(ctx, "request.waived")) == 2
