"""The chasing ladder: when a request or a step is chased, declared per workflow and per request kind.

Pure: given a ladder and a working-day calendar, it says on which local days the rungs ring. The
default is the domain's: a reminder 3 working days before the due day, one on the due day, then one
every 5 working days overdue; on the 5th working day overdue an escalation to the institution's IAWG
member (and representative) and the coordinator; a step overdue alerts the coordinator and the chair
on the first working day past its due day, then every 5 working days.

In a workflow file:

    [chase]                      # the default ladder of this workflow
    before_due = [3]             # working days before the due day (several allowed)
    on_due = true
    overdue_every = 5            # 0: no overdue reminders
    escalate_after = 5           # 0: never escalate
    step_overdue_every = 5       # 0: alert once when a step falls overdue
    send_at = "09:00"            # local time at which rungs ring

    [chase.kinds.vote]           # a request kind's own ladder: unset keys come from [chase]
    before_due = [1]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, time
from types import MappingProxyType
from typing import Any

from ibmflow.calendar import WorkCalendar

REQUEST_SUBJECT, STEP_SUBJECT = "request", "step"
ESCALATION = "escalation"
_KEYS = {"before_due", "on_due", "overdue_every", "escalate_after", "step_overdue_every", "send_at"}


@dataclass(frozen=True)
class Ladder:
    """One ladder: its rungs in working days relative to the due day."""

    before_due: tuple[int, ...] = (3,)
    on_due: bool = True
    overdue_every: int = 5
    escalate_after: int = 5
    step_overdue_every: int = 5
    send_at: time = time(9, 0)


@dataclass(frozen=True)
class Chase:
    """A workflow's ladders: its default and the ones of particular request kinds."""

    default: Ladder = field(default_factory=Ladder)
    kinds: Mapping[str, Ladder] = field(default_factory=lambda: MappingProxyType({}))

    def for_kind(self, kind: str) -> Ladder:
        """The ladder of requests of this kind."""
        return self.kinds.get(kind, self.default)


@dataclass(frozen=True, order=True)
class Rung:
    """A rung planned on a local day: `name` is unique per subject (`before:3`, `due`, `overdue:5`,
    `escalation`, `step_overdue:1`)."""

    day: date
    name: str


def request_rungs(ladder: Ladder, cal: WorkCalendar, sent_day: date, due_day: date) -> list[Rung]:
    """The rungs a request starts with; later overdue rungs follow one at a time (`next_rung`).

    A rung that would ring on or before the day the request was sent is left out: a request due in
    two days gets no reminder three days before.
    """
    rungs = [Rung(cal.add(due_day, -n), f"before:{n}") for n in sorted(set(ladder.before_due))]
    if ladder.on_due:
        rungs.append(Rung(due_day, "due"))
    if ladder.overdue_every:
        rungs.append(
            Rung(cal.add(due_day, ladder.overdue_every), f"overdue:{ladder.overdue_every}")
        )
    if ladder.escalate_after:
        rungs.append(Rung(cal.add(due_day, ladder.escalate_after), ESCALATION))
    return sorted(r for r in rungs if r.day > sent_day)


def step_rungs(ladder: Ladder, cal: WorkCalendar, due_day: date) -> list[Rung]:
    """A step's first overdue alert: the first working day after its due day."""
    return [Rung(cal.add(due_day, 1), "step_overdue:1")]


def next_rung(ladder: Ladder, cal: WorkCalendar, due_day: date, sent: str) -> Rung | None:
    """The rung that follows a sent one on the open-ended overdue part of the ladder, if any."""
    kind, _, number = sent.partition(":")
    if kind == "overdue" and ladder.overdue_every:
        days = int(number) + ladder.overdue_every
        return Rung(cal.add(due_day, days), f"overdue:{days}")
    if kind == "step_overdue" and ladder.step_overdue_every:
        days = int(number) + ladder.step_overdue_every
        return Rung(cal.add(due_day, days), f"step_overdue:{days}")
    return None


def rungs_after_move(
    ladder: Ladder, cal: WorkCalendar, sent_day: date, due_day: date, sent: set[str], subject: str
) -> list[Rung]:
    """The rungs to plan after a deadline moved: the ladder from the new due day, without the rungs
    already sent (each is sent at most once), and with the open-ended overdue rung advanced past the
    ones already sent."""
    if subject == STEP_SUBJECT:
        planned = step_rungs(ladder, cal, due_day)
    else:
        planned = request_rungs(ladder, cal, sent_day, due_day)
    out = []
    for rung in planned:
        current: Rung | None = rung
        while current is not None and current.name in sent:
            current = next_rung(ladder, cal, due_day, current.name)
        if current is not None:
            out.append(current)
    return sorted(out)


