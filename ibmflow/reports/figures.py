"""Computing a process's deadline figures at a moment from plain records (no I/O).

Definitions (the README repeats them for managers):

- A deadline is *overdue* at `at` when it is still open and its due instant is before `at`. Its
  working days overdue are the working days after its local due day up to and including the local
  day of `at`, in the institution's calendar for a request and the process's for a step (so a
  deadline that passed on a Friday evening is 0 working days overdue on the Saturday).
- A deadline *falls due* when it is open, not overdue, and its local due day is at most
  `horizon_days` working days of the process calendar after the local day of `at`.
- An answer is *on time* when `answered_at <= due_at` (a request without a due date is on time).
  The *on-time share* is on time ÷ (answered + open and overdue): an unanswered request past its
  deadline counts against it, open requests not yet due count nowhere; no share when that
  denominator is 0 ("no deadline passed yet").
- *Median days late* is the median over the requests answered late (working days from the due day
  to the answer's day) and the requests still open and overdue at `at` (working days overdue so
  far), in the institution's calendar; None when there are none.
- Requests sent after `at` are left out and answers given after `at` count as not yet given;
  withdrawn, waived and closed requests count nowhere. Steps are read as recorded.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ibmflow.calendar import WorkCalendar
from ibmflow.reports.model import (
    ANSWERED,
    CURRENT,
    DONE,
    FUTURE,
    OPEN,
    OVERDUE,
    REQUEST,
    STEP,
    UPCOMING,
    Deadline,
    ProcessInfo,
    ProcessReport,
    RequestItem,
    Responsiveness,
    Stay,
    StepInfo,
    StepPlan,
)


def process_report(
    process: ProcessInfo,
    steps: Sequence[StepInfo],
    stays: Sequence[Stay],
    requests: Sequence[RequestItem],
    *,
    calendar: WorkCalendar,
    calendars: Mapping[str, WorkCalendar],
    institutions: Sequence[tuple[str, str]] = (),
    at: datetime,
    horizon_days: int = 10,
) -> ProcessReport:
    """The figures of one process at `at`.

    `calendar` is the process's; `calendars` gives each institution's by code (the process's when
    missing); `institutions` lists (code, short name) in roster order, for the responsiveness table.
    """
    today = calendar.local_day(at)
    horizon_end = calendar.add(today, horizon_days)
    titles = {s.id: s.title for s in steps}
    deadlines: list[Deadline] = []
    current = _open_stay(stays)
    if current is not None and current.due_at is not None and current.step in titles:
        deadlines.append(
            _deadline(
                process,
                calendar,
                calendar,
                at,
                current.due_at,
                kind=STEP,
                uid=f"step-{current.id}",
                step=current.step,
                step_title=titles[current.step],
                opened_at=current.entered_at,
            )
        )
    for r in requests:
        if _counts_as(r, at) == OPEN and r.due_at is not None:
            deadlines.append(
                _deadline(
                    process,
                    calendars.get(r.institution, calendar),
                    calendar,
                    at,
                    r.due_at,
                    kind=REQUEST,
                    uid=f"request-{r.id}",
                    step=r.step,
                    step_title=titles.get(r.step, r.step),
                    opened_at=r.sent_at,
                    request_id=r.id,
                    request_kind=r.kind,
                    request_label=r.label,
                    institution=r.institution,
                    institution_name=r.institution_name,
                )
            )
    deadlines.sort(key=lambda d: (d.due_at, d.institution or "", d.uid))
    overdue = [d for d in deadlines if d.status == OVERDUE]
    upcoming = [d for d in deadlines if d.status == UPCOMING]
    return ProcessReport(
        key=process.key,
        title=process.title,
        workflow=process.workflow,
        workflow_version=process.workflow_version,
        country=process.country,
        timezone=process.timezone,
        state=process.state,
        state_title=process.state_title,
        suspended=process.suspended_from is not None,
        finished=process.finished,
        at=at,
        today=today,
        horizon_days=horizon_days,
        horizon_end=horizon_end,
        overdue_steps=tuple(d for d in overdue if d.kind == STEP),
        overdue_requests=tuple(d for d in overdue if d.kind == REQUEST),
        falling_due=tuple(d for d in upcoming if d.due_day <= horizon_end),
        later=tuple(d for d in upcoming if d.due_day > horizon_end),
        responsiveness=responsiveness(requests, calendars, calendar, institutions, at),
        steps=plan(process, steps, stays, calendar, at),
    )


def _open_stay(stays: Sequence[Stay]) -> Stay | None:
    open_stays = [s for s in stays if s.left_at is None]
    return max(open_stays, key=lambda s: s.id) if open_stays else None


def _counts_as(r: RequestItem, at: datetime) -> str | None:
    """How a request counts at `at`: OPEN, ANSWERED, CLOSED, or None when not yet sent."""
    if r.sent_at > at:
        return None
    if r.status == ANSWERED and r.answered_at is not None and r.answered_at > at:
        return OPEN
    return r.status


def _deadline(
    process: ProcessInfo,
    own: WorkCalendar,
    calendar: WorkCalendar,
    at: datetime,
    due_at: datetime,
    **fields: Any,
) -> Deadline:
    """A deadline at `at`: days overdue counted in its `own` calendar, days left in the process's."""
    today, due_day = calendar.local_day(at), calendar.local_day(due_at)
    overdue = due_at < at
    return Deadline(
        process=process.key,
        due_at=due_at,
        due_day=due_day,
        timezone=process.timezone,
        status=OVERDUE if overdue else UPCOMING,
        working_days_overdue=own.between(due_day, today) if overdue else 0,
        working_days_left=0 if overdue else calendar.between(today, due_day),
        **fields,
    )


