"""The chasing ladder's arithmetic (pure): which local days the rungs ring on, in working days."""

from __future__ import annotations

from datetime import date, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibmflow.calendar import WorkCalendar
from ibmflow.definitions import parse_definition
from ibmflow.errors import DefinitionError
from ibmflow.ladder import (
    ESCALATION,
    REQUEST_SUBJECT,
    STEP_SUBJECT,
    Ladder,
    Rung,
    catch_up,
    escalation_waits,
    next_rung,
    request_rungs,
    rungs_after_move,
    step_rungs,
)

# Morocco's public holidays of early 2027 that matter here.
HOLIDAYS = frozenset({date(2027, 1, 1), date(2027, 1, 11), date(2027, 1, 14)})
SAT_SUN = WorkCalendar("Africa/Casablanca", frozenset({5, 6}), lambda year: HOLIDAYS)
FRI_SAT = WorkCalendar("Africa/Casablanca", frozenset({4, 5}), lambda year: HOLIDAYS)
DEFAULT = Ladder()
WORKFLOW = Path(__file__).parent.parent / "workflows" / "ibm_strategy.toml"


def test_the_default_ladder_is_the_domains() -> None:
    """3 working days before due, on the due day, every 5 overdue, escalation at 5 overdue."""
    assert Ladder((3,), True, 5, 5, 5, time(9, 0)) == DEFAULT


def test_request_rungs_of_a_saturday_sunday_institution() -> None:
    """Due Tuesday 29 December 2026; New Year's Day (a Friday) is skipped on the way to the 5th
    working day overdue: 30, 31 December, 4, 5, 6 January."""
    rungs = request_rungs(DEFAULT, SAT_SUN, date(2026, 12, 15), date(2026, 12, 29))
    assert rungs == [
        Rung(date(2026, 12, 24), "before:3"),
        Rung(date(2026, 12, 29), "due"),
        Rung(date(2027, 1, 6), "escalation"),
        Rung(date(2027, 1, 6), "overdue:5"),
    ]


def test_request_rungs_of_a_friday_saturday_institution_ring_on_sunday() -> None:
    """Due Sunday 27 December: a working day there. Overdue days: 28, 29, 30, 31 Dec, 3 Jan (Sun)."""
    rungs = request_rungs(DEFAULT, FRI_SAT, date(2026, 12, 15), date(2026, 12, 27))
    assert [(r.name, r.day) for r in rungs] == [
        ("before:3", date(2026, 12, 22)),
        ("due", date(2026, 12, 27)),
        ("escalation", date(2027, 1, 3)),
        ("overdue:5", date(2027, 1, 3)),
    ]


def test_a_short_request_gets_no_reminder_before_it_was_sent() -> None:
    """Due two working days after sending: the 3-days-before reminder would ring before it left."""
    rungs = request_rungs(DEFAULT, SAT_SUN, date(2026, 12, 15), date(2026, 12, 17))
    assert [r.name for r in rungs] == ["due", "escalation", "overdue:5"]


def test_overdue_rungs_follow_every_five_working_days_across_holidays() -> None:
    """After overdue:5 on 6 January: 7, 8, 12, 13, 15 (the 11th and 14th are holidays)."""
    follow = next_rung(DEFAULT, SAT_SUN, date(2026, 12, 29), "overdue:5")
    assert follow == Rung(date(2027, 1, 15), "overdue:10")
    assert next_rung(DEFAULT, SAT_SUN, date(2026, 12, 29), "escalation") is None
    assert next_rung(DEFAULT, SAT_SUN, date(2026, 12, 29), "before:3") is None


def test_a_step_is_alerted_the_working_day_after_its_due_day_then_every_five() -> None:
    due = date(2027, 1, 15)  # a Friday
    assert step_rungs(DEFAULT, SAT_SUN, due) == [Rung(date(2027, 1, 18), "step_overdue:1")]
    assert next_rung(DEFAULT, SAT_SUN, due, "step_overdue:1") == Rung(
        date(2027, 1, 25), "step_overdue:6"
    )


