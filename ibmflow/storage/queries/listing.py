"""The console's and the API's list of processes, read in two steps so that a page costs what it
shows: first the order (the columns a sort needs, each computed once per process), cut to the page;
then what the page shows, for its processes only (their latest audit event above all: two lookups
per process, which the first step reads only when the list is sorted by activity).

The rows, the order and the totals are those of `storage.queries.processes.process_list`, which
computed every column for every process, and the lateness and overdue count up to five times each
(once per place the sort and the filter name them)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from ibmflow.storage.db import table_of
from ibmflow.storage.queries.processes import LARGEST_FIRST, ListedRow, ListFilter
from ibmflow.storage.tables import AuditEventRow, ProcessRow, RequestRow, StepRecord

SUSPENDED = "suspended"  # the engine's state of a suspended process (storage does not import it)
OPEN_REQUEST = "sent"  # the status of a request awaiting its answer
_REQUEST = table_of(RequestRow)
_AUDIT = table_of(AuditEventRow)


def _overdue(now: datetime, process_id: Any) -> Any:
    """Open requests of the process past due: an index-only range of `ix_request_open_due`."""
    return (
        sa.select(func.count())
        .select_from(_REQUEST)
        .where(
            _REQUEST.c.process_id == process_id,
            _REQUEST.c.status == OPEN_REQUEST,
            _REQUEST.c.due_at < now,
        )
        .scalar_subquery()
    )


def _last_at(process_key: Any) -> Any:
    """When the process's latest audit event happened: the highest sequence number of its events
    (they are appended in time order), then that one row by its primary key."""
    mine = _AUDIT.alias("mine")
    last_seq = (
        sa.select(func.max(mine.c.seq))
        .where(mine.c.process == process_key)
        .correlate(ProcessRow)
        .scalar_subquery()
    )
    return (
        sa.select(_AUDIT.c.at)
        .where(_AUDIT.c.seq == last_seq)
        .correlate(ProcessRow)
        .scalar_subquery()
    )


def _current_stay() -> Any:
    return sa.and_(
        col(StepRecord.process_id) == col(ProcessRow.id), col(StepRecord.left_at).is_(None)
    )


def _candidates(keys: Collection[str] | None, now: datetime, which: ListFilter) -> Any:
    """Every process that passes the filter with the columns its sort needs, each computed once:
    a subquery materialized before it is sorted, so the sort and the filter read its columns."""
    step_late = sa.and_(col(ProcessRow.state) != SUSPENDED, col(StepRecord.due_at) < now)
    columns = [
        col(ProcessRow.id).label("id"),
        col(ProcessRow.key).label("key"),
        col(ProcessRow.country).label("country"),
        col(StepRecord.due_at).label("due_at"),
        sa.case((step_late, 1), else_=0).label("step_late"),
        _overdue(now, col(ProcessRow.id)).label("overdue"),
    ]
    if which.sort == "activity":
        columns.append(_last_at(col(ProcessRow.key)).label("last_at"))
    query = sa.select(*columns).select_from(ProcessRow).outerjoin(StepRecord, _current_stay())
    if keys is not None:
        query = query.where(col(ProcessRow.key).in_(sorted(keys)))
    if which.country is not None:
        query = query.where(col(ProcessRow.country) == which.country)
    if which.step is not None:
        step = sa.case(
            (col(ProcessRow.state) == SUSPENDED, col(ProcessRow.suspended_from)),
            else_=col(ProcessRow.state),
        )
        query = query.where(step == which.step)
    # MATERIALIZED: computed once, not copied into every place the outer query names a column
    # (SQLite >= 3.35 and PostgreSQL >= 12 read the hint; flattening would copy the subqueries).
    return query.cte("listed").prefix_with("MATERIALIZED")


def _order(which: ListFilter, c: Any) -> list[Any]:
    """The ORDER BY of a sort: (column, largest first?) pairs, flipped when the caller asks for
    the other direction; nulls last either way; the key breaks ties, A to Z."""
    late = sa.case((sa.or_(c.step_late == 1, c.overdue > 0), 1), else_=0)
    columns: dict[str, list[tuple[Any, bool]]] = {
        "urgent": [(late, True), (c.due_at, False), (c.overdue, True)],
        "due": [(c.due_at, False)],
        "overdue": [(c.overdue, True), (c.due_at, False)],
        "activity": [(c.last_at, True)] if which.sort == "activity" else [],
        "key": [],
        "country": [(c.country, False)],
    }
    natural = columns[which.sort]
    flip = which.descending is not None and which.descending != (which.sort in LARGEST_FIRST)
    out: list[Any] = []
    for column, largest_first in natural:
        out += [column.is_(None), column.desc() if largest_first != flip else column.asc()]
    out.append(c.key.desc() if flip and not natural else c.key.asc())
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
    requests and its latest audit event: two queries, however many processes (three for a page
    past the end)."""
    listed = _candidates(keys, now, which)
    c = listed.c
    passing = sa.or_(c.step_late == 1, c.overdue > 0) if which.late else sa.true()
    conn = session.connection()
    page = (
        sa.select(c.id, c.due_at, c.step_late, c.overdue, func.count().over().label("total"))
        .where(passing)
        .order_by(*_order(which, c))
        .offset(offset)
        .limit(limit)
    )
    ordered = conn.execute(page).all()
    if not ordered:  # none, or a page past the end: count them on their own
        total = conn.execute(sa.select(func.count()).select_from(listed).where(passing)).scalar()
        return int(total or 0), []
    total = ordered[0].total
    ids = [row.id for row in ordered]
    shown = select(ProcessRow, _last_at(col(ProcessRow.key)).label("last_at")).where(
        col(ProcessRow.id).in_(ids)
    )
    found = {process.id: (process, last_at) for process, last_at in session.exec(shown)}
    rows = []
    for row in ordered:
        process, last_at = found[row.id]
        rows.append(ListedRow(process, row.due_at, bool(row.step_late), int(row.overdue), last_at))
    return int(total or 0), rows
