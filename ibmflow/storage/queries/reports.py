"""Named queries of the lists and reports: the processes in an account's reach, one page of them with
the exact total, and each table a report reads fetched once for all the processes of a page (never a
query per process)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from ibmflow.storage.db import table_of
from ibmflow.storage.tables import InstitutionRow, ProcessRow, RequestRow, StepRecord

_REQUEST = table_of(RequestRow)
# What a report reads of a request (not its answer's text and fields, which can be long).
_REQUEST_COLUMNS = (
    _REQUEST.c.id,
    _REQUEST.c.process_id,
    _REQUEST.c.kind,
    _REQUEST.c.step,
    _REQUEST.c.institution_id,
    _REQUEST.c.status,
    _REQUEST.c.sent_at,
    _REQUEST.c.due_at,
    _REQUEST.c.answered_at,
)


def _in_reach(query: Any, keys: Collection[str] | None) -> Any:
    """`query` narrowed to the processes with these keys (None: every process)."""
    return query if keys is None else query.where(col(ProcessRow.key).in_(sorted(keys)))


def count_processes(session: Session, keys: Collection[str] | None) -> int:
    """How many processes have these keys (None: how many processes there are)."""
    return int(session.exec(_in_reach(select(func.count()).select_from(ProcessRow), keys)).one())


def processes_page(
    session: Session,
    keys: Collection[str] | None,
    *,
    offset: int = 0,
    limit: int | None = None,
    by_key: bool = False,
) -> list[ProcessRow]:
    """The processes with these keys (None: every process), oldest first (`by_key`: by key), from
    `offset`, at most `limit` of them (None: all)."""
    order = col(ProcessRow.key) if by_key else col(ProcessRow.id)
    query = _in_reach(select(ProcessRow), keys).order_by(order).offset(offset).limit(limit)
    return list(session.exec(query))


def _grouped(rows: Any) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for row in rows:
        out.setdefault(row.process_id, []).append(row)
    return out


def _of(query: Any, column: Any, ids: Sequence[int] | None) -> Any:
    return query if ids is None else query.where(column.in_(ids))


def stays_by_process(session: Session, ids: Sequence[int] | None) -> dict[int, list[StepRecord]]:
    """Every stay of these processes (None: of all), oldest first, by process id."""
    query = _of(select(StepRecord), col(StepRecord.process_id), ids)
    return _grouped(session.exec(query.order_by(col(StepRecord.id))))


def institutions_by_process(
    session: Session, ids: Sequence[int] | None
) -> dict[int, list[InstitutionRow]]:
    """The institutions of these processes (None: of all), in roster order, by process id."""
    query = _of(select(InstitutionRow), col(InstitutionRow.process_id), ids)
    return _grouped(session.exec(query.order_by(col(InstitutionRow.id))))


def requests_by_process(session: Session, ids: Sequence[int] | None) -> dict[int, list[Any]]:
    """What a report reads of every request of these processes (None: of all), oldest first, by
    process id: rows with id, kind, step, institution_id, status, sent_at, due_at, answered_at."""
    query = _of(sa.select(*_REQUEST_COLUMNS), _REQUEST.c.process_id, ids)
    return _grouped(session.connection().execute(query.order_by(_REQUEST.c.id)))
