"""Named queries of the audit log: its head, its events as stored (Core rows, no ORM objects) and
the links `audit.verify` reads, the stored last verification (its checkpoint), and one process's
events: a page of those a filter keeps, newest first, or all of them a batch at a time.

Verifying reads each event's stored parts as they are and hashes them (`audit.stored_intact`): the
moment as SQLite stores it turns into the text the hash covers by moving two characters, the JSON
texts are parsed and written compact. Only an event whose hash does not match that way is rebuilt
the slow way, as an ORM row and its record (`db.row_to_event`), which says what is wrong with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect
from sqlmodel import Session, col, select

from ibmflow import audit
from ibmflow.storage.db import row_to_event, table_of
from ibmflow.storage.tables import (
    AuditCheckRow,
    AuditEventRow,
    AuditHeadRow,
    InstitutionRow,
    RequestRow,
)

_EVENTS, _HEAD = table_of(AuditEventRow), table_of(AuditHeadRow)
_REQUESTS, _INSTITUTIONS = table_of(RequestRow), table_of(InstitutionRow)
_FIELDS = (
    "seq",
    "at",
    "actor",
    "on_behalf_of",
    "action",
    "process",
    "entity",
    "before_json",
    "after_json",
    "reason",
    "prev_hash",
    "hash",
)
# `at` as the driver gives it: SQLite's text ("2026-03-02 10:00:00.000000"), PostgreSQL's datetime.
_STORED = sa.select(
    *(
        sa.type_coerce(_EVENTS.c.at, sa.String).label("at") if name == "at" else _EVENTS.c[name]
        for name in _FIELDS
    )
).order_by(_EVENTS.c.seq)
_HEAD_ROW = sa.select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)
_HASH_AT = sa.select(_EVENTS.c.hash)
_COUNT = sa.select(sa.func.count()).select_from(_EVENTS)

StoredRow = Sequence[Any]
"""One stored event, its columns in the order of `_FIELDS`."""


def snapshot(session: Session) -> Connection:
    """The session's connection, reading one snapshot of the database until the session ends:
    SQLite's read transaction already does; PostgreSQL needs REPEATABLE READ for it."""
    if session.get_bind().dialect.name == "postgresql":
        return session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    return session.connection()


def head(conn: Connection) -> tuple[int, str] | None:
    """The last number and hash the head row records (None before the first event)."""
    row = conn.execute(_HEAD_ROW).first()
    return None if row is None else (row.seq, row.hash)


def count(conn: Connection) -> int:
    """How many events are stored."""
    return int(conn.execute(_COUNT).scalar_one())


def hash_at(conn: Connection, seq: int) -> str | None:
    """The stored hash of event `seq` (None when there is none)."""
    row = conn.execute(_HASH_AT.where(_EVENTS.c.seq == seq)).first()
    return None if row is None else str(row.hash)


def stored_batches(
    conn: Connection, batch: int = 5000, after: int = 0
) -> Iterator[list[StoredRow]]:
    """Every stored event numbered after `after`, in storage order (by number), `batch` at a time,
    as the driver's tuples (no column of `_STORED` has a result processor: its rows need no `Row`
    objects)."""
    query = _STORED.limit(batch).where(_EVENTS.c.seq > after) if after else _STORED.limit(batch)
    while True:
        with conn.execute(query) as result:
            rows: list[StoredRow] = list(result.cursor.fetchall())
        if not rows:
            return
        yield rows
        query = _STORED.limit(batch).where(_EVENTS.c.seq > rows[-1][0])


def _moment(dialect: Dialect) -> Callable[[Any], Any] | None:
    """How the ORM turns a stored `at` into a datetime, on this database."""
    return _EVENTS.c.at.type.dialect_impl(dialect).result_processor(dialect, None)


def _quick(row: StoredRow) -> str:
    """The moment of an intact stored event as `audit.record_to_json` writes it, when the quick way
    (`audit.stored_intact`) proves it intact; "" when it cannot tell (then the slow way decides)."""
    seq, at, actor, on_behalf_of, action, process, entity, before, after, reason, prev, digest = row
    # The usual stored forms: SQLite's "2026-03-02 10:00:00.000000", PostgreSQL's aware datetime.
    if at.__class__ is str:
        if len(at) != 26 or at[10] != " ":
            return ""
        text = f"{at[:10]}T{at[11:]}Z"
    elif isinstance(at, datetime) and at.tzinfo is not None:
        text = audit.utc_text(at)
    else:
        return ""
    if audit.stored_intact(
        digest, prev, seq, text, actor, on_behalf_of, action, process, entity, before, after, reason
    ):
        return text
    return ""


def follow(
    dialect: Dialect, rows: Sequence[StoredRow], tail: tuple[int, str]
) -> tuple[int, str] | None:
    """Follow stored events on from `tail` (the number and hash of the event before them), keeping
    nothing: the number and hash of the last when each is numbered after its predecessor, links to
    it and is intact (what `audit.verify` finds nothing wrong with); None at the first that is not.
    """
    seq, prev = tail
    moment = _moment(dialect)
    for row in rows:
        if row[0] != seq + 1 or row[10] != prev:
            return None
        if not _quick(row) and not audit.intact(_rebuilt(row, moment)):
            return None
        seq, prev = row[0], row[11]
    return seq, prev


def links(dialect: Dialect, rows: Sequence[StoredRow]) -> list[audit.Link]:
    """The links of stored events for `audit.verify`: those the quick way proves intact as
    `CheckedLink`s, the others rebuilt the slow way."""
    moment, out = _moment(dialect), []
    for row in rows:
        text = _quick(row)
        link = audit.CheckedLink(row[0], row[10], row[11], True, row[4], row[5], text)
        out.append(link if text else _rebuilt(row, moment))
    return out


