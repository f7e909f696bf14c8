"""The records of a deadline report: what goes in (the process as stored) and what comes out."""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

# How a request counts: open (awaiting an answer), answered, or closed (withdrawn, waived, closed).
OPEN, ANSWERED, CLOSED = "open", "answered", "closed"
# Deadline statuses, and step statuses in the plan.
OVERDUE, UPCOMING = "overdue", "upcoming"
DONE, CURRENT, FUTURE = "done", "current", "future"
STEP, REQUEST = "step", "request"


def utc_text(moment: datetime | None) -> str | None:
    """An ISO 8601 UTC timestamp with a Z, or None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def local_text(moment: datetime | None, timezone: str) -> str | None:
    """An ISO 8601 local timestamp with its offset, in the named time zone, or None."""
    return None if moment is None else moment.astimezone(ZoneInfo(timezone)).isoformat()


def _json(value: Any) -> Any:
    """Instants as UTC text, days as ISO dates, records as dicts, tuples as lists."""
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_json(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return value.to_dict() if hasattr(value, "to_dict") else _fields(value)
    return value


def _fields(record: Any) -> dict[str, Any]:
    return {f.name: _json(getattr(record, f.name)) for f in fields(record)}


# --- what goes in ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessInfo:
    """The process a report is about, as stored."""

    key: str
    title: str
    workflow: str
    workflow_version: int
    country: str
    timezone: str
    state: str
    state_title: str
    started_at: datetime
    suspended_from: str | None = None
    finished: bool = False


@dataclass(frozen=True)
class StepInfo:
    """A step of the definition the process runs on, in order."""

    id: str
    title: str
    target_days: int | None


@dataclass(frozen=True)
class Stay:
    """One recorded stay in a step (the id orders them)."""

    id: int
    step: str
    entered_at: datetime
    due_at: datetime | None
    left_at: datetime | None


@dataclass(frozen=True)
class RequestItem:
    """A request to an institution, as recorded; `status` is OPEN, ANSWERED or CLOSED."""

    id: int
    kind: str
    label: str
    step: str
    institution: str
    institution_name: str
    sent_at: datetime
    due_at: datetime | None
    answered_at: datetime | None
    status: str


# --- what comes out ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    """One open deadline: the current step's, or a request's to an institution."""

    kind: str  # STEP or REQUEST
    uid: str  # "step-<stay id>" or "request-<request id>": stable while the deadline lives
    process: str
    step: str
    step_title: str
    opened_at: datetime  # the step entered, the request sent
    due_at: datetime
    due_day: date  # the local due day
    timezone: str
    status: str  # OVERDUE or UPCOMING
    working_days_overdue: int
    working_days_left: int  # working days of the process calendar up to the due day (0: today)
    request_id: int | None = None
    request_kind: str | None = None
    request_label: str | None = None
    institution: str | None = None
    institution_name: str | None = None

    @property
    def due_local(self) -> datetime:
        """The due instant in the process's time zone."""
        return self.due_at.astimezone(ZoneInfo(self.timezone))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: instants in UTC (`..._at`) and local time (`..._local`)."""
        return {
            **_fields(self),
            "opened_local": local_text(self.opened_at, self.timezone),
            "due_local": local_text(self.due_at, self.timezone),
        }


@dataclass(frozen=True)
class Responsiveness:
    """How one institution answered the requests sent to it up to the report's moment."""

    institution: str
    name: str
    requests: int  # sent by `at`, not withdrawn, waived or closed
    answered: int
    on_time: int
    late: int
    open: int  # awaiting an answer, not yet due
    open_overdue: int
    median_days_late: float | None

    @property
    def due_passed(self) -> int:
        """The requests whose timeliness is known: answered, or unanswered past their deadline
        (the share's denominator; open requests not yet due are left out)."""
        return self.answered + self.open_overdue

    @property
    def on_time_share(self) -> float | None:
        """Answers on time out of `due_passed` (None when it is 0: no deadline passed yet, so
        a share would say nothing). An unanswered overdue request counts against it: "on time
        100%" never stands beside overdue requests."""
        return self.on_time / self.due_passed if self.due_passed else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            **_fields(self),
            "due_passed": self.due_passed,
            "on_time_share": self.on_time_share,
        }


@dataclass(frozen=True)
class StepPlan:
    """One step of the Gantt chart: its planned days against its last recorded stay."""

    position: int  # 1-based
    step: str
    title: str
    target_days: int | None
    planned_start: date
    planned_end: date
    entered_at: datetime | None
    left_at: datetime | None
    due_at: datetime | None
    status: str  # DONE, CURRENT, OVERDUE or FUTURE
    working_days_overdue: int = 0


@dataclass(frozen=True)
class ProcessReport:
    """The deadline figures of one process at `at`."""

    key: str
    title: str
    workflow: str
    workflow_version: int
    country: str
    timezone: str
    state: str
    state_title: str
    suspended: bool
    finished: bool
    at: datetime
    today: date  # the local day of `at`
    horizon_days: int
    horizon_end: date  # the last local day that "falls due"
    overdue_steps: tuple[Deadline, ...]
    overdue_requests: tuple[Deadline, ...]
    falling_due: tuple[Deadline, ...]
    later: tuple[Deadline, ...]  # open, due after the horizon
    responsiveness: tuple[Responsiveness, ...]
    steps: tuple[StepPlan, ...]

    @property
    def deadlines(self) -> tuple[Deadline, ...]:
        """What the report lists: the overdue deadlines, then those falling due."""
        return self.overdue_steps + self.overdue_requests + self.falling_due

    @property
    def open_deadlines(self) -> tuple[Deadline, ...]:
        """Every open deadline, those beyond the horizon too (what a calendar wants)."""
        return self.deadlines + self.later

    def figures(self) -> dict[str, int]:
        """The headline counts (the digest's subject and audit event carry them)."""
        return {
            "overdue_steps": len(self.overdue_steps),
            "overdue_requests": len(self.overdue_requests),
            "falling_due": len(self.falling_due),
            "open_requests": sum(r.open + r.open_overdue for r in self.responsiveness),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; the steps' instants also in local time."""
        steps = [
            {
                **_fields(s),
                **{
                    f"{name}_local": local_text(getattr(s, f"{name}_at"), self.timezone)
                    for name in ("entered", "left", "due")
                },
            }
            for s in self.steps
        ]
        return {**_fields(self), "figures": self.figures(), "steps": steps}


@dataclass(frozen=True)
class DeadlineReport:
    """The deadline figures of some processes at one moment."""

    at: datetime
    horizon_days: int
    processes: tuple[ProcessReport, ...]

    def process(self, key: str) -> ProcessReport:
        """One process's part (KeyError when it is not in the report)."""
        for report in self.processes:
            if report.key == key.strip().upper():
                return report
        raise KeyError(key)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return _fields(self)
