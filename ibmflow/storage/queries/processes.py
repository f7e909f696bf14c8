"""Named queries about processes: the stored definitions they run on, the console's list of processes
(filtered, sorted and paged in SQL), their open stays and moved deadlines, the requests a report
counts, and the subjects the chasing ladder has not planned yet."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
    """Which processes the list shows and in which order (see `process_list`)."""

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


def _listed(now: datetime) -> dict[str, Any]:
    """The list's computed columns, correlated with the outer process row."""
    overdue_requests = (
        sa.select(func.count())
        .select_from(_REQUEST)
        .where(
            _REQUEST.c.process_id == ProcessRow.id,
            _REQUEST.c.status == OPEN_REQUEST,
            _REQUEST.c.due_at < now,
        )
        .scalar_subquery()
    )
    # The latest event is the one with the highest sequence number: a max over the index on
    # `process` (the events are appended in time order), then one row by its primary key.
    mine = _AUDIT.alias("mine")
    last_seq = (
        sa.select(func.max(mine.c.seq))
        .where(mine.c.process == ProcessRow.key)
        .correlate(ProcessRow)
        .scalar_subquery()
    )
    last_at = (
        sa.select(_AUDIT.c.at)
        .where(_AUDIT.c.seq == last_seq)
        .correlate(ProcessRow)
        .scalar_subquery()
    )
    step_late = sa.and_(col(ProcessRow.state) != SUSPENDED, col(StepRecord.due_at) < now)
    return {
        "overdue_requests": overdue_requests,
        "last_at": last_at,
        "step_late": step_late,
        "late": sa.or_(step_late, overdue_requests > 0),
        "step": sa.case(
            (col(ProcessRow.state) == SUSPENDED, col(ProcessRow.suspended_from)),
            else_=col(ProcessRow.state),
        ),
    }


def _filtered(
    query: Any, keys: Collection[str] | None, which: ListFilter, c: dict[str, Any]
) -> Any:
    current = sa.and_(
        col(StepRecord.process_id) == col(ProcessRow.id), col(StepRecord.left_at).is_(None)
    )
    query = query.outerjoin(StepRecord, current)
    if keys is not None:
        query = query.where(col(ProcessRow.key).in_(sorted(keys)))
    if which.country is not None:
        query = query.where(col(ProcessRow.country) == which.country)
    if which.step is not None:
        query = query.where(c["step"] == which.step)
    if which.late:
        query = query.where(c["late"])
    return query


def _order(which: ListFilter, c: dict[str, Any]) -> list[Any]:
    """The ORDER BY of a sort: (column, largest first?) pairs, flipped when the caller asks for
    the other direction; nulls last either way; the key breaks ties, A to Z."""
    due, key = col(StepRecord.due_at), col(ProcessRow.key)
    late = sa.case((c["late"], 1), else_=0)
    columns: dict[str, list[tuple[Any, bool]]] = {
        "urgent": [(late, True), (due, False), (c["overdue_requests"], True)],
        "due": [(due, False)],
        "overdue": [(c["overdue_requests"], True), (due, False)],
        "activity": [(c["last_at"], True)],
        "key": [],
        "country": [(col(ProcessRow.country), False)],
    }
    natural = columns[which.sort]
    flip = which.descending is not None and which.descending != (which.sort in LARGEST_FIRST)
    out: list[Any] = []
    for column, largest_first in natural:
        out += [column.is_(None), column.desc() if largest_first != flip else column.asc()]
    out.append(key.desc() if flip and not natural else key.asc())
    return out


def process_list(
    session: Session,
    keys: Collection[str] | None,
    now: datetime,
    which: ListFilter,
    *,
    offset: int = 0,
    limit: int | None = None,
) -> tuple[int, list[ListedRow]]:
    """How many processes with these keys (None: all) pass the filter, and a page of them in the
    order asked, each with its current stay's due date, whether that step is late, its overdue
    requests and its latest audit event: two queries, however many processes."""
    c = _listed(now)
    total = session.scalar(
        _filtered(sa.select(func.count()).select_from(ProcessRow), keys, which, c)
    )
    query = _filtered(
        sa.select(  # type: ignore[call-overload]  # five columns: more than sqlmodel's select types
            ProcessRow,
            StepRecord.due_at,
            c["step_late"].label("step_late"),
            c["overdue_requests"].label("overdue_requests"),
            c["last_at"].label("last_at"),
        ),
        keys,
        which,
        c,
    )
    query = query.order_by(*_order(which, c)).offset(offset).limit(limit)
    rows = [
        ListedRow(process, due, bool(step_late), int(overdue or 0), last_at)
        for process, due, step_late, overdue, last_at in session.exec(query)
    ]
    return int(total or 0), rows


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
