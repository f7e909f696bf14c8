"""Named queries of the process page's requests: one page of them, most urgent first (open ones by
due date, the earliest (the latest) first; then the finished ones, newest first), filtered by
status, institution and kind in SQL, and the open ones of the current step."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from ibmflow.storage.tables import RequestRow

OPEN = "sent"
VOTE = "vote"


def _filtered(
    process_id: int, now: datetime, status: str, institution_id: int | None, kind: str
) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [
        col(RequestRow.process_id) == process_id,
        col(RequestRow.kind) != VOTE,  # votes are shown with their decisions
    ]
    if status == "open":
        where.append(col(RequestRow.status) == OPEN)
    elif status == "overdue":
        where += [col(RequestRow.status) == OPEN, col(RequestRow.due_at) < now]
    elif status:
        where.append(col(RequestRow.status) == status)
    if institution_id is not None:
        where.append(col(RequestRow.institution_id) == institution_id)
    if kind:
        where.append(col(RequestRow.kind) == kind)
    return where


def urgent_requests(
    session: Session,
    process_id: int,
    now: datetime,
    *,
    status: str = "",
    institution_id: int | None = None,
    kind: str = "",
    offset: int = 0,
    limit: int = 50,
) -> tuple[int, Sequence[RequestRow]]:
    """How many requests match, and `limit` of them from `offset`: open ones first by due date
    (no due date last), then the finished ones, newest first."""
    where = _filtered(process_id, now, status, institution_id, kind)
    total = session.exec(select(func.count()).select_from(RequestRow).where(*where)).one()
    is_open = sa.case((col(RequestRow.status) == OPEN, 0), else_=1)
    no_due = sa.case((col(RequestRow.due_at).is_(None), 1), else_=0)
    open_due = sa.case((col(RequestRow.status) == OPEN, col(RequestRow.due_at)), else_=None)
    rows = session.exec(
        select(RequestRow)
        .where(*where)
        .order_by(is_open, no_due, open_due, col(RequestRow.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return int(total), rows


def open_requests(session: Session, process_id: int) -> Sequence[RequestRow]:
    """The open requests of a process (not votes), by due date."""
    return session.exec(
        select(RequestRow)
        .where(
            col(RequestRow.process_id) == process_id,
            col(RequestRow.status) == OPEN,
            col(RequestRow.kind) != VOTE,
        )
        .order_by(col(RequestRow.due_at), col(RequestRow.id))
    ).all()


def requests_by_id(session: Session, process_id: int, ids: Sequence[int]) -> dict[int, RequestRow]:
    """Some requests of a process, by id (one query)."""
    if not ids:
        return {}
    rows = session.exec(
        select(RequestRow).where(
            col(RequestRow.process_id) == process_id, col(RequestRow.id).in_(list(ids))
        )
    ).all()
    return {row.id or 0: row for row in rows}


def open_votes(session: Session, decision_id: int) -> Sequence[RequestRow]:
    """The ballots of a decision not cast yet (its open vote requests)."""
    return session.exec(
        select(RequestRow).where(
            col(RequestRow.decision_id) == decision_id,
            col(RequestRow.status) == OPEN,
            col(RequestRow.kind) == VOTE,
        )
    ).all()