def test_a_ladder_without_overdue_reminders_or_escalation() -> None:
    quiet = Ladder(before_due=(), on_due=True, overdue_every=0, escalate_after=0)
    rungs = request_rungs(quiet, SAT_SUN, date(2026, 12, 15), date(2026, 12, 29))
    assert [r.name for r in rungs] == ["due"]
    assert next_rung(quiet, SAT_SUN, date(2026, 12, 29), "due") is None


def test_a_moved_deadline_keeps_sent_rungs_sent_and_advances_past_them() -> None:
    """Extended from 29 December to 12 January after before:3, due and overdue:5 were sent: the
    reminders before and on the new day are not sent again; the overdue rung moves past overdue:5.
    From Tuesday 12 January: 13, 15 (the 14th is a holiday), 18, 19, 20 -> escalation on the 20th;
    21, 22, 25, 26, 27 -> overdue:10 on the 27th."""
    sent = {"before:3", "due", "overdue:5"}
    rungs = rungs_after_move(
        DEFAULT, SAT_SUN, date(2026, 12, 15), date(2027, 1, 12), sent, REQUEST_SUBJECT
    )
    assert [(r.name, r.day) for r in rungs] == [
        ("escalation", date(2027, 1, 20)),
        ("overdue:10", date(2027, 1, 27)),
    ]
    steps = rungs_after_move(
        DEFAULT, SAT_SUN, date(2026, 12, 1), date(2027, 1, 15), set(), STEP_SUBJECT
    )
    assert steps == [Rung(date(2027, 1, 18), "step_overdue:1")]


@given(
    sent_offset=st.integers(0, 400),
    due_days=st.integers(1, 60),
    weekend=st.sampled_from([frozenset({5, 6}), frozenset({4, 5}), frozenset({6})]),
)
def test_every_rung_rings_on_a_working_day_of_its_institution_and_after_sending(
    sent_offset: int, due_days: int, weekend: frozenset[int]
) -> None:
    cal = WorkCalendar("Africa/Casablanca", weekend, lambda year: HOLIDAYS)
    sent = date.fromordinal(date(2026, 1, 1).toordinal() + sent_offset)
    due = cal.add(sent, due_days)
    rungs = request_rungs(DEFAULT, cal, sent, due)
    assert rungs == sorted(rungs)
    assert len({r.name for r in rungs}) == len(rungs)
    for rung in rungs:
        assert cal.is_working(rung.day)
        assert rung.day > sent


def test_a_late_start_sends_only_the_latest_rung_and_walks_the_overdue_ones() -> None:
    """Due Tuesday 29 December 2026 (Saturday-Sunday weekend); nobody swept until Wednesday 20
    January: before:3, due and overdue:5 are due, overdue:10 (15 January) has passed too."""
    due = [
        Rung(date(2026, 12, 24), "before:3"),
        Rung(date(2026, 12, 29), "due"),
        Rung(date(2027, 1, 6), "overdue:5"),
    ]
    plan = catch_up(DEFAULT, SAT_SUN, date(2026, 12, 29), due, date(2027, 1, 20))
    assert plan.send == Rung(date(2027, 1, 15), "overdue:10")
    assert plan.superseded == tuple(due)
    assert plan.follow == Rung(date(2027, 1, 22), "overdue:15")
    one = catch_up(DEFAULT, SAT_SUN, date(2026, 12, 29), due[:2], date(2026, 12, 29))
    assert (one.send.name, [r.name for r in one.superseded], one.follow) == (
        "due",
        ["before:3"],
        None,
    )


def _simulate(
    cal: WorkCalendar, sent: date, due: date, sweeps: list[date]
) -> tuple[list[tuple[date, str]], list[tuple[date, Rung]], list[Rung]]:
    """The sweep's decisions, on the ladder alone, for sweeps after 09:00 local on these days."""
    pending = {r.name: r for r in request_rungs(DEFAULT, cal, sent, due)}
    planned = list(pending.values())
    rang: list[tuple[date, str]] = []
    superseded: list[tuple[date, Rung]] = []
    for day in sweeps:
        if not cal.is_working(day):
            continue  # deferred, all of them, to a working day
        reminders = [r for r in pending.values() if r.day <= day and r.name != ESCALATION]
        if reminders:
            plan = catch_up(DEFAULT, cal, due, reminders, day)
            for rung in reminders:
                del pending[rung.name]
            rang.append((day, plan.send.name))
            superseded += [(day, r) for r in plan.superseded]
            if plan.follow is not None:
                assert plan.follow.day > day
                pending[plan.follow.name] = plan.follow
                planned.append(plan.follow)
        escalation = pending.get(ESCALATION)
        if escalation is not None and escalation.day <= day:
            before = any(name != ESCALATION for d, name in rang if d < day)
            if escalation_waits(before, bool(reminders)):
                pending[ESCALATION] = Rung(cal.next_working(day + timedelta(days=1)), ESCALATION)
            else:
                rang.append((day, ESCALATION))
                del pending[ESCALATION]
    return rang, superseded, planned


