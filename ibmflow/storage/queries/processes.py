"""Named queries about processes: the stored definitions they run on, the console's list of processes
(filtered, sorted and paged in SQL), their open stays and moved deadlines, the requests a report
counts, and the subjects the chasing ladder has not planned yet."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from ibmflow.storage.db import table_of
from ibmflow.storage.tables import (
    AuditEventRow,
    DeadlineExtensionRow,
    ProcessRow,
    RequestRow,
    RungRow,
    StepRecord,
    WorkflowDefinitionRow,
)

_RUNG = table_of(RungRow)
_REQUEST = table_of(RequestRow)
_AUDIT = table_of(AuditEventRow)
OPEN_REQUEST = "sent"  # the status of a request awaiting its answer


def stored_definition(
    session: Session, workflow_id: str, version: int
) -> WorkflowDefinitionRow | None:
    """The stored copy of a workflow's version, if a process ever started on it."""
    return session.exec(
        select(WorkflowDefinitionRow).where(
            WorkflowDefinitionRow.workflow_id == workflow_id,
            WorkflowDefinitionRow.version == version,
        )
    ).one_or_none()


def count_in_country(session: Session, country: str) -> int:
    """How many processes a country has (the next default key is COUNTRY-(count+1))."""
    return int(
        session.exec(
            select(func.count()).select_from(ProcessRow).where(ProcessRow.country == country)
        ).one()
    )


def find_process(session: Session, key: str) -> ProcessRow | None:
    """The process with this key (already upper-cased), or None."""
    return session.exec(select(ProcessRow).where(ProcessRow.key == key)).one_or_none()


def all_processes(session: Session) -> list[ProcessRow]:
    """Every process, oldest first."""
    return list(session.exec(select(ProcessRow).order_by(col(ProcessRow.id))))


def open_stays(session: Session) -> dict[int, StepRecord]:
    """The stay each process is in now, by process id."""
    return {
        stay.process_id: stay
        for stay in session.exec(select(StepRecord).where(col(StepRecord.left_at).is_(None)))
    }


def stay_steps(session: Session, process_id: int | None) -> dict[int | None, str]:
    """The step of each stay of a process, by stay id."""
    return {
        r.id: r.step
        for r in session.exec(select(StepRecord).where(StepRecord.process_id == process_id))
    }


def extensions(session: Session, process_id: int | None) -> list[DeadlineExtensionRow]:
    """The deadlines moved in a process, newest first."""
    return list(
        session.exec(
            select(DeadlineExtensionRow)
            .where(DeadlineExtensionRow.process_id == process_id)
            .order_by(col(DeadlineExtensionRow.id).desc())
        )
    )


def requests_of(session: Session, process_id: int | None) -> list[RequestRow]:
    """Every request of a process, oldest first."""
    return list(
        session.exec(
            select(RequestRow)
            .where(RequestRow.process_id == process_id)
            .order_by(col(RequestRow.id))
        )
    )


def unplanned_requests(session: Session) -> list[int | None]:
    """The open requests with a due date and no rung (sent before the ladder existed)."""
    has_rungs = sa.exists().where(_RUNG.c.request_id == RequestRow.id)
    return list(
        session.exec(
            select(RequestRow.id).where(
                RequestRow.status == "sent", col(RequestRow.due_at).is_not(None), ~has_rungs
            )
        )
    )


def unplanned_stays(session: Session) -> list[int | None]:
    """The current stays with a due date and no rung (entered before the ladder existed)."""
    has_rungs = sa.exists().where(_RUNG.c.step_record_id == StepRecord.id)
    return list(
        session.exec(
            select(StepRecord.id).where(
                col(StepRecord.left_at).is_(None), col(StepRecord.due_at).is_not(None), ~has_rungs
            )
        )
    )


# --- the console's list of processes -----------------------------------------------------------

SUSPENDED = "suspended"  # the engine's state of a suspended process (storage does not import it)
# The orders the list offers: each is its columns, the natural direction of each (True: the
# largest first), nulls always last, then the key as the tie-break.
LIST_SORTS = ("urgent", "due", "overdue", "activity", "key", "country")
LARGEST_FIRST = frozenset({"urgent", "overdue", "activity"})  # the rest run smallest first


@dataclass(frozen=True)
class ListFilter:
    """Which processes the list shows and in which order (see `listing.process_list`)."""

    country: str | None = None
    step: str | None = None
    late: bool = False
    sort: str = "urgent"
    descending: bool | None = None  # None: the sort's natural direction


@dataclass(frozen=True)
class ListedRow:
    """A process of the list with what it shows besides the process row."""

    process: ProcessRow
    due_at: datetime | None  # when its current stay is due
    step_late: bool  # its current step is past due (never while suspended)
    overdue_requests: int  # open requests past their due date
    last_activity_at: datetime | None  # its latest audit event


def list_choices(
    session: Session, keys: Collection[str] | None
) -> tuple[list[str], list[ProcessRow]]:
    """What the list's filter offers: the countries of these processes (None: of all), A to Z,
    and one process of each definition version they run on (its steps are the step choices)."""
    reach = select(ProcessRow.country).distinct().order_by(col(ProcessRow.country))
    first = select(func.min(ProcessRow.id)).group_by(col(ProcessRow.definition_pk))
    if keys is not None:
        reach = reach.where(col(ProcessRow.key).in_(sorted(keys)))
        first = first.where(col(ProcessRow.key).in_(sorted(keys)))
    countries = list(session.exec(reach))
    samples = list(
        session.exec(
            select(ProcessRow).where(col(ProcessRow.id).in_(first)).order_by(col(ProcessRow.id))
        )
    )
    return countries, samples