def _rebuilt(row: StoredRow, moment: Callable[[Any], Any] | None) -> audit.Link:
    """The event as the ORM reads it; an unreadable link when even that fails."""
    values = dict(zip(_FIELDS, row, strict=True))
    try:
        if moment is not None:
            values["at"] = moment(values["at"])
        return row_to_event(AuditEventRow(**values))
    except (ValueError, TypeError) as exc:
        return audit.CheckedLink(
            values["seq"],
            values["prev_hash"],
            values["hash"],
            False,
            str(values["action"]),
            values["process"] if isinstance(values["process"], str) else None,
            str(row[1]),
            unreadable=str(exc),
        )


def of_process(session: Session, key: str) -> list[audit.ChainedEvent]:
    """All of a process's events, oldest first."""
    query = select(AuditEventRow).where(AuditEventRow.process == key)
    return [row_to_event(row) for row in session.exec(query.order_by(col(AuditEventRow.seq)))]


@dataclass(frozen=True)
class EventFilter:
    """Which of a process's events to read: of one action (or not of `hidden` ones), whose actor
    (or the person acted for) contains `actor`, about one kind of entity ("request" for
    "request:42"), at or after `since` and before `until` (UTC)."""

    action: str | None = None
    hidden: tuple[str, ...] = ()
    actor: str | None = None
    entity_kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _where(key: str, wanted: EventFilter) -> list[sa.ColumnElement[bool]]:
    ev = _EVENTS.c
    out: list[sa.ColumnElement[bool]] = [ev.process == key]
    if wanted.action is not None:
        out.append(ev.action == wanted.action)
    elif wanted.hidden:
        out.append(ev.action.not_in(wanted.hidden))
    if wanted.actor:
        pattern = f"%{_escaped(wanted.actor.lower())}%"
        out.append(
            sa.or_(
                sa.func.lower(ev.actor).like(pattern, escape="\\"),
                sa.func.lower(ev.on_behalf_of).like(pattern, escape="\\"),
            )
        )
    if wanted.entity_kind is not None:
        out.append(ev.entity.like(f"{_escaped(wanted.entity_kind)}:%", escape="\\"))
    if wanted.since is not None:
        out.append(ev.at >= wanted.since)
    if wanted.until is not None:
        out.append(ev.at < wanted.until)
    return out


def count_matching(session: Session, key: str, wanted: EventFilter) -> int:
    """How many of a process's events the filter keeps."""
    query = sa.select(sa.func.count()).select_from(_EVENTS).where(*_where(key, wanted))
    return int(session.connection().execute(query).scalar_one())


def newest_matching(
    session: Session, key: str, wanted: EventFilter, offset: int, limit: int
) -> list[audit.ChainedEvent]:
    """`limit` of the events the filter keeps after the first `offset`, newest first."""
    query = select(AuditEventRow).where(*_where(key, wanted))
    query = query.order_by(col(AuditEventRow.seq).desc()).offset(offset).limit(limit)
    return [row_to_event(row) for row in session.exec(query)]


def matching_after(
    session: Session, key: str, wanted: EventFilter, after: int, upto: int, limit: int
) -> list[audit.ChainedEvent]:
    """Up to `limit` of the events the filter keeps numbered after `after` and up to `upto`, in
    the chain's order (an export reads them a batch at a time)."""
    query = select(AuditEventRow).where(
        *_where(key, wanted), col(AuditEventRow.seq) > after, col(AuditEventRow.seq) <= upto
    )
    query = query.order_by(col(AuditEventRow.seq)).limit(limit)
    return [row_to_event(row) for row in session.exec(query)]


def request_institutions(session: Session, process_id: int, ids: Sequence[int]) -> dict[int, str]:
    """The short name of the institution of each of these requests of a process, by request id."""
    if not ids:
        return {}
    query = (
        sa.select(_REQUESTS.c.id, _INSTITUTIONS.c.short_name)
        .join(_INSTITUTIONS, _INSTITUTIONS.c.id == _REQUESTS.c.institution_id)
        .where(_REQUESTS.c.process_id == process_id, _REQUESTS.c.id.in_(set(ids)))
    )
    return {int(i): str(name) for i, name in session.connection().execute(query)}


def last_seq(session: Session) -> int:
    """The number of the last event (0 before the first)."""
    found = session.connection().execute(sa.select(sa.func.max(_EVENTS.c.seq))).scalar_one()
    return int(found or 0)


def last_check(session: Session) -> AuditCheckRow | None:
    """The stored last verification (None before the first)."""
    return session.get(AuditCheckRow, 1)


def stored_for_update(session: Session) -> AuditCheckRow | None:
    """The stored last verification, locked until the transaction ends (None before the first)."""
    return session.get(AuditCheckRow, 1, with_for_update=True)


def store_check(session: Session, check: AuditCheckRow) -> None:
    """Keep `check` as the last verification, unless it would hide what the stored one says: a
    verification from the first event always replaces it, one that went on from a checkpoint
    replaces only an intact one that reached no further (two page views at once, one behind)."""
    stored = stored_for_update(session)
    if stored is None:
        try:
            with session.begin_nested():  # a savepoint: another one may write the first row too
                session.add(check)
        except sa.exc.IntegrityError:  # it did, since the read above: weigh against its row
            stored = stored_for_update(session)  # (the savepoint's rollback dropped `check`)
        if stored is None:
            return
    if not check.full and (not stored.ok or stored.head_seq > check.head_seq):
        return
    for name in AuditCheckRow.model_fields:
        if name != "id" and (name != "full_at" or check.full):
            setattr(stored, name, getattr(check, name))
