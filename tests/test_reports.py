"""The deadline report read from a real database (an SQLite file and PostgreSQL): every figure of a
process with known requests, checked against numbers worked out by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import deadline_scenario as sc
import pytest
import sqlalchemy as sa
from factories import definition
from sqlmodel import func, select

from ibmflow import reports as rp
from ibmflow.access import ADMINISTRATOR, MANAGER, Account
from ibmflow.errors import InvalidCommand, NotFound
from ibmflow.services import extensions, processes
from ibmflow.services.context import Context
from ibmflow.services.process_list import visible_processes
from ibmflow.services.reports import MAX_REPORT_PAGE, deadline_report, report_page
from ibmflow.storage.tables import AuditEventRow, OutboxRow
from ibmflow.testing import FixedClock


def _end_of_local_day(day: date) -> datetime:
    """23:59:59 in Casablanca (UTC+1 in December and January) as UTC."""
    return datetime(day.year, day.month, day.day, 22, 59, 59, tzinfo=UTC)


def test_every_figure_matches_the_hand_computed_case(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    """The scenario of `deadline_scenario`, read at Tuesday 20 January 2026, 11:00 local.

    Working days, Saturday-Sunday calendar (the process's, and Customs'): January 2026 without the
    weekends, Thursday 1 (New Year) and Wednesday 14 (Amazigh New Year). Friday-Saturday calendar
    (Veterinary Inspection): without Fridays, Saturdays, the 1st, Sunday 11 (Proclamation of
    Independence) and the 14th, so Sundays 4 and 18 are working days.

    Due dates, 5 working days from Monday 5 January: Customs Tue 6, Wed 7, Thu 8, Fri 9, Mon 12 ->
    Monday 12; Veterinary Tue 6, Wed 7, Thu 8, (Fri, Sat, Sun 11 holiday) Mon 12, Tue 13 -> Tuesday 13.

    Overdue:
    - step 1, due Monday 29 December 2025 (20 working days from Monday 1 December), process
      calendar: Tue 30, Wed 31, (Thu 1 holiday) Fri 2, Mon 5 .. Fri 9 (5), Mon 12, Tue 13, (Wed 14)
      Thu 15, Fri 16, Mon 19, Tue 20 -> 2 + 1 + 5 + 2 + 4 = 14 working days overdue;
    - Customs' chapter draft (request C), due Monday 12: Tue 13, (Wed 14) Thu 15, Fri 16, Mon 19,
      Tue 20 -> 5 working days overdue.
    Falling due within 10 working days of the process calendar (Wed 21 .. Tue 3 February):
    - Health's self-assessment, due Wednesday 21 (Tue 20, Wed 21 from Monday 19): 1 day left;
    - Customs' consultation comments, due Tuesday 3 February (11 working days from Monday 19):
      10 days left, the horizon's last day.
    Later: Veterinary's consultation comments, due Wednesday 4 February (12 of its working days
    from Monday 19: Tue 20, Wed 21, Thu 22, Sun 25, Mon 26 .. Thu 29, Sun 1, Mon 2, Tue 3, Wed 4).
    Responsiveness:
    - Customs: 4 requests (S, A, C, K); S answered Friday 9 (on time); A answered Friday 16, late by
      Tue 13, (Wed 14) Thu 15, Fri 16 = 3; C open, 5 overdue; K open, not due -> answered 2, on time
      1, open 1, open overdue 1, share 1/3 (1 on time of 2 answered + 1 open overdue), median
      late of {3, 5} = 4.
    - Veterinary: S answered Tuesday 13 at 22:00 local, due 23:59:59 the same day (on time); A
      answered Thursday 15, late by (Wed 14) Thu 15 = 1; C answered Monday 19, late by Thu 15,
      (Fri 16, Sat 17) Sun 18, Mon 19 = 3; K open, not due -> answered 3, on time 1, share 1/3,
      median late of {1, 3} = 2.
    - Health: 1 request, open, not due: no answer, no share, no median.
    - Border Guard: its only request was withdrawn: not listed.
    """
    built = sc.build(ctx, clock, tmp_path)
    report = deadline_report(ctx, [sc.KEY], at=sc.AT)
    assert report.at == sc.AT and report.horizon_days == 10
    (p,) = report.processes
    assert (p.key, p.title, p.country, p.timezone) == (
        sc.KEY,
        sc.TITLE,
        "MA",
        "Africa/Casablanca",
    )
    assert (p.state, p.suspended, p.finished) == ("coordinator_appointment", False, False)
    assert (p.today, p.horizon_end) == (date(2026, 1, 20), date(2026, 2, 3))

    (step,) = p.overdue_steps
    assert (step.kind, step.step, step.status) == (rp.STEP, "coordinator_appointment", rp.OVERDUE)
    assert step.due_at == _end_of_local_day(date(2025, 12, 29))
    assert step.due_local.isoformat() == "2025-12-29T23:59:59+01:00"
    assert step.working_days_overdue == 14

    (late,) = p.overdue_requests
    assert late.request_id == built.ids[sc.CUSTOMS, "C"]
    assert (late.institution, late.institution_name, late.request_kind) == (
        sc.CUSTOMS,
        "Customs Directorate",
        "chapter_draft",
    )
    assert late.due_at == _end_of_local_day(date(2026, 1, 12))
    assert late.opened_at == sc.FIRST_SENDING
    assert late.working_days_overdue == 5

    assert [(d.request_id, d.due_day, d.working_days_left) for d in p.falling_due] == [
        (built.ids[sc.HEALTH, "S"], date(2026, 1, 21), 1),
        (built.ids[sc.CUSTOMS, "K"], date(2026, 2, 3), 10),
    ]
    assert all(d.status == rp.UPCOMING and d.working_days_overdue == 0 for d in p.falling_due)
    assert [(d.request_id, d.due_day) for d in p.later] == [
        (built.ids[sc.VETERINARY, "K"], date(2026, 2, 4))
    ]

    figures = {
        r.institution: (
            r.requests,
            r.answered,
            r.on_time,
            r.late,
            r.open,
            r.open_overdue,
            r.on_time_share,
            r.median_days_late,
        )
        for r in p.responsiveness
    }
    assert figures == {
        sc.CUSTOMS: (4, 2, 1, 1, 1, 1, pytest.approx(1 / 3), 4.0),
        sc.VETERINARY: (4, 3, 1, 2, 1, 0, pytest.approx(1 / 3), 2.0),
        sc.HEALTH: (1, 0, 0, 0, 1, 0, None, None),
    }
    assert [r.institution for r in p.responsiveness] == [sc.CUSTOMS, sc.VETERINARY, sc.HEALTH]
    assert p.figures() == {
        "overdue_steps": 1,
        "overdue_requests": 1,
        "falling_due": 2,
        "open_requests": 4,
    }


def test_the_step_plan_chains_targets_and_replans_from_the_current_step(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    """Step 1 runs from its entry (Monday 1 December) to its due day (Monday 29 December) and is
    overdue, so step 2 is planned from today, Tuesday 20 January, for 20 working days: Wed 21 ..
    Fri 30 (8), Mon 2 .. Fri 6 February (5), Mon 9 .. Fri 13 (5), Mon 16, Tue 17 -> Tuesday 17
    February; each later step starts on the day the one before is planned to end."""
    sc.build(ctx, clock, tmp_path)
    (p,) = deadline_report(ctx, at=sc.AT).processes
    assert [s.step for s in p.steps] == [s.id for s in definition().steps]
    first, second = p.steps[0], p.steps[1]
    assert (first.planned_start, first.planned_end) == (date(2025, 12, 1), date(2025, 12, 29))
    assert (first.status, first.working_days_overdue) == (rp.OVERDUE, 14)
    assert (first.entered_at, first.left_at) == (sc.STARTED, None)
    assert (second.planned_start, second.planned_end) == (date(2026, 1, 20), date(2026, 2, 17))
    for before, after in zip(p.steps[1:], p.steps[2:], strict=False):
        assert after.planned_start == before.planned_end
        assert after.status == rp.FUTURE and after.entered_at is None


def test_extended_deadlines_count_from_their_new_due_dates(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    """Customs' chapter draft extended by 3 of its working days: Tue 13, (Wed 14) Thu 15, Fri 16, so
    on Tuesday 20 it is overdue by Mon 19, Tue 20 = 2. Step 1 extended to Thursday 22 January: no
    longer overdue, it falls due in 2 working days, and the plan's next step starts that day."""
    built = sc.build(ctx, clock, tmp_path)
    late = built.ids[sc.CUSTOMS, "C"]
    extensions.extend_deadline(
        ctx, sc.KEY, request_id=late, days=3, reason="minister abroad", actor=sc.COORDINATOR
    )
    extensions.extend_deadline(
        ctx, sc.KEY, to=date(2026, 1, 22), reason="decree pending", actor=sc.COORDINATOR
    )
    (p,) = deadline_report(ctx, at=sc.AT).processes
    (request,) = p.overdue_requests
    assert (request.request_id, request.due_day, request.working_days_overdue) == (
        late,
        date(2026, 1, 16),
        2,
    )
    assert p.overdue_steps == ()
    step = next(d for d in p.falling_due if d.kind == rp.STEP)
    assert (step.due_day, step.working_days_left) == (date(2026, 1, 22), 2)
    first, second = p.steps[:2]
    assert (first.status, first.planned_end, second.planned_start) == (
        rp.CURRENT,
        date(2026, 1, 22),
        date(2026, 1, 22),
    )
    customs = p.responsiveness[0]
    assert customs.median_days_late == 2.5  # late answer 3, overdue so far 2


