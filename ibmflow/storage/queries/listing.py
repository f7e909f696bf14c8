"""The console's and the API's list of processes, read in two steps so that a page costs what it
shows: first the order (the columns a sort needs, each computed once per process), cut to the page;
then what the page shows, for its processes only (their latest audit event above all: two lookups
per process, which the first step reads only when the list is sorted by activity).

The rows, the order and the totals are those of `storage.queries.processes.process_list`, which
computed every column for every process, and the lateness and overdue count up to five times each
(once per place the sort and the filter name them)."""

from __future__ import annotations

import functools
from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from ibmflow.storage.columns import UTCDateTime
from ibmflow.storage.db import table_of
from ibmflow.storage.queries.processes import LARGEST_FIRST, ListedRow, ListFilter
from ibmflow.storage.tables import AuditEventRow, ProcessRow, RequestRow, StepRecord

SUSPENDED = "suspended"  # the engine's state of a suspended process (storage does not import it)
OPEN_REQUEST = "sent"  # the status of a request awaiting its answer
_REQUEST = table_of(RequestRow)
_AUDIT = table_of(AuditEventRow)
_NOW = sa.bindparam("now", type_=UTCDateTime())  # the moment, bound when a statement runs


def _late_requests(now: Any) -> list[Any]:
    """The processes of the open requests past due: two ranges of `ix_request_open` (requests,
    then votes), as many rows as there are such requests."""
    open_late = [_REQUEST.c.status == OPEN_REQUEST, _REQUEST.c.due_at < now]
    return [
        sa.select(_REQUEST.c.process_id).where(_REQUEST.c.decision_id.is_(None), *open_late),
        sa.select(_REQUEST.c.process_id).where(_REQUEST.c.decision_id.is_not(None), *open_late),
    ]


def _overdue(now: Any, process_id: Any, few_late: bool) -> Any:
    """Open requests of the process past due: an index-only range of `ix_request_open_due`, a
    seek in the index for each process; when `few_late` (fewer such requests in all than
    processes to order), only for the processes that have one, the others found without a seek."""
    count = (
        sa.select(func.count())
        .select_from(_REQUEST)
        .where(
            _REQUEST.c.process_id == process_id,
            _REQUEST.c.status == OPEN_REQUEST,
            _REQUEST.c.due_at < now,
        )
        .scalar_subquery()
    )
    if not few_late:
        return count
    return sa.case((process_id.in_(sa.union(*_late_requests(now))), count), else_=0)


@functools.cache
def _late_requests_up_to() -> Any:
    """How many open requests are past due, counting no further than `cap`."""
    found = sa.union_all(*_late_requests(_NOW)).limit(sa.bindparam("cap")).subquery()
    return sa.select(func.count()).select_from(found)


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


def _maybe_late(now: Any) -> Any:
    """The processes with an open request past due or a current stay past due (suspended ones
    too: the exact condition follows)."""
    return sa.union(
        *_late_requests(now),
        sa.select(col(StepRecord.process_id)).where(
            col(StepRecord.left_at).is_(None), col(StepRecord.due_at) < now
        ),
    )


def _current_stay() -> Any:
    return sa.and_(
        col(StepRecord.process_id) == col(ProcessRow.id), col(StepRecord.left_at).is_(None)
    )


def _candidates(keyed: bool, now: Any, which: ListFilter, few_late: bool) -> Any:
    """Every process that passes the filter with the columns its sort needs, each computed once:
    a subquery materialized before it is sorted, so the sort and the filter read its columns."""
    step_late = sa.and_(col(ProcessRow.state) != SUSPENDED, col(StepRecord.due_at) < now)
    columns = [
        col(ProcessRow.id).label("id"),
        col(ProcessRow.key).label("key"),
        col(ProcessRow.country).label("country"),
        col(StepRecord.due_at).label("due_at"),
        sa.case((step_late, 1), else_=0).label("step_late"),
        _overdue(now, col(ProcessRow.id), few_late).label("overdue"),
    ]
    if which.sort == "activity":
        columns.append(_last_at(col(ProcessRow.key)).label("last_at"))
    query = _filtered(sa.select(*columns), keyed, now, which)
    # MATERIALIZED: computed once, not copied into every place the outer query names a column
    # (SQLite >= 3.35 and PostgreSQL >= 12 read the hint; flattening would copy the subqueries).
    return query.cte("listed").prefix_with("MATERIALIZED")


