"""Named queries of "Needs my attention": what is late, awaited or stuck across every process an
account follows (an administrator: every process). One query per table for all the processes, a
page of rows per kind, and every kind's exact total in one statement (the navigation's count)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from ibmflow.storage.account_tables import AccountProcessRow
from ibmflow.storage.columns import UTCDateTime
from ibmflow.storage.db import table_of
from ibmflow.storage.tables import (
    DecisionRow,
    InboundMessageRow,
    InstitutionRow,
    OutboxRow,
    ProcessRow,
    RequestRow,
    StepRecord,
    VoteRow,
)

SUSPENDED = "suspended"  # the engine's state of a suspended process: its deadlines do not run
OPEN_REQUEST, OPEN_DECISION, QUARANTINED, FAILED = "sent", "open", "quarantined", "failed"
BOUNCE, AUTOMATIC = "bounce", ("out_of_office", "auto_reply")


@dataclass(frozen=True)
class Window:
    """Whose processes, and the moments the kinds are read against."""

    account_id: int | None  # None: every process (an administrator)
    now: datetime
    week_end: datetime  # what falls due before this is due "this week"
    since: datetime  # failed mails, bounces and out-of-office notices since this moment


def followed(account: Window | int | None, process_id: Any) -> Any:
    """The condition that `process_id` is one of the processes an account follows (a `Window`'s
    account, or an account id; None: every process, an administrator's reach)."""
    account_id = account.account_id if isinstance(account, Window) else account
    if account_id is None:
        return sa.true()
    return process_id.in_(
        select(AccountProcessRow.process_id).where(AccountProcessRow.account_id == account_id)
    )


# --- the conditions of each kind (shared by its count and its rows) -------------------------------


def _overdue_stays(w: Window) -> list[Any]:
    return [
        col(StepRecord.left_at).is_(None),
        col(StepRecord.due_at) < w.now,
        ProcessRow.state != SUSPENDED,
        followed(w, col(StepRecord.process_id)),
    ]


def _stays_due_soon(w: Window) -> list[Any]:
    return [
        col(StepRecord.left_at).is_(None),
        col(StepRecord.due_at) >= w.now,
        col(StepRecord.due_at) < w.week_end,
        ProcessRow.state != SUSPENDED,
        followed(w, col(StepRecord.process_id)),
    ]


# The request kinds' conditions follow the index `ix_request_open` (status, decision_id, due_at,
# process_id): each is one range of it, so counting them reads no row of the table.


def _overdue_requests(w: Window) -> list[Any]:
    """Open requests to focal points past their due date (votes are counted as votes)."""
    return [
        RequestRow.status == OPEN_REQUEST,
        col(RequestRow.decision_id).is_(None),
        col(RequestRow.due_at) < w.now,
        followed(w, col(RequestRow.process_id)),
    ]


def _votes_awaited(w: Window) -> list[Any]:
    """Open votes, overdue or not."""
    return [
        RequestRow.status == OPEN_REQUEST,
        col(RequestRow.decision_id).is_not(None),
        followed(w, col(RequestRow.process_id)),
    ]


def _requests_due_soon(w: Window) -> list[Any]:
    return [
        RequestRow.status == OPEN_REQUEST,
        col(RequestRow.decision_id).is_(None),
        col(RequestRow.due_at) >= w.now,
        col(RequestRow.due_at) < w.week_end,
        followed(w, col(RequestRow.process_id)),
    ]


def _open_decisions(w: Window) -> list[Any]:
    return [DecisionRow.status == OPEN_DECISION, followed(w, col(DecisionRow.process_id))]


def _quarantined(w: Window) -> list[Any]:
    return [
        InboundMessageRow.status == QUARANTINED,
        col(InboundMessageRow.process_id).is_not(None),
        followed(w, col(InboundMessageRow.process_id)),
    ]


def _failed_mails(w: Window) -> list[Any]:
    return [
        OutboxRow.status == FAILED,
        col(OutboxRow.created_at) >= w.since,
        col(OutboxRow.process_id).is_not(None),
        followed(w, col(OutboxRow.process_id)),
    ]


def _received(w: Window, *classifications: str) -> list[Any]:
    return [
        col(InboundMessageRow.classification).in_(classifications),
        InboundMessageRow.status != QUARANTINED,
        col(InboundMessageRow.received_at) >= w.since,
        col(InboundMessageRow.process_id).is_not(None),
        followed(w, col(InboundMessageRow.process_id)),
    ]


def _bounces(w: Window) -> list[Any]:
    return _received(w, BOUNCE)


def _automatic(w: Window) -> list[Any]:
    return _received(w, *AUTOMATIC)


# kind -> (the table counted, whether the count joins the process, its conditions)
_KINDS: dict[str, tuple[Any, bool, Any]] = {
    "overdue_steps": (StepRecord, True, _overdue_stays),
    "overdue_requests": (RequestRow, False, _overdue_requests),
    "votes": (RequestRow, False, _votes_awaited),
    "decisions": (DecisionRow, False, _open_decisions),
    "quarantine": (InboundMessageRow, False, _quarantined),
    "failed_mails": (OutboxRow, False, _failed_mails),
    "bounces": (InboundMessageRow, False, _bounces),
    "out_of_office": (InboundMessageRow, False, _automatic),
    "steps_due_soon": (StepRecord, True, _stays_due_soon),
    "requests_due_soon": (RequestRow, False, _requests_due_soon),
}
KINDS = tuple(_KINDS)


def counts(
    session: Session, window: Window, kinds: tuple[str, ...], *, up_to: int | None = None
) -> dict[str, int]:
    """The exact number of items of each kind, in one statement (a scalar subquery per kind); with
    `up_to`, each kind counted no further than that (what costs the same at any size)."""
    if not kinds:
        return {}
    params: dict[str, Any] = {"now": window.now, "week_end": window.week_end, "since": window.since}
    if window.account_id is not None:
        params["account_id"] = window.account_id
    if up_to is not None:
        params["up_to"] = up_to
    statement = _counts_statement(kinds, window.account_id is not None, up_to is not None)
    row = session.connection().execute(statement, params).one()
    return {kind: int(value or 0) for kind, value in zip(kinds, row, strict=True)}


@functools.lru_cache(maxsize=64)
def _counts_statement(kinds: tuple[str, ...], per_account: bool, bounded: bool) -> Any:
    """The counting statement of these kinds, its moments and account bound when run: built once
    (it runs on every console page, for the navigation's count; building its ten subqueries
    again each time cost more than running them). `bounded`: each kind's count stops at the
    bound `up_to` (it counts a subquery of at most that many rows)."""
    moment: Any = functools.partial(sa.bindparam, type_=UTCDateTime())
    account: Any = sa.bindparam("account_id") if per_account else None
    bound = Window(
        account_id=account,
        now=moment("now"),
        week_end=moment("week_end"),
        since=moment("since"),
    )
    columns = []
    for kind in kinds:
        table, joins, conditions = _KINDS[kind]
        if bounded:
            found = select(sa.literal(1)).select_from(table)
            if joins:
                found = found.join(ProcessRow, col(ProcessRow.id) == table.process_id)
            found = found.where(*conditions(bound)).limit(sa.bindparam("up_to"))
            query = select(func.count()).select_from(found.subquery())
        else:
            query = select(func.count()).select_from(table)
            if joins:
                query = query.join(ProcessRow, col(ProcessRow.id) == table.process_id)
            query = query.where(*conditions(bound))
        columns.append(query.scalar_subquery().label(kind))
    return sa.select(*columns)


# --- the rows of each kind, a page at a time ------------------------------------------------------


def overdue_stays(session: Session, w: Window, limit: int) -> list[tuple[StepRecord, ProcessRow]]:
    """The current stays past their due date (suspended processes' excepted), longest late first."""
    return _stays(session, _overdue_stays(w), limit)


def stays_due_soon(session: Session, w: Window, limit: int) -> list[tuple[StepRecord, ProcessRow]]:
    """The current stays falling due before the end of the week, soonest first."""
    return _stays(session, _stays_due_soon(w), limit)


def _stays(session: Session, where: list[Any], limit: int) -> list[tuple[StepRecord, ProcessRow]]:
    query = (
        select(StepRecord, ProcessRow)
        .join(ProcessRow, col(ProcessRow.id) == col(StepRecord.process_id))
        .where(*where)
        .order_by(col(StepRecord.due_at), col(StepRecord.id))
        .limit(limit)
    )
    return [(stay, process) for stay, process in session.exec(query)]


Addressed = tuple[RequestRow, InstitutionRow, ProcessRow]


def overdue_requests(session: Session, w: Window, limit: int) -> list[Addressed]:
    """Open requests to focal points past their due date, longest late first."""
    return _requests(session, _overdue_requests(w), limit)


def votes_awaited(session: Session, w: Window, limit: int) -> list[Addressed]:
    """Open vote requests, the longest late (or soonest due) first."""
    return _requests(session, _votes_awaited(w), limit)


def requests_due_soon(session: Session, w: Window, limit: int) -> list[Addressed]:
    """Open requests (not votes) falling due before the end of the week, soonest first."""
    return _requests(session, _requests_due_soon(w), limit)


def _requests(session: Session, where: list[Any], limit: int) -> list[Addressed]:
    # Ties of due date by process, then request: the order of `ix_request_open` (status,
    # decision_id, due_at, process_id, then the row id), so a page is read in the index's order and
    # stops at `limit`. Ordering ties by id alone sorted every request due at the same moment
    # (16,000 at 1,000 processes, whose requests share a few due dates) for each page.
    query = (
        select(RequestRow, InstitutionRow, ProcessRow)
        .join(InstitutionRow, col(InstitutionRow.id) == col(RequestRow.institution_id))
        .join(ProcessRow, col(ProcessRow.id) == col(RequestRow.process_id))
        .where(*where)
        .order_by(col(RequestRow.due_at), col(RequestRow.process_id), col(RequestRow.id))
        .limit(limit)
    )
    return [(r, i, p) for r, i, p in session.exec(query)]


def open_decisions(
    session: Session, w: Window, limit: int
) -> list[tuple[DecisionRow, ProcessRow, int]]:
    """Open IAWG decisions, oldest first, each with how many votes were cast on it."""
    query = (
        select(DecisionRow, ProcessRow)
        .join(ProcessRow, col(ProcessRow.id) == col(DecisionRow.process_id))
        .where(*_open_decisions(w))
        .order_by(col(DecisionRow.opened_at), col(DecisionRow.id))
        .limit(limit)
    )
    rows = list(session.exec(query))
    ids = [d.id for d, _p in rows]
    cast: dict[int, int] = {}
    if ids:
        votes = (
            select(VoteRow.decision_id, func.count())
            .where(col(VoteRow.decision_id).in_(ids))
            .group_by(col(VoteRow.decision_id))
        )
        cast = {decision: int(n) for decision, n in session.exec(votes)}
    return [(d, p, cast.get(d.id or 0, 0)) for d, p in rows]


def quarantined(
    session: Session, w: Window, limit: int
) -> list[tuple[InboundMessageRow, ProcessRow]]:
    """Received mails waiting in a process's quarantine, oldest first."""
    return _inbound(session, _quarantined(w), limit, newest=False)


def bounces(session: Session, w: Window, limit: int) -> list[tuple[InboundMessageRow, ProcessRow]]:
    """Bounces received since the window's start, newest first."""
    return _inbound(session, _bounces(w), limit, newest=True)


def out_of_office(
    session: Session, w: Window, limit: int
) -> list[tuple[InboundMessageRow, ProcessRow]]:
    """Out-of-office notices and other auto-replies since the window's start, newest first."""
    return _inbound(session, _automatic(w), limit, newest=True)


def _inbound(
    session: Session, where: list[Any], limit: int, *, newest: bool
) -> list[tuple[InboundMessageRow, ProcessRow]]:
    order = col(InboundMessageRow.received_at)
    query = (
        select(InboundMessageRow, ProcessRow)
        .join(ProcessRow, col(ProcessRow.id) == col(InboundMessageRow.process_id))
        .where(*where)
        .order_by(order.desc() if newest else order, col(InboundMessageRow.id))
        .limit(limit)
    )
    return [(m, p) for m, p in session.exec(query)]


def failed_mails(session: Session, w: Window, limit: int) -> list[tuple[Any, ProcessRow]]:
    """Mails that could not be delivered since the window's start, newest first: rows with id,
    kind, subject, to_addrs, request_id, created_at, last_error (not the bodies)."""
    outbox = table_of(OutboxRow)
    query = (
        sa.select(
            outbox.c.id,
            outbox.c.kind,
            outbox.c.subject,
            outbox.c.to_addrs,
            outbox.c.request_id,
            outbox.c.created_at,
            outbox.c.last_error,
            outbox.c.process_id,
        )
        .where(*_failed_mails(w))
        .order_by(outbox.c.created_at.desc(), outbox.c.id)
        .limit(limit)
    )
    rows = list(session.connection().execute(query))
    ids = sorted({r.process_id for r in rows})
    processes = {
        p.id: p for p in session.exec(select(ProcessRow).where(col(ProcessRow.id).in_(ids)))
    }
    return [(r, processes[r.process_id]) for r in rows]
