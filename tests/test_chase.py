"""The chaser against a real database, with time moved by time-machine (never by sleeping).

The process is Moroccan (Africa/Casablanca, Moroccan public holidays), started on Tuesday 15 December
2026 at 10:00 local. Customs keeps a Saturday-Sunday weekend; Veterinary Inspection a Friday-Saturday
one. Morocco leaves UTC+1 for UTC+0 on 7 February 2027 (Ramadan) and returns on 14 March: rungs ring
at 09:00 local, so at 08:00 UTC before, 09:00 UTC during, 08:00 UTC after.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine
from outboxtext import with_text, write_text_of_pending
from sqlmodel import col, select

from ibmflow.bootstrap import bootstrap
from ibmflow.cli import run
from ibmflow.config import load_settings
from ibmflow.demo import demo_roster_text
from ibmflow.errors import InvalidCommand
from ibmflow.services import (
    chase,
    deadlines,
    extensions,
    nominations,
    processes,
    records,
    requests,
    roster,
)
from ibmflow.services.audit_log import verify_chain
from ibmflow.services.context import Context
from ibmflow.storage import migrate
from ibmflow.storage.tables import AuditEventRow, OutboxRow, RequestRow, RungRow, StepRecord

REPO = Path(__file__).resolve().parent.parent
ZONE = ZoneInfo("Africa/Casablanca")
COORDINATOR = "coordinator@interior.example"
KEY = "MA-1"
START = datetime(2026, 12, 15, 10, 0, tzinfo=ZONE)  # Tuesday, 09:00 UTC


def local(day: date, at: time = time(9, 0)) -> datetime:
    """A local wall-clock moment in Morocco, as UTC (zoneinfo's arithmetic, not ibmflow's)."""
    return datetime.combine(day, at, tzinfo=ZONE).astimezone(UTC)


@pytest.fixture
def live(env: dict[str, str]) -> Iterator[Context]:
    """ibmflow on the system clock, which time-machine moves."""
    context = bootstrap(load_settings(config_path=REPO / "config.toml", environ=env))
    migrate.upgrade(context.db)
    yield context
    context.db.dispose()


def _morocco(ctx: Context, tmp_path: Path) -> dict[str, int]:
    """The process, its roster, and two requests: Customs due in 10 working days (Tuesday 29
    December), Veterinary Inspection in 8 of its own (Sunday 27 December)."""
    with time_machine.travel(START, tick=False):
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
        (customs,) = requests.send_requests(
            ctx,
            KEY,
            kind="activity_inventory",
            actor=COORDINATOR,
            institutions=["MOF_CUSTOMS"],
            due_days=10,
        )
        (veterinary,) = requests.send_requests(
            ctx,
            KEY,
            kind="activity_inventory",
            actor=COORDINATOR,
            institutions=["MOA_VETERINARY"],
            due_days=8,
        )
    with ctx.db.reading() as session:
        stay = session.exec(
            select(StepRecord.id).where(StepRecord.step == "coordinator_appointment")
        ).one()
    return {"customs": customs, "veterinary": veterinary, "stay": stay or 0}


def _all(ctx: Context, query: Any) -> list[Any]:
    """The rows of a query, usable after the reading session ends."""
    with ctx.db.reading() as session:
        rows = list(session.exec(query).all())
        session.expunge_all()
    return with_text(ctx, rows)  # an outbox row as the dispatcher renders it


def _rungs(ctx: Context) -> dict[str, RungRow]:
    return {r.key: r for r in _all(ctx, select(RungRow))}


def _sweep_at(ctx: Context, moment: datetime) -> chase.SweepReport:
    with time_machine.travel(moment, tick=False):
        return chase.sweep(ctx)


def test_ninety_days_of_chasing_ring_every_rung_on_its_day_at_nine_local(
    live: Context, tmp_path: Path
) -> None:
    """Sweeping every hour for 90 days sends each rung once, at 09:00 local of its working day.

    Customs (Sat-Sun), due Tue 29 Dec: before:3 Thu 24 Dec; due 29 Dec; overdue:5 and escalation
    Wed 6 Jan (30, 31 Dec, 4, 5, 6 Jan: New Year's Day is a Friday holiday); then every 5 working
    days: Fri 15 Jan (11 and 14 Jan are holidays), 22 Jan, 29 Jan, 5, 12, 19, 26 Feb, 5 Mar; the
    next, Tue 16 Mar (Eid al-Fitr on 9 and 10 Mar), lies after the 90 days.
    Veterinary (Fri-Sat), due Sun 27 Dec: before:3 Tue 22 Dec; due Sun 27 Dec; overdue:5 and
    escalation Sun 3 Jan; overdue:10 Sun 10 Jan; it answers on Mon 11 Jan, so overdue:15 (Tue 19
    Jan) is cancelled, never sent.
    The step (20 working days, Sat-Sun, due Fri 15 Jan) alerts on Mon 18 Jan, then 25 Jan, 1, 8,
    15, 22 Feb, 1 and 8 Mar; the next, Wed 17 Mar, lies after.
    """
    ids = _morocco(live, tmp_path)
    answer_at = local(date(2027, 1, 11), time(12, 0))
    moment = START.astimezone(UTC)
    end = moment + timedelta(days=90)
    while moment <= end:
        with time_machine.travel(moment, tick=False):
            chase.sweep(live)
            if moment == answer_at:
                records.record_answer(
                    live,
                    KEY,
                    kind="activity_inventory",
                    actor="focal@veterinary.example",
                    institution="MOA_VETERINARY",
                    fields={"ongoing": "Border inspection posts", "planned": "Two new posts"},
                )
        moment += timedelta(hours=1)

    c, v, s = f"request:{ids['customs']}", f"request:{ids['veterinary']}", f"step:{ids['stay']}"
    d = date
    expected_sent = {
        f"{c}:before:3": d(2026, 12, 24), f"{c}:due": d(2026, 12, 29),
        f"{c}:overdue:5": d(2027, 1, 6), f"{c}:escalation": d(2027, 1, 6),
        f"{c}:overdue:10": d(2027, 1, 15), f"{c}:overdue:15": d(2027, 1, 22),
        f"{c}:overdue:20": d(2027, 1, 29), f"{c}:overdue:25": d(2027, 2, 5),
        f"{c}:overdue:30": d(2027, 2, 12), f"{c}:overdue:35": d(2027, 2, 19),
        f"{c}:overdue:40": d(2027, 2, 26), f"{c}:overdue:45": d(2027, 3, 5),
        f"{v}:before:3": d(2026, 12, 22), f"{v}:due": d(2026, 12, 27),
        f"{v}:overdue:5": d(2027, 1, 3), f"{v}:escalation": d(2027, 1, 3),
        f"{v}:overdue:10": d(2027, 1, 10),
        f"{s}:step_overdue:1": d(2027, 1, 18), f"{s}:step_overdue:6": d(2027, 1, 25),
        f"{s}:step_overdue:11": d(2027, 2, 1), f"{s}:step_overdue:16": d(2027, 2, 8),
        f"{s}:step_overdue:21": d(2027, 2, 15), f"{s}:step_overdue:26": d(2027, 2, 22),
        f"{s}:step_overdue:31": d(2027, 3, 1), f"{s}:step_overdue:36": d(2027, 3, 8),
    }  # fmt: skip
    rungs = _rungs(live)
    sent = {key: r for key, r in rungs.items() if r.status == "sent"}
    assert {key: r.due_on for key, r in sent.items()} == expected_sent
    for key, rung in sent.items():
        assert rung.done_at == local(rung.due_on), key
    # Daylight saving on the way: 08:00 UTC in January, 09:00 UTC in Ramadan's UTC+0, 08:00 after.
    assert sent[f"{c}:overdue:20"].done_at == datetime(2027, 1, 29, 8, 0, tzinfo=UTC)
    assert sent[f"{c}:overdue:30"].done_at == datetime(2027, 2, 12, 9, 0, tzinfo=UTC)
    assert sent[f"{s}:step_overdue:36"].done_at == datetime(2027, 3, 8, 9, 0, tzinfo=UTC)
    assert rungs[f"{v}:overdue:15"].status == "cancelled"
    assert rungs[f"{c}:overdue:50"].status == "pending"
    assert rungs[f"{c}:overdue:50"].due_on == d(2027, 3, 16)
    assert rungs[f"{s}:step_overdue:41"].due_on == d(2027, 3, 17)

    mails = _all(live, select(OutboxRow).where(col(OutboxRow.dedupe_key).is_not(None)))
    (thread,) = _all(live, select(RequestRow.message_id).where(RequestRow.id == ids["customs"]))
    by_rung: dict[str, list[OutboxRow]] = {}
    for mail in mails:
        rung_key = next(
            k for k in expected_sent if mail.dedupe_key in (k, *(f"{k}:{n}" for n in range(999)))
        )
        by_rung.setdefault(rung_key, []).append(mail)
    assert set(by_rung) == set(expected_sent)  # every sent rung has mail, and no other rung has
    for key, rung_mails in by_rung.items():
        assert all(m.created_at == sent[key].done_at for m in rung_mails)
    # Customs has a focal point and a deputy: each reminder reaches both, under the request's thread,
    # each with a fresh link.
    reminders = by_rung[f"{c}:overdue:5"]
    assert sorted(a for m in reminders for a in m.to_addrs) == [
        "deputy@customs.example",
        "focal@customs.example",
    ]
    assert {m.in_reply_to for m in reminders} == {thread}
    assert "/r/" in reminders[0].text_body and "5 working days overdue" in reminders[0].text_body
    # Customs' IAWG member is its focal point, the person chased: the escalation goes up instead,
    # to the coordinator and the chair, a mail each.
    escalation = by_rung[f"{c}:escalation"]
    assert sorted(a for m in escalation for a in m.to_addrs) == [
        "chair@interior.example",
        COORDINATOR,
    ]
    step_alert = by_rung[f"{s}:step_overdue:1"]
    assert sorted(a for m in step_alert for a in m.to_addrs) == [
        "chair@interior.example",
        COORDINATOR,
    ]
    # No mail on a day off of its recipient institution.
    for key, rung in sent.items():
        weekend = {4, 5} if key.startswith(v) else {5, 6}
        assert rung.due_on.weekday() not in weekend, key
    with live.db.reading() as session:
        actions = [e.action for e in session.exec(select(AuditEventRow))]
    assert actions.count("chase.reminder") == 11 + 4  # Customs, Veterinary
    assert actions.count("chase.escalation") == 2
    assert actions.count("chase.step_overdue") == 8
    assert verify_chain(live).ok


def test_a_worker_stopped_for_a_week_sends_the_latest_rung_and_escalates_a_sweep_later(
    live: Context, tmp_path: Path
) -> None:
    """Last sweep on Monday 21 December; the next on Sunday 3 January at 12:00 local. Veterinary
    (Sunday is a working day there) has four rungs due at once: only the latest reminder,
    overdue:5, goes out; before:3 and due are recorded as superseded; the escalation, due the same
    day, waits for the next working day, as its focal point has only now had a first reminder.
    Customs' two are deferred, Sunday being its day off, and on Monday 4 January at 09:00 local
    only the due-day reminder goes out. Nobody gets more than one mail a sweep."""
    ids = _morocco(live, tmp_path)
    v, c = f"request:{ids['veterinary']}", f"request:{ids['customs']}"
    assert _sweep_at(live, local(date(2026, 12, 21), time(10))).rungs == []
    sunday = _sweep_at(live, local(date(2027, 1, 3), time(12)))
    assert [(r.key, r.outcome) for r in sunday.rungs] == [
        (f"{v}:before:3", "superseded"),
        (f"{c}:before:3", "deferred"),
        (f"{v}:due", "superseded"),
        (f"{c}:due", "deferred"),
        (f"{v}:escalation", "deferred"),
        (f"{v}:overdue:5", "sent"),
    ]
    assert _sweep_at(live, local(date(2027, 1, 3), time(12))).rungs == []  # nothing twice
    assert _sweep_at(live, local(date(2027, 1, 4), time(8, 59))).rungs == []  # deferred to 09:00
    monday = _sweep_at(live, local(date(2027, 1, 4), time(9)))
    assert [(r.key, r.outcome) for r in monday.rungs] == [
        (f"{c}:before:3", "superseded"),
        (f"{c}:due", "sent"),
        (f"{v}:escalation", "sent"),
    ]
    rungs = _rungs(live)
    assert rungs[f"{v}:due"].outcome == "superseded by overdue:5"
    assert rungs[f"{c}:before:3"].outcome == "superseded by due"
    mails = _all(live, select(OutboxRow).where(col(OutboxRow.dedupe_key).is_not(None)))
    assert len({m.dedupe_key for m in mails}) == len(mails)
    per_sweep = Counter((m.created_at, a) for m in mails for a in m.to_addrs)
    assert set(per_sweep.values()) == {1}
    (escalation,) = [m for m in mails if m.kind == "escalation" and COORDINATOR in m.to_addrs]
    assert "after 1 reminder." in escalation.text_body
    assert not [
        m for m in mails if m.kind == "escalation" and "focal@veterinary.example" in m.to_addrs
    ]


def test_the_sweep_run_twice_at_the_same_moment_sends_nothing_the_second_time(
    live: Context, tmp_path: Path
) -> None:
    ids = _morocco(live, tmp_path)
    moment = local(date(2026, 12, 24), time(9, 30))
    first = _sweep_at(live, moment)
    assert [(r.key, r.outcome) for r in first.rungs] == [
        (f"request:{ids['veterinary']}:before:3", "sent"),  # due on the 22nd, not swept since
        (f"request:{ids['customs']}:before:3", "sent"),
    ]
    with live.db.reading() as session:
        count = len(session.exec(select(OutboxRow)).all())
    assert _sweep_at(live, moment).rungs == []
    with live.db.reading() as session:
        assert len(session.exec(select(OutboxRow)).all()) == count


def test_a_request_without_a_message_id_takes_its_first_reminders(
    live: Context, tmp_path: Path
) -> None:
    """A request whose mails left it no Message-ID (a row from before they were kept) gets that of
    the first mail of its first reminder (the sweep reads requests as records, not ORM rows): that
    mail follows no thread, the second person's follows it."""
    ids = _morocco(live, tmp_path)
    with live.db.transaction() as tx:
        tx.session.connection().execute(
            sa.update(RequestRow)
            .where(col(RequestRow.id) == ids["customs"])
            .values(message_id=None)
        )
    _sweep_at(live, local(date(2026, 12, 24), time(9, 30)))  # Customs' before:3
    reminders = _all(
        live,
        select(OutboxRow)
        .where(OutboxRow.request_id == ids["customs"], OutboxRow.kind == "reminder")
        .order_by(col(OutboxRow.id)),
    )
    assert len(reminders) == 2  # its focal point and her deputy
    (thread,) = _all(live, select(RequestRow.message_id).where(RequestRow.id == ids["customs"]))
    assert thread == reminders[0].message_id
    assert [m.in_reply_to for m in reminders] == [None, thread]


def test_a_deadline_extension_moves_the_following_rungs_and_never_resends_one(
    live: Context, tmp_path: Path
) -> None:
    """After Customs' before:3 went out on 24 December, its deadline moves 5 working days, from
    Tuesday 29 December to Wednesday 6 January (30, 31 Dec, 4, 5, 6 Jan). The due-day reminder
    moves to 6 January, overdue:5 and the escalation to Friday 15 January (7, 8, 12, 13, 15);
    before:3 is not sent again."""
    ids = _morocco(live, tmp_path)
    c = f"request:{ids['customs']}"
    _sweep_at(live, local(date(2026, 12, 24), time(9, 30)))
    with time_machine.travel(local(date(2026, 12, 24), time(15)), tick=False):
        ext = extensions.extend_deadline(
            live,
            KEY,
            request_id=ids["customs"],
            days=5,
            reason="Minister abroad",
            actor=COORDINATOR,
        )
    assert ext.new_due_at == local(date(2027, 1, 6), time(23, 59, 59))
    assert ext.rungs == [
        ("due", date(2027, 1, 6)),
        ("escalation", date(2027, 1, 15)),
        ("overdue:5", date(2027, 1, 15)),
    ]
    assert "Africa/Casablanca" in ext.new_due_local
    on_old_due_day = _sweep_at(live, local(date(2026, 12, 29), time(10)))
    assert not [r for r in on_old_due_day.rungs if r.key.startswith(c)]  # the due day moved
    rungs = _rungs(live)
    assert rungs[f"{c}:before:3"].status == "sent"
    assert rungs[f"{c}:due"].due_on == date(2027, 1, 6) and rungs[f"{c}:due"].status == "pending"
    assert [
        r.key
        for r in _sweep_at(live, local(date(2027, 1, 6), time(9))).rungs
        if r.key.startswith(c)
    ] == [f"{c}:due"]
    events = _all(live, select(AuditEventRow).where(AuditEventRow.action == "deadline.extended"))
    assert len(events) == 1 and events[0].reason == "Minister abroad"
    # Customs' focal points are told the new date, under the request's thread; the reason, which
    # may be internal, stays on the audit chain.
    (told,) = _all(live, select(OutboxRow).where(OutboxRow.kind == "deadline_extended"))
    (thread,) = _all(live, select(RequestRow.message_id).where(RequestRow.id == ids["customs"]))
    assert sorted(told.to_addrs) == ["deputy@customs.example", "focal@customs.example"]
    assert told.in_reply_to == thread
    assert "Wednesday 6 January 2027, 23:59 Morocco time" in told.text_body
    assert "Minister abroad" not in told.text_body


def test_open_deadlines_from_before_the_ladder_get_their_rungs_once(
    live: Context, tmp_path: Path
) -> None:
    """A database upgraded to the ladder's schema has open requests and a current step without
    rungs: `plan_missing` (run by `ibmflow init`) writes the same rungs they would have had."""
    _morocco(live, tmp_path)
    planned = {k: (r.due_on, r.fire_at) for k, r in _rungs(live).items()}
    with live.db.transaction() as tx:
        tx.session.execute(sa.delete(RungRow))
    assert deadlines.plan_missing(live) == 3  # two requests and the current step
    assert {k: (r.due_on, r.fire_at) for k, r in _rungs(live).items()} == planned
    assert deadlines.plan_missing(live) == 0


def test_an_extension_needs_a_reason_a_working_day_and_a_later_date(
    live: Context, tmp_path: Path
) -> None:
    ids = _morocco(live, tmp_path)
    with time_machine.travel(START, tick=False):
        with pytest.raises(InvalidCommand, match="needs a reason"):
            extensions.extend_deadline(
                live, KEY, request_id=ids["customs"], days=2, reason=" ", actor=COORDINATOR
            )
        with pytest.raises(InvalidCommand, match=r"not a working day.*2027-01-04"):
            extensions.extend_deadline(
                live,
                KEY,
                request_id=ids["customs"],
                to=date(2027, 1, 1),
                reason="x",
                actor=COORDINATOR,
            )
        with pytest.raises(InvalidCommand, match="not later"):
            extensions.extend_deadline(
                live,
                KEY,
                request_id=ids["customs"],
                to=date(2026, 12, 28),
                reason="x",
                actor=COORDINATOR,
            )
        with pytest.raises(InvalidCommand, match="either --days"):
            extensions.extend_deadline(
                live, KEY, request_id=ids["customs"], reason="x", actor=COORDINATOR
            )
        step = extensions.extend_deadline(
            live, KEY, days=10, reason="Decree pending", actor=COORDINATOR
        )
    assert step.subject == "step:coordinator_appointment"
    assert [name for name, _ in step.rungs] == ["step_overdue:1"]


def test_a_suspended_process_is_not_chased_until_it_resumes(live: Context, tmp_path: Path) -> None:
    ids = _morocco(live, tmp_path)
    with time_machine.travel(local(date(2026, 12, 23), time(12)), tick=False):
        processes.fire(live, KEY, "suspend", actor=COORDINATOR, reason="Government reshuffle")
    report = _sweep_at(live, local(date(2026, 12, 24), time(9)))
    assert {r.outcome for r in report.rungs} == {"deferred"}
    with time_machine.travel(local(date(2026, 12, 24), time(12)), tick=False):
        processes.fire(live, KEY, "resume", actor=COORDINATOR, reason="New minister")
    resumed = _sweep_at(live, local(date(2026, 12, 25), time(9)))
    assert [(r.key, r.outcome) for r in resumed.rungs] == [
        (f"request:{ids['customs']}:before:3", "sent"),
    ]


def test_a_dry_run_shows_what_would_be_sent_and_writes_nothing(
    live: Context,
    tmp_path: Path,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids = _morocco(live, tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(REPO)
    assert run(["chase", "--dry-run", "--now", "2026-12-24T09:30Z", "--json"]) == 0
    out = capsys.readouterr().out
    assert f"request:{ids['customs']}:before:3" in out and "would send" in out
    assert all(r.status == "pending" for r in _rungs(live).values())
    with live.db.reading() as session:
        assert not session.exec(
            select(OutboxRow).where(col(OutboxRow.dedupe_key).is_not(None))
        ).all()
    assert run(["chase", "--now", "yesterday"]) == 2
    assert "is not an ISO 8601 date and time" in capsys.readouterr().err
    assert run(["chase", "--now", "2026-12-24T09:30"]) == 2
    assert "has no time zone" in capsys.readouterr().err


def test_init_upgrading_a_database_from_before_the_ladder_plans_its_rungs(
    live: Context,
    tmp_path: Path,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from alembic import command

    from ibmflow.storage.migrate import _config

    _morocco(live, tmp_path)
    write_text_of_pending(live)  # the mails as the older schema holds them
    config = _config()
    with live.db.engine.begin() as conn:  # back to the schema before the ladder (0002)
        config.attributes["connection"] = conn
        command.downgrade(config, "0002")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(REPO)
    assert run(["init"]) == 0
    assert "chasing ladder planned for 3 open deadline(s)" in capsys.readouterr().out
    assert len(_rungs(live)) == 4 + 4 + 1  # Customs, Veterinary (before:3, due, overdue:5,
    # escalation each) and the current step


def test_an_escalation_goes_to_the_member_and_the_standing_representatives_in_force(
    live: Context, tmp_path: Path
) -> None:
    """Border Guard's IAWG member (Nadia Berrada) is not its focal point: its escalation, on
    Wednesday 6 January with Customs' (whose member is the person chased), goes to her, to the
    representatives her date-range nominations have in force that day, in the order she nominated
    them, and to the coordinator; not to a representative whose range ended the day before, nor
    to one nominated for a single decision. Both escalations ring in the same sweep."""
    ids = _morocco(live, tmp_path)
    with time_machine.travel(START, tick=False):
        (guard,) = requests.send_requests(
            live,
            KEY,
            kind="activity_inventory",
            actor=COORDINATOR,
            institutions=["MOI_BORDER_GUARD"],
            due_days=10,
        )
        for rep, start, end in [
            ("manager@cabinet.example", date(2027, 1, 1), None),
            ("focal@phyto.example", date(2026, 12, 1), date(2027, 1, 5)),
            ("visa@mfa.example", date(2026, 12, 20), date(2027, 1, 31)),
        ]:
            nominations.nominate(
                live,
                KEY,
                member="member@borderguard.example",
                representative=rep,
                actor=COORDINATOR,
                valid_from=start,
                valid_until=end,
            )
    day = date(2026, 12, 16)
    while day <= date(2027, 1, 6):
        _sweep_at(live, local(day, time(10)))
        day += timedelta(days=1)
    rungs = _rungs(live)
    g, c = f"request:{guard}", f"request:{ids['customs']}"
    assert rungs[f"{g}:escalation"].status == rungs[f"{c}:escalation"].status == "sent"
    assert rungs[f"{g}:escalation"].done_at == rungs[f"{c}:escalation"].done_at
    mails = _all(
        live,
        select(OutboxRow).where(OutboxRow.request_id == guard, OutboxRow.kind == "escalation"),
    )
    assert sorted(a for m in mails for a in m.to_addrs) == [
        "manager@cabinet.example",
        "member@borderguard.example",
        "visa@mfa.example",
    ]  # the coordinator, with Customs' escalation too, gets both in one digest
    (member,) = [m for m in mails if m.to_addrs == ["member@borderguard.example"]]
    assert member.text_body.startswith(
        "To Nadia Berrada (IAWG member), Aicha Ouazzani (representative), Salma Idrissi "
        "(representative), Karim Benali (coordinator),"
    )
    (digest,) = [
        m
        for m in _all(live, select(OutboxRow).where(OutboxRow.kind == "chase_digest"))
        if m.to_addrs == [COORDINATOR]
    ]
    assert "Border Guard" in digest.text_body and "Customs" in digest.text_body