def responsiveness(
    requests: Sequence[RequestItem],
    calendars: Mapping[str, WorkCalendar],
    calendar: WorkCalendar,
    institutions: Sequence[tuple[str, str]],
    at: datetime,
) -> tuple[Responsiveness, ...]:
    """Per institution sent requests by `at`, in roster order (see the module's definitions)."""
    names = dict(institutions)
    counts: dict[str, Counter[str]] = {}
    late: dict[str, list[int]] = {}
    for r in requests:
        counted = _counts_as(r, at)
        if counted not in (OPEN, ANSWERED):
            continue
        names.setdefault(r.institution, r.institution_name)
        tally = counts.setdefault(r.institution, Counter())
        days = late.setdefault(r.institution, [])
        own = calendars.get(r.institution, calendar)
        tally["requests"] += 1
        if counted == ANSWERED and r.answered_at is not None:
            tally["answered"] += 1
            if r.due_at is None or r.answered_at <= r.due_at:
                tally["on_time"] += 1
            else:
                days.append(own.between(own.local_day(r.due_at), own.local_day(r.answered_at)))
        elif r.due_at is not None and r.due_at < at:
            tally["open_overdue"] += 1
            days.append(own.between(own.local_day(r.due_at), own.local_day(at)))
        else:
            tally["open"] += 1
    roster = [code for code, _ in institutions if code in counts]
    order = roster + sorted(set(counts) - set(roster))
    return tuple(
        Responsiveness(
            institution=code,
            name=names[code],
            requests=counts[code]["requests"],
            answered=counts[code]["answered"],
            on_time=counts[code]["on_time"],
            late=counts[code]["answered"] - counts[code]["on_time"],
            open=counts[code]["open"],
            open_overdue=counts[code]["open_overdue"],
            median_days_late=float(statistics.median(late[code])) if late[code] else None,
        )
        for code in order
    )


def plan(
    process: ProcessInfo,
    steps: Sequence[StepInfo],
    stays: Sequence[Stay],
    calendar: WorkCalendar,
    at: datetime,
) -> tuple[StepPlan, ...]:
    """Each step's planned days and its last stay.

    The plan chains the steps from the process's start, each `target_days` working days of the
    process calendar after the previous one's planned end. From the current step on it is
    re-planned: the current step from its actual entry to its due day (extensions included), the
    steps after it chained from there, or from today when the current step is already overdue (a
    step cannot start in the past). A suspended process's current step is the one it was suspended
    in; its deadline does not run while suspended, so it is never overdue.
    """
    today = calendar.local_day(at)
    last = {stay.step: stay for stay in sorted(stays, key=lambda s: s.id)}
    ids = [s.id for s in steps]
    active = process.suspended_from or process.state
    if process.finished:
        current = len(steps)
    elif active in ids:
        current = ids.index(active)
    else:
        current = -1  # a state the definition does not know: everything is ahead
    cursor = calendar.local_day(process.started_at)
    out: list[StepPlan] = []
    for position, step in enumerate(steps):
        stay = last.get(step.id)
        days = step.target_days or 0
        status, overdue_days = (DONE if position < current else FUTURE), 0
        if position == current:
            status = CURRENT
            start = calendar.local_day(stay.entered_at) if stay else cursor
            due = stay.due_at if stay else None
            end = calendar.local_day(due) if due else calendar.add(start, days)
            running = stay is not None and stay.left_at is None and not process.suspended_from
            if running and due is not None and due < at:
                status, overdue_days = OVERDUE, calendar.between(end, today)
            cursor = max(end, today) if status == OVERDUE else end
        else:
            start, end = cursor, calendar.add(cursor, days)
            cursor = end
        out.append(
            StepPlan(
                position=position + 1,
                step=step.id,
                title=step.title,
                target_days=step.target_days,
                planned_start=start,
                planned_end=end,
                entered_at=stay.entered_at if stay else None,
                left_at=stay.left_at if stay else None,
                due_at=stay.due_at if stay else None,
                status=status,
                working_days_overdue=overdue_days,
            )
        )
    return tuple(out)