# Catching up: several rungs of one subject due at once ------------------------------------------------


def _rank(rung: Rung) -> tuple[date, int, int]:
    """Later rungs rank higher: by day, then before < due < overdue, then by number."""
    kind, _, number = rung.name.partition(":")
    order = {"before": 0, "due": 1}.get(kind, 2)
    days = int(number) if number.isdigit() else 0
    return (rung.day, order, -days if kind == "before" else days)


@dataclass(frozen=True)
class CatchUp:
    """What one sweep does with the reminder rungs of one subject that are due together.

    `send` is the latest applicable rung (one of `due`, or an overdue rung further along the
    open-ended part of the ladder whose day has come too); `superseded` are the others, including
    the overdue rungs passed over on the way, which were never planned; `follow` is the next rung to
    plan, always on a later day than `until`.
    """

    send: Rung
    superseded: tuple[Rung, ...]
    follow: Rung | None


def catch_up(
    ladder: Ladder, cal: WorkCalendar, due_day: date, due: list[Rung], until: date
) -> CatchUp:
    """Only the latest of several due reminder rungs is sent (the chaser is polite): a late start or
    a downtime never sends a subject's before, due-day and overdue reminders in the same minute.

    `due` are the subject's rungs due now, escalation excluded; `until` is the last day whose
    sending moment has passed.
    """
    assert due and all(r.name != ESCALATION for r in due)
    latest = max(due, key=_rank)
    passed: list[Rung] = []
    follow = next_rung(ladder, cal, due_day, latest.name)
    while follow is not None and follow.day <= until:
        passed.append(latest)
        latest = follow
        follow = next_rung(ladder, cal, due_day, latest.name)
    superseded = sorted({*(r for r in due if r != latest), *passed}, key=_rank)
    return CatchUp(latest, tuple(superseded), follow)


def escalation_waits(reminded_before: bool, reminding_now: bool) -> bool:
    """An escalation never goes out in the same sweep as the first reminder the person chased ever
    got for that request: it waits for a later sweep, so that they had a chance to answer."""
    return reminding_now and not reminded_before


# Reading the [chase] table of a workflow file -------------------------------------------------------


def parse_chase(raw: object, add: Callable[[str, str], None], kinds: tuple[str, ...]) -> Chase:
    """Read `[chase]`; report every problem through `add(where, what)`."""
    if raw is None:
        return Chase()
    if not isinstance(raw, dict):
        add("chase", "expected a table such as [chase] with before_due, on_due, overdue_every ...")
        return Chase()
    data = dict(raw)
    per_kind = data.pop("kinds", {})
    default = _ladder(data, "chase", Ladder(), add)
    ladders: dict[str, Ladder] = {}
    if not isinstance(per_kind, dict):
        add("chase.kinds", "expected tables such as [chase.kinds.vote]")
        per_kind = {}
    for kind, values in per_kind.items():
        where = f"chase.kinds.{kind}"
        if kind not in kinds:
            add(where, f"unknown request kind {kind!r}; one of {', '.join(kinds)}")
            continue
        if not isinstance(values, dict):
            add(where, "expected a table of ladder settings")
            continue
        ladders[kind] = _ladder(values, where, default, add)
    return Chase(default, MappingProxyType(ladders))


def _ladder(
    data: Mapping[str, Any], where: str, base: Ladder, add: Callable[[str, str], None]
) -> Ladder:
    for key in sorted(set(data) - _KEYS - {"kinds"}):
        add(f"{where}.{key}", f"unknown key; allowed keys are {', '.join(sorted(_KEYS))}")
    changes: dict[str, Any] = {}
    if "before_due" in data:
        value = data["before_due"]
        if not isinstance(value, list) or not all(_days(v, 1) for v in value):
            add(
                f"{where}.before_due",
                f"expected a list of working days from 1 to 60, found {value!r}",
            )
        else:
            changes["before_due"] = tuple(value)
    if "on_due" in data:
        if not isinstance(data["on_due"], bool):
            add(f"{where}.on_due", f"expected true or false, found {data['on_due']!r}")
        else:
            changes["on_due"] = data["on_due"]
    for key in ("overdue_every", "escalate_after", "step_overdue_every"):
        if key in data:
            if not _days(data[key], 0):
                add(
                    f"{where}.{key}",
                    f"expected working days from 0 (never) to 60, found {data[key]!r}",
                )
            else:
                changes[key] = data[key]
    if "send_at" in data:
        value = data["send_at"]
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", value) if isinstance(value, str) else None
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            add(f"{where}.send_at", f'expected a local time such as "09:00", found {value!r}')
        else:
            changes["send_at"] = time(int(match[1]), int(match[2]))
    return replace(base, **changes)


def _days(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= 60
