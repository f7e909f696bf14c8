"""Named queries of the outbox's dispatch: claim the due mails, renew and give up the claims, lock and
mark the mails of a pass. Core statements, one per batch of mails, not one per mail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session, select

from ibmflow.storage.db import keep_rows, table_of, write_kept
from ibmflow.storage.prepared import Prepared
from ibmflow.storage.tables import OutboxRow, ProcessRow

_OUTBOX, _PROCESS = table_of(OutboxRow), table_of(ProcessRow)
WORKER_CHARS = 100  # `claimed_by` holds this much of a dispatcher's name


@dataclass(frozen=True)
class Claimed:
    """A mail a dispatcher claimed: what rendering and composing it read (`services.outbox.render`,
    `mail.compose.OutboxMail`), and what its audit events and a failure notice say of it."""

    id: int
    process_id: int | None
    request_id: int | None
    kind: str
    to_addrs: Sequence[str]
    subject: str | None  # None until rendered: see `template_context`
    text_body: str | None
    html_body: str | None
    template_context: str | None  # what the mail says, rendered at dispatch (`mail.stored`)
    language: str | None
    message_id: str
    reply_to: str | None
    in_reply_to: str | None
    references: str | None
    attempts: int
    created_at: datetime


_CLAIMED = [_OUTBOX.c[name] for name in Claimed.__dataclass_fields__]


def claim(
    conn: Connection,
    *,
    now: datetime,
    worker: str,
    until: datetime,
    batch: int,
    skip_locked: bool,
) -> list[Claimed]:
    """Claim up to `batch` due mails (pending, due, not claimed or their claim run out), oldest due
    first, until `until`; in the caller's write transaction.

    `skip_locked` (PostgreSQL): two dispatchers each take rows the other has not locked; on SQLite
    the write transaction's BEGIN IMMEDIATE already lets only one claim at a time.
    """
    due = (
        sa.select(*_CLAIMED)
        .where(
            _OUTBOX.c.status == "pending",
            _OUTBOX.c.next_attempt_at <= now,
            sa.or_(_OUTBOX.c.claimed_until.is_(None), _OUTBOX.c.claimed_until <= now),
        )
        .order_by(_OUTBOX.c.next_attempt_at, _OUTBOX.c.id)
        .limit(batch)
    )
    if skip_locked:
        due = due.with_for_update(skip_locked=True)
    rows = [Claimed(**row._mapping) for row in conn.execute(due)]
    if rows:
        conn.execute(
            sa.update(_OUTBOX)
            .where(_OUTBOX.c.id.in_([r.id for r in rows]))
            .values(claimed_until=until, claimed_by=worker[:WORKER_CHARS])
        )
    return rows


def _mine(worker: str, ids: Iterable[int]) -> tuple[Any, ...]:
    return (
        _OUTBOX.c.id.in_(list(ids)),
        _OUTBOX.c.claimed_by == worker[:WORKER_CHARS],
        _OUTBOX.c.status == "pending",
    )


def renew(conn: Connection, worker: str, ids: Sequence[int], until: datetime) -> set[int]:
    """Extend `worker`'s claims on these mails to `until`; the ids still its own (a mail another
    dispatcher took once the claim ran out, or marked, is no longer)."""
    mine = _mine(worker, ids)
    conn.execute(sa.update(_OUTBOX).where(*mine).values(claimed_until=until))
    return set(conn.execute(sa.select(_OUTBOX.c.id).where(*mine)).scalars())


def release(conn: Connection, worker: str, ids: Sequence[int]) -> None:
    """Give up `worker`'s claims on these mails: the next pass takes them at once."""
    conn.execute(
        sa.update(_OUTBOX).where(*_mine(worker, ids)).values(claimed_until=None, claimed_by=None)
    )


# Statements of every mark, built once: a statement built at each call is walked again for its
# cache key, which costs about as much as running it (the ids are an expanding parameter).
_PENDING_OF = sa.select(_OUTBOX.c.id, _OUTBOX.c.attempts).where(
    _OUTBOX.c.id.in_(sa.bindparam("ids", expanding=True)), _OUTBOX.c.status == "pending"
)
_PENDING_OF_LOCKED = _PENDING_OF.with_for_update()


def pending_of(conn: Connection, ids: Sequence[int], *, lock: bool) -> dict[int, int]:
    """The attempts so far of those of these mails still pending, by id (locked until the
    transaction ends when `lock`: PostgreSQL)."""
    query = _PENDING_OF_LOCKED if lock else _PENDING_OF
    return {mail: attempts for mail, attempts in conn.execute(query, {"ids": list(ids)})}


_MARK_SENT_STATEMENT = (
    sa.update(_OUTBOX)
    .where(_OUTBOX.c.id == sa.bindparam("mail"))
    .values(
        status="sent",
        sent_at=sa.bindparam("at"),
        attempts=sa.bindparam("tries"),
        claimed_until=None,
        last_error=sa.bindparam("error"),
    )
)
# Run on SQLite's cursor (`storage.prepared`): fifty marks a transaction, each with a mail's text.
_MARK_SENT = Prepared(_MARK_SENT_STATEMENT)
_MARK_SENT_RENDERED = Prepared(
    _MARK_SENT_STATEMENT.values(
        subject=sa.bindparam("subject"),
        text_body=sa.bindparam("text"),
        html_body=sa.bindparam("html"),
        template_context=None,
    )
)


def mark_sent(conn: Connection, marks: Sequence[Mapping[str, Any]]) -> None:
    """Mark mails sent, in one statement (two when some were rendered by this dispatcher): each
    mark is {"mail": id, "at": when, "tries": attempts, "error": the refusals of a partial
    delivery, or None}, and for a mail rendered at dispatch the text it was sent with: "subject",
    "text", "html" (its stored context is then cleared)."""
    whole = [m for m in marks if "text" not in m]
    rendered = [m for m in marks if "text" in m]
    _MARK_SENT.write_many(conn, whole)  # (nothing when there is none)
    _MARK_SENT_RENDERED.write_many(conn, rendered)


def process_keys(conn: Connection, ids: Iterable[int | None]) -> dict[int, str]:
    """The keys of these processes, by id."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    return {process: key for process, key in conn.execute(_PROCESS_KEYS, {"ids": wanted})}


_PROCESS_KEYS = sa.select(_PROCESS.c.id, _PROCESS.c.key).where(
    _PROCESS.c.id.in_(sa.bindparam("ids", expanding=True))
)


def locked_row(session: Session, mail_id: int) -> OutboxRow | None:
    """One mail as an ORM row, locked until the transaction ends (PostgreSQL): for the rare
    writes of a failed try."""
    query = select(OutboxRow).where(OutboxRow.id == mail_id).with_for_update()
    return written(session).exec(query).one_or_none()


def add_mails(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Put these outbox rows (every column but the id given) in the outbox, in the session's
    transaction: every mail of a transaction is written with one statement, when it ends or before
    a query of the outbox in it (`db.keep_rows`)."""
    if rows:
        keep_rows(session, _OUTBOX, rows)


def written(session: Session) -> Session:
    """The session, with the outbox rows its transaction added written (before a query reads the
    outbox in it, as the ORM flushes what it holds)."""
    write_kept(session, _OUTBOX)
    return session