def test_the_report_reads_without_writing(ctx: Context, clock: FixedClock, tmp_path: Path) -> None:
    sc.build(ctx, clock, tmp_path)

    def counts() -> tuple[int, int]:
        with ctx.db.reading() as session:
            return (
                session.exec(select(func.count()).select_from(AuditEventRow)).one(),
                session.exec(select(func.count()).select_from(OutboxRow)).one(),
            )

    before = counts()
    deadline_report(ctx)
    assert counts() == before


def test_the_report_can_be_read_at_an_earlier_moment(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    """At Wednesday 14 January, 12:00 UTC (a holiday): the requests of the 19th are not sent yet,
    Customs' activity inventory (answered on the 16th) is still open and overdue, and nothing
    Veterinary answered after that moment counts as answered."""
    built = sc.build(ctx, clock, tmp_path)
    at = datetime(2026, 1, 14, 12, 0, tzinfo=UTC)
    (p,) = deadline_report(ctx, at=at).processes
    assert {d.request_id: d.working_days_overdue for d in p.overdue_requests} == {
        built.ids[sc.CUSTOMS, "A"]: 1,  # Tue 13; Wed 14 is a holiday
        built.ids[sc.CUSTOMS, "C"]: 1,
        built.ids[sc.VETERINARY, "A"]: 0,  # due Tue 13 for it; Wed 14 is a holiday
        built.ids[sc.VETERINARY, "C"]: 0,
    }
    customs, veterinary = p.responsiveness
    assert (customs.requests, customs.answered, customs.open_overdue) == (3, 1, 2)
    assert customs.median_days_late == 1.0
    assert (veterinary.requests, veterinary.answered, veterinary.on_time) == (3, 1, 1)
    assert p.falling_due == () and p.later == ()


def test_every_process_is_reported_when_no_key_is_given(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    sc.build(ctx, clock, tmp_path)
    processes.start_process(ctx, title="Second strategy", key="MA-TWO", actor=sc.COORDINATOR)
    report = deadline_report(ctx)
    assert [p.key for p in report.processes] == [sc.KEY, "MA-TWO"]
    assert report.at == clock.now()
    second = report.process("ma-two")
    assert second.overdue_steps == () and second.overdue_requests == ()
    # Its step 1 is due in 20 working days: beyond a horizon of 10 or 19, on the last day of 20.
    assert [d.kind for d in second.later] == [rp.STEP] and second.falling_due == ()
    assert deadline_report(ctx, ["MA-TWO"], horizon_days=19).processes[0].falling_due == ()
    (step,) = deadline_report(ctx, ["MA-TWO"], horizon_days=20).processes[0].falling_due
    assert (step.kind, step.working_days_left) == (rp.STEP, 20)


def test_a_suspended_process_has_no_running_step_deadline(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    sc.build(ctx, clock, tmp_path)
    processes.fire(ctx, sc.KEY, "suspend", actor=sc.COORDINATOR, reason="elections")
    (p,) = deadline_report(ctx, at=sc.AT + timedelta(hours=1)).processes
    assert (p.state, p.suspended) == ("suspended", True)
    assert p.overdue_steps == ()
    assert p.steps[0].status == rp.CURRENT  # the step it was suspended in
    assert len(p.overdue_requests) == 1  # the requests stay open


def test_unknown_process_naive_moment_and_bad_horizon_are_refused(ctx: Context) -> None:
    with pytest.raises(NotFound, match="process list"):
        deadline_report(ctx, ["NOPE"])
    with pytest.raises(InvalidCommand, match="no time zone"):
        deadline_report(ctx, at=datetime(2026, 1, 20, 9, 0))
    with pytest.raises(InvalidCommand, match="horizon"):
        deadline_report(ctx, horizon_days=-1)


def test_to_dict_is_json_with_utc_and_local_times(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    sc.build(ctx, clock, tmp_path)
    data = json.loads(json.dumps(deadline_report(ctx, at=sc.AT).to_dict()))
    (p,) = data["processes"]
    step = p["overdue_steps"][0]
    assert step["due_at"] == "2025-12-29T22:59:59Z"
    assert step["due_local"] == "2025-12-29T23:59:59+01:00"
    assert step["timezone"] == "Africa/Casablanca"
    assert p["responsiveness"][0]["on_time_share"] == pytest.approx(1 / 3)
    assert p["responsiveness"][0]["due_passed"] == 3
    assert p["steps"][0]["planned_end"] == "2025-12-29"
    assert p["steps"][0]["entered_local"] == "2025-12-01T10:00:00+01:00"
    assert p["figures"]["overdue_requests"] == 1


@contextmanager
def _statements(ctx: Context) -> Iterator[list[str]]:
    """The SQL statements run on the database while the context is open."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa.event.listen(ctx.db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(ctx.db.engine, "before_cursor_execute", count)


def test_a_page_of_the_report_holds_its_processes_and_counts_them_all(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    sc.build(ctx, clock, tmp_path)
    for n in range(1, 5):
        processes.start_process(ctx, title=f"Strategy {n}", key=f"MA-P{n}", actor=sc.COORDINATOR)
    admin = Account(id=1, email="a@x.example", name="A", role=ADMINISTRATOR, processes=None)
    page = report_page(ctx, admin, offset=1, limit=2)
    assert (page.total, page.offset, page.limit) == (5, 1, 2)
    assert [p.key for p in page.report.processes] == ["MA-P1", "MA-P2"]  # oldest first
    whole = deadline_report(ctx)
    assert page.report.processes[0] == whole.process("MA-P1")
    assert report_page(ctx, admin, offset=5).report.processes == ()
    follows = frozenset({"MA-P4", sc.KEY, "MA-P2"})
    manager = Account(id=2, email="m@x.example", name="M", role=MANAGER, processes=follows)
    page = report_page(ctx, manager, limit=2)
    assert page.total == 3 and [p.key for p in page.report.processes] == [sc.KEY, "MA-P2"]
    assert page.report.process(sc.KEY) == whole.process(sc.KEY)
    gone = Account(
        id=3, email="g@x.example", name="G", role=MANAGER, processes=follows, disabled=True
    )
    assert report_page(ctx, gone).total == 0


def test_the_report_and_the_list_read_each_table_once_however_many_processes(
    ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    sc.build(ctx, clock, tmp_path)
    admin = Account(id=1, email="a@x.example", name="A", role=ADMINISTRATOR, processes=None)
    report_page(ctx, admin)  # the stored definition is read once, then known
    counts: list[tuple[int, int]] = []
    for n in range(1, 4):
        processes.start_process(ctx, title=f"Strategy {n}", key=f"MA-P{n}", actor=sc.COORDINATOR)
        with _statements(ctx) as report_reads:
            assert len(report_page(ctx, admin).report.processes) == n + 1
        with _statements(ctx) as list_reads:
            assert len(visible_processes(ctx, admin).processes) == n + 1
        counts.append((len(report_reads), len(list_reads)))
    assert counts[0] == counts[-1], counts


def test_a_page_of_the_report_out_of_bounds_is_refused(ctx: Context) -> None:
    admin = Account(id=1, email="a@x.example", name="A", role=ADMINISTRATOR, processes=None)
    for offset, limit in ((-1, 10), (0, 0), (0, MAX_REPORT_PAGE + 1)):
        with pytest.raises(InvalidCommand, match="a page of the report"):
            report_page(ctx, admin, offset=offset, limit=limit)