def _filtered(query: Any, keyed: bool, now: Any, which: ListFilter) -> Any:
    """`query` over the processes (with their current stay) that may pass the filter: all of it
    but the lateness, of which only the processes that may be late are kept here."""
    query = query.select_from(ProcessRow).outerjoin(StepRecord, _current_stay())
    if keyed:
        query = query.where(col(ProcessRow.key).in_(sa.bindparam("keys", expanding=True)))
    if which.country is not None:
        query = query.where(col(ProcessRow.country) == which.country)
    if which.late:  # only the processes that may be late: found from what is late, not scanned
        query = query.where(col(ProcessRow.id).in_(_maybe_late(now)))
    if which.step is not None:
        step = sa.case(
            (col(ProcessRow.state) == SUSPENDED, col(ProcessRow.suspended_from)),
            else_=col(ProcessRow.state),
        )
        query = query.where(step == which.step)
    return query


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


def _passing(which: ListFilter, c: Any) -> Any:
    return sa.or_(c.step_late == 1, c.overdue > 0) if which.late else sa.true()


@functools.lru_cache(maxsize=64)
def _count(keyed: bool, which: ListFilter) -> Any:
    """The count of a shape of list (the moment and the keys bound when run), built once, so
    that SQLAlchemy's compiled cache serves it (as `_page`)."""
    if which.late:  # the few that may be late, then the exact condition
        listed = _candidates(keyed, _NOW, which, few_late=False)
        return sa.select(func.count()).select_from(listed).where(_passing(which, listed.c))
    # no column computed: every process that passes the filter
    return _filtered(sa.select(func.count()), keyed, _NOW, which)


@functools.lru_cache(maxsize=128)
def _page(keyed: bool, which: ListFilter, limited: bool, few_late: bool) -> Any:
    """The page's statement for a shape of list (the moment, the keys, the offset and the limit
    bound when run): built once, so that SQLAlchemy's compiled cache serves it (building the
    subqueries' columns again was most of a page's time at 100 processes)."""
    listed = _candidates(keyed, _NOW, which, few_late)
    c = listed.c
    page = (
        sa.select(c)
        .where(_passing(which, c))
        .order_by(*_order(which, c))
        .offset(sa.bindparam("offset"))
    )
    if limited:
        page = page.limit(sa.bindparam("limit"))
    in_page = page.subquery("page")
    return (  # the page's processes, in the same order, with their latest audit event
        select(  # type: ignore[call-overload]  # five columns: more than sqlmodel's select types
            ProcessRow,
            in_page.c.due_at,
            in_page.c.step_late,
            in_page.c.overdue,
            _last_at(col(ProcessRow.key)).label("last_at"),
        )
        .join(in_page, in_page.c.id == col(ProcessRow.id))
        .order_by(*_order(which, in_page.c))
    )


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
    requests and its latest audit event: three queries, however many processes."""
    params: dict[str, Any] = {"now": now, "offset": offset, "limit": limit}
    if keys is not None:
        params["keys"] = sorted(keys)
    conn = session.connection()
    total = int(conn.execute(_count(keys is not None, which), params).scalar() or 0)
    if not total:
        return 0, []
    # Each process's overdue requests are counted by a seek in an index; when fewer requests in
    # all are past due than there are processes to order, finding their processes first is less
    # work (none at all when nothing is late), and the others have none without a seek.
    few_late = not which.late and (
        conn.execute(_late_requests_up_to(), {"now": now, "cap": total}).scalar_one() < total
    )
    shown = _page(keys is not None, which, limit is not None, few_late)
    rows = [
        ListedRow(process, due_at, bool(step_late), int(overdue), last_at)
        for process, due_at, step_late, overdue, last_at in session.exec(shown, params=params)
    ]
    return total, rows