@given(
    sent_offset=st.integers(0, 400),
    due_days=st.integers(1, 40),
    weekend=st.sampled_from([frozenset({5, 6}), frozenset({4, 5}), frozenset({6})]),
    sweeps=st.lists(st.integers(0, 150), max_size=25),
)
def test_no_reminder_is_sent_twice_nor_two_in_one_sweep_whatever_the_sweeps(
    sent_offset: int, due_days: int, weekend: frozenset[int], sweeps: list[int]
) -> None:
    """Sweeps on any days (a worker down for weeks, or sweeping every day): each rung is sent at
    most once, a request's people get at most one reminder a sweep, an escalation never goes out
    in the sweep of the first reminder, and nothing is both sent and superseded."""
    cal = WorkCalendar("Africa/Casablanca", weekend, lambda year: HOLIDAYS)
    sent = date.fromordinal(date(2026, 1, 1).toordinal() + sent_offset)
    due = cal.add(sent, due_days)
    days = sorted({sent + timedelta(days=n) for n in sweeps})
    rang, superseded, _ = _simulate(cal, sent, due, days)
    names = [name for _, name in rang]
    assert len(names) == len(set(names))
    reminders_by_day = [day for day, name in rang if name != ESCALATION]
    assert len(reminders_by_day) == len(set(reminders_by_day))
    escalated = [day for day, name in rang if name == ESCALATION]
    if escalated and reminders_by_day:
        assert escalated[0] != min(reminders_by_day)
    assert not {name for name in names} & {r.name for _, r in superseded}
    assert all(rung.day <= day for day, rung in superseded)


@given(
    sent_offset=st.integers(0, 400),
    due_days=st.integers(1, 40),
    weekend=st.sampled_from([frozenset({5, 6}), frozenset({4, 5}), frozenset({6})]),
)
def test_a_sweep_every_day_sends_every_rung_on_its_day_and_supersedes_none(
    sent_offset: int, due_days: int, weekend: frozenset[int]
) -> None:
    cal = WorkCalendar("Africa/Casablanca", weekend, lambda year: HOLIDAYS)
    sent = date.fromordinal(date(2026, 1, 1).toordinal() + sent_offset)
    due = cal.add(sent, due_days)
    days = [sent + timedelta(days=n) for n in range(1, due_days * 2 + 60)]
    rang, superseded, planned = _simulate(cal, sent, due, days)
    assert superseded == []  # a worker that never misses a day behaves as before catch-up existed
    on_time = {(r.day, r.name) for r in planned if r.day <= days[-1]}
    assert set(rang) == on_time


def test_a_workflow_declares_a_ladder_per_request_kind() -> None:
    source = WORKFLOW.read_text()
    definition = parse_definition(source, "ibm_strategy.toml")
    assert definition.chase.default == DEFAULT
    assert definition.chase.for_kind("vote").before_due == (1,)
    assert definition.chase.for_kind("vote").overdue_every == 5  # unset keys come from [chase]
    assert definition.chase.for_kind("self_assessment") == DEFAULT


def test_ladder_problems_are_all_reported_with_where_and_what() -> None:
    source = (
        WORKFLOW.read_text()
        .replace('send_at = "09:00"', 'send_at = "25:00"\novertime = 1')
        .replace("escalate_after = 5", "escalate_after = -1")
    )
    with pytest.raises(DefinitionError) as caught:
        parse_definition(source, "x.toml")
    text = str(caught.value)
    assert "chase.send_at" in text
    assert "chase.overtime: unknown key" in text
    assert "chase.escalate_after" in text
