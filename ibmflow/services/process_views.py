"""What a process's status and a list of processes read as: frozen dataclasses the console, the
command line and the API share (the API's response schemas are built from them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from ibmflow.i18n import pgettext


def step_status_label(status: str) -> str:
    """A step's status in the reader's language (in English the code itself: "done"); an unknown
    code as it is."""
    labels = {
        "done": pgettext("step status", "done"),
        "current": pgettext("step status", "current"),
        "pending": pgettext("step status", "pending"),
    }
    return labels.get(status, status)


@dataclass(frozen=True)
class WorkflowRef:
    """The workflow and version a process runs on."""

    id: str
    version: int


@dataclass(frozen=True)
class StepView:
    """One step of a process with its dates (UTC, ISO 8601)."""

    id: str
    title: str
    owner: str
    target_days: int | None
    final: bool
    entered_at: str | None
    completed_at: str | None
    due_at: str | None
    status: Literal["done", "current", "pending"]
    overdue: bool


@dataclass(frozen=True)
class ProcessStatus:
    """Where a process stands: its steps and what blocks the current one."""

    process: str
    title: str
    country: str
    timezone: str
    workflow: WorkflowRef
    state: str
    state_title: str
    suspended_from: str | None
    version: int
    steps: tuple[StepView, ...]
    blockers: Annotated[
        tuple[str, ...], Field(description="What blocks the current step, in words.")
    ]
    triggers: tuple[str, ...]
    as_of: str | None


@dataclass(frozen=True)
class ProcessSummary:
    """A process in a list: where it stands."""

    process: str
    title: str
    country: str
    state: str
    workflow: str
    version: Annotated[
        int, Field(description="The optimistic lock: give it back as expected_version.")
    ]
    updated_at: str | None
