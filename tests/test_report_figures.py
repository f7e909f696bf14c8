"""The pure core of deadline reporting, with hand-made records: the step plan in every situation,
and the edge cases of the figures."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

from ibmflow import reports as rp
from ibmflow.calendar import WorkCalendar

TZ = "Africa/Casablanca"
# Saturday-Sunday, with Wednesday 14 January 2026 a holiday.
CALENDAR = WorkCalendar(TZ, holidays_of=lambda year: frozenset({date(2026, 1, 14)}))
FRI_SAT = WorkCalendar(TZ, frozenset({4, 5}), CALENDAR.holidays_of)
STEPS = [rp.StepInfo("one", "One", 5), rp.StepInfo("two", "Two", 3), rp.StepInfo("three", "3", 2)]
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # Monday 5 January 2026, 10:00 local


def at(day: int, hour: int = 10) -> datetime:
    """A moment of January 2026, in UTC."""
    return datetime(2026, 1, day, hour, 0, tzinfo=UTC)


def end_of(day: int) -> datetime:
    """The end of a local day of January 2026 (UTC+1), in UTC."""
    return datetime(2026, 1, day, 22, 59, 59, tzinfo=UTC)


def info(state: str = "one", **changes: object) -> rp.ProcessInfo:
    base = rp.ProcessInfo("P-1", "Plan", "wf", 1, "MA", TZ, state, state, START)
    return dataclasses.replace(base, **changes)


def report(
    process: rp.ProcessInfo,
    stays: list[rp.Stay],
    requests: list[rp.RequestItem] | None = None,
    moment: datetime | None = None,
) -> rp.ProcessReport:
    return rp.process_report(
        process,
        STEPS,
        stays,
        requests or [],
        calendar=CALENDAR,
        calendars={"FS": FRI_SAT},
        institutions=[("SS", "Sat-Sun"), ("FS", "Fri-Sat")],
        at=moment or at(8),
    )


def request(
    rid: int, code: str, due: datetime | None, answered: datetime | None = None
) -> rp.RequestItem:
    return rp.RequestItem(
        id=rid,
        kind="chapter_draft",
        label="chapter draft",
        step="one",
        institution=code,
        institution_name=code,
        sent_at=START,
        due_at=due,
        answered_at=answered,
        status=rp.ANSWERED if answered else rp.OPEN,
    )


def test_a_fresh_process_is_planned_step_after_step_from_its_start() -> None:
    """One: Mon 5 + 5 working days = Mon 12; two: + 3 = Tue 13, (Wed 14 holiday) Thu 15, Fri 16;
    three: + 2 = Mon 19, Tue 20."""
    stay = rp.Stay(1, "one", START, end_of(12), None)
    plan = report(info(), [stay]).steps
    assert [(s.planned_start.day, s.planned_end.day, s.status) for s in plan] == [
        (5, 12, rp.CURRENT),
        (12, 16, rp.FUTURE),
        (16, 20, rp.FUTURE),
    ]


def test_done_steps_keep_the_baseline_and_the_current_step_is_replanned_from_its_entry() -> None:
    """Step one ran late (entered Mon 5, left Wed 14, planned to end Mon 12): it keeps its baseline.
    Step two, entered Thu 15, had its deadline extended to Tue 20: it is planned from its entry to
    that day, and step three from there (+2: Wed 21, Thu 22)."""
    stays = [
        rp.Stay(1, "one", START, end_of(12), at(14)),
        rp.Stay(2, "two", at(15), end_of(20), None),  # extended to Tuesday 20
    ]
    plan = report(info("two"), stays, moment=at(16)).steps
    assert [(s.planned_start.day, s.planned_end.day, s.status) for s in plan] == [
        (5, 12, rp.DONE),
        (15, 20, rp.CURRENT),  # from its actual entry to its (extended) due day
        (20, 22, rp.FUTURE),
    ]
    assert plan[0].left_at == at(14) and plan[1].entered_at == at(15)


def test_an_overdue_current_step_pushes_the_next_ones_to_start_today() -> None:
    stays = [rp.Stay(1, "one", START, end_of(12), None)]
    r = report(info(), stays, moment=at(16))
    assert (r.steps[0].status, r.steps[0].working_days_overdue) == (rp.OVERDUE, 3)  # 13, 15, 16
    assert (r.steps[1].planned_start, r.steps[1].planned_end) == (
        date(2026, 1, 16),
        date(2026, 1, 21),
    )
    (step,) = r.overdue_steps
    assert step.working_days_overdue == 3 and step.uid == "step-1"


def test_a_finished_process_has_every_step_done_and_no_deadline() -> None:
    stays = [
        rp.Stay(1, "one", START, end_of(12), at(9)),
        rp.Stay(2, "two", at(9), end_of(15), at(13)),
        rp.Stay(3, "three", at(13), end_of(16), at(16)),
        rp.Stay(4, "adopted", at(16), None, None),
    ]
    r = report(info("adopted", finished=True), stays, moment=at(20))
    assert [s.status for s in r.steps] == [rp.DONE, rp.DONE, rp.DONE]
    assert r.open_deadlines == ()


def test_a_step_left_by_a_return_is_future_again_and_keeps_its_last_stay() -> None:
    stays = [
        rp.Stay(1, "one", START, end_of(12), at(7)),
        rp.Stay(2, "two", at(7), end_of(12), at(8)),  # returned to one
        rp.Stay(3, "one", at(8), end_of(15), None),
    ]
    plan = report(info("one"), stays, moment=at(9)).steps
    assert [s.status for s in plan] == [rp.CURRENT, rp.FUTURE, rp.FUTURE]
    assert plan[0].entered_at == at(8)  # the last stay
    assert plan[1].entered_at == at(7) and plan[1].left_at == at(8)


def test_a_deadline_passed_before_a_weekend_is_zero_working_days_overdue_during_it() -> None:
    """Due at the end of Friday 9 January: on Saturday 10 it is 0 working days overdue for both
    weekends; on Sunday 11 still 0 for a Saturday-Sunday institution, but 1 for a Friday-Saturday
    one (Sunday is a working day for it; this test calendar has no holiday on the 11th)."""
    due = end_of(9)
    requests = [request(1, "SS", due), request(2, "FS", due)]
    saturday = report(info(), [], requests, moment=at(10))
    assert [d.working_days_overdue for d in saturday.overdue_requests] == [0, 0]
    sunday = report(info(), [], requests, moment=at(11))
    assert {d.institution: d.working_days_overdue for d in sunday.overdue_requests} == {
        "SS": 0,
        "FS": 1,
    }


def test_on_time_counts_answers_without_a_due_date_and_the_median_spans_late_and_overdue() -> None:
    """Five requests to one Saturday-Sunday institution: 1 answered on the 20th without a due date
    (on time); 2 due Monday 5, answered Wednesday 7 (late by Tue 6, Wed 7 = 2); 3 due Monday 5,
    answered Friday 9 (late by 4); 4 due Tuesday 6, still open; 5 withdrawn (counts nowhere).

    On Wednesday 21: request 4 is overdue by Wed 7, Thu 8, Fri 9, Mon 12, Tue 13, (Wed 14) Thu 15,
    Fri 16, Mon 19, Tue 20, Wed 21 = 10; median of {2, 4, 10} = 4. On Thursday 8 at noon, answers
    1 and 3 are not given yet: 1 is open (no due date), 3 is overdue by Tue 6, Wed 7, Thu 8 = 3 and
    4 by Wed 7, Thu 8 = 2; median of {2, 3, 2} = 2."""
    requests = [
        request(1, "SS", None, answered=at(20)),
        request(2, "SS", end_of(5), answered=at(7)),
        request(3, "SS", end_of(5), answered=at(9)),
        request(4, "SS", end_of(6)),
        dataclasses.replace(request(5, "SS", end_of(5)), status=rp.CLOSED),
    ]
    (ss,) = report(info(), [], requests, moment=at(21)).responsiveness
    assert (ss.requests, ss.answered, ss.on_time, ss.late, ss.open, ss.open_overdue) == (
        4,
        3,
        1,
        2,
        0,
        1,
    )
    assert (ss.median_days_late, ss.due_passed, ss.on_time_share) == (4.0, 4, 1 / 4)
    (ss,) = report(info(), [], requests, moment=at(8, 12)).responsiveness
    assert (ss.requests, ss.answered, ss.on_time, ss.late, ss.open, ss.open_overdue) == (
        4,
        1,
        0,
        1,
        1,
        2,
    )
    assert (ss.median_days_late, ss.due_passed, ss.on_time_share) == (2.0, 3, 0.0)


def test_the_on_time_share_counts_the_unanswered_overdue_requests_too() -> None:
    """Issue 13: "On time 100%" stood beside "Open, overdue 2". One request answered on time and two
    unanswered past their due day: on time 1 of 3, not 1 of 1."""
    requests = [
        request(1, "SS", end_of(6), answered=at(6)),
        request(2, "SS", end_of(6)),
        request(3, "SS", end_of(7)),
    ]
    (ss,) = report(info(), [], requests, moment=at(9)).responsiveness
    assert (ss.on_time, ss.answered, ss.open_overdue, ss.due_passed) == (1, 1, 2, 3)
    assert ss.on_time_share == 1 / 3
    assert ss.to_dict()["due_passed"] == 3 and ss.to_dict()["on_time_share"] == 1 / 3


def test_no_share_before_any_deadline_passed_or_answer_came() -> None:
    """Requests still open and not yet due say nothing about timeliness: no share at all (the
    page says "no deadline passed yet"), never 0% nor 100%."""
    (ss,) = report(info(), [], [request(1, "SS", end_of(20))], moment=at(9)).responsiveness
    assert (ss.requests, ss.open, ss.due_passed, ss.on_time_share) == (1, 1, 0, None)


def test_a_due_date_later_today_is_upcoming_with_no_day_left() -> None:
    r = report(info(), [], [request(1, "SS", end_of(8))], moment=at(8))
    (d,) = r.falling_due
    assert (d.status, d.working_days_left, d.working_days_overdue) == (rp.UPCOMING, 0, 0)
    assert r.deadlines == (d,) and r.open_deadlines == (d,)


def test_a_request_sent_after_the_moment_is_left_out() -> None:
    late = dataclasses.replace(request(1, "SS", end_of(20)), sent_at=at(15))
    r = report(info(), [], [late], moment=at(12))
    assert r.open_deadlines == () and r.responsiveness == ()


def test_an_unknown_institution_is_listed_after_the_roster_ones() -> None:
    requests = [request(1, "ZZ", end_of(20)), request(2, "FS", end_of(20))]
    r = report(info(), [], requests, moment=at(8))
    assert [x.institution for x in r.responsiveness] == ["FS", "ZZ"]
