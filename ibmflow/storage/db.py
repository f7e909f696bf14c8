"""Database engines and the unit of work: one transaction per command, audit events appended inside it
and the rows kept for its end (a command's mails) written before it commits.

SQLite (the embedded default) runs in WAL mode with a busy timeout, and every write transaction starts
with `BEGIN IMMEDIATE`, so two writers queue instead of failing half-way. PostgreSQL (psycopg 3) goes
through the same code; the audit head row is locked `FOR UPDATE`, which serialises appends to the chain.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import configure_mappers, make_transient_to_detached
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlmodel import Session, SQLModel

from ibmflow import audit
from ibmflow.errors import DatabaseNotReady, IbmflowError
from ibmflow.storage.columns import json_text
from ibmflow.storage.prepared import Prepared, run_sql
from ibmflow.storage.tables import AuditEventRow, AuditHeadRow


def _sqlite_engine(url: str, busy_timeout_ms: int, begin: str) -> Engine:
    path = url.removeprefix("sqlite:///")
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url, connect_args={"timeout": busy_timeout_ms / 1000}, json_serializer=json_text
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (the driver's implicit BEGIN is DEFERRED).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        run_sql(conn, begin)  # `conn.exec_driver_sql(begin)` without its execution context

    return engine


class Database:
    """The engines of one database: writes in immediate transactions, reads in deferred ones."""

    def __init__(self, url: str, *, sqlite_busy_timeout_ms: int = 15000) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = _sqlite_engine(url, sqlite_busy_timeout_ms, "BEGIN IMMEDIATE")
            self.read_engine = _sqlite_engine(url, sqlite_busy_timeout_ms, "BEGIN")
        else:
            self.engine = sa.create_engine(url, pool_pre_ping=True)
            self.read_engine = self.engine

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        self.read_engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction: committed when the block ends, rolled back on any error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                with session.begin():
                    # Its connection, begun (on SQLite: the write lock taken), for `connection`.
                    session.info[_CONNECTION] = session.connection()
                    tx = Tx(session)
                    yield tx
                    session.flush()  # what the ORM holds first: kept rows may refer to it
                    write_kept(session)
                    tx.write_audit()
            except OperationalError as exc:
                raise _explain(exc) from exc
            except ProgrammingError as exc:
                if _undefined_table(exc):
                    raise DatabaseNotReady(_OLD_SCHEMA) from exc
                raise

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session (nothing it does is committed)."""
        with Session(self.read_engine, expire_on_commit=False) as session:
            try:
                yield session
                session.rollback()
            except OperationalError as exc:
                raise _explain(exc) from exc
            except ProgrammingError as exc:
                if _undefined_table(exc):
                    raise DatabaseNotReady(_OLD_SCHEMA) from exc
                raise


_OLD_SCHEMA = "the database has no ibmflow schema yet, or an older one; run `ibmflow init`."


def _undefined_table(exc: ProgrammingError) -> bool:
    """PostgreSQL reports a missing table (a schema older than this ibmflow) as a programming
    error, SQLSTATE 42P01, and a missing column (a table older than this ibmflow) as 42703; any
    other programming error is a bug and stays one."""
    return getattr(exc.orig, "sqlstate", None) in ("42P01", "42703")  # table, column missing


def _explain(exc: OperationalError) -> IbmflowError:
    text = str(exc.orig)
    if "no such column" in text:
        return DatabaseNotReady(_OLD_SCHEMA)
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        return DatabaseNotReady("the database has no ibmflow schema yet; run `ibmflow init` first.")
    if "database is locked" in text:
        return IbmflowError(
            "the database stayed locked by another ibmflow command longer than the "
            "busy timeout; try again, or raise database.sqlite_busy_timeout_ms."
        )
    return IbmflowError(f"database error: {text}")


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table of a table class, for statements that need no ORM objects."""
    table = sa.inspect(model).local_table
    assert isinstance(table, sa.Table)
    return table


def record_columns(table: sa.Table, record: type) -> list[sa.Column[Any]]:
    """The columns of `table` that a record dataclass holds, in the record's order (a select of
    them makes the record with `Record(*row)`)."""
    return [table.c[f.name] for f in dataclasses.fields(record)]


_CONNECTION = "ibmflow.connection"  # session.info: the connection of a command's transaction


def connection(session: Session) -> sa.Connection:
    """The connection of the session's transaction, as `session.connection()` gives it; a command's
    transaction (`Database.transaction`) keeps it from its start, so that the dozen statements
    of a step do not each ask the session for it again."""
    conn: sa.Connection | None = session.info.get(_CONNECTION)
    return session.connection() if conn is None else conn


_KEPT = "ibmflow.kept"  # session.info: the rows `keep_rows` holds for the transaction's end


def keep_rows(session: Session, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` (dictionaries of the same columns) into `table` in the session's transaction,
    later: with the other rows kept for `table` in it, in one statement, before the transaction
    commits (`Database.transaction`), or before anything in it reads `table` (`write_kept`, which
    the queries of such a table call first, as the ORM flushes before a query). A command's mails
    go out this way: one insert for all of them, not one per notice. Inside a savepoint the rows
    are written at once, so that its rollback drops them (`Tx.savepoint` writes what was kept
    before it first)."""
    if session.in_nested_transaction():
        connection(session).execute(sa.insert(table), rows)
        return
    kept: dict[sa.Table, list[Mapping[str, Any]]] = session.info.setdefault(_KEPT, {})
    kept.setdefault(table, []).extend(rows)


def write_kept(session: Session, table: sa.Table | None = None) -> None:
    """Write the rows kept in the session's transaction (`keep_rows`; only those of `table` if
    given), in the order they were kept."""
    kept: dict[sa.Table, list[Mapping[str, Any]]] | None = session.info.get(_KEPT)
    if not kept:
        return
    for each in [table] if table is not None else list(kept):
        rows = kept.pop(each, None)
        if rows:
            _insert_into(each).write_many(connection(session), rows)


def _insert_into(table: sa.Table) -> Prepared:
    """The insert of rows kept for `table`, prepared once."""
    prepared = _INSERTS.get(table)
    if prepared is None:
        prepared = _INSERTS[table] = Prepared(sa.insert(table))
    return prepared


_INSERTS: dict[sa.Table, Prepared] = {}


_Model = TypeVar("_Model", bound=SQLModel)


def loaded(model: type[_Model], values: Mapping[str, Any]) -> _Model:
    """An instance of a table class holding `values` (every column, its id included) as if the ORM
    had loaded it, but in no session (detached): read by Core or just inserted, it is built the way
    the ORM builds what it loads, without the class's constructor (no validation: the values come
    from the database or were written to it as they are) and without the ORM's per-row loading."""
    if model not in _CONFIGURED:  # its attributes are set up by the first ORM query, or here
        configure_mappers()
        _CONFIGURED.add(model)
    row: _Model = manager_of_class(model).new_instance()
    row.__dict__.update(values)
    make_transient_to_detached(row)
    return row


_CONFIGURED: set[type[SQLModel]] = set()


_HEAD, _EVENTS = table_of(AuditHeadRow), table_of(AuditEventRow)
# The head row is locked until the transaction ends (PostgreSQL; SQLite's BEGIN IMMEDIATE already
# holds the write lock), so that two transactions never append after the same event.
_READ_HEAD = Prepared(sa.select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update())
_MOVE_HEAD = Prepared(sa.update(_HEAD).where(_HEAD.c.id == 1))
_ADD_HEAD = Prepared(sa.insert(_HEAD))
_ADD_EVENT = Prepared(sa.insert(_EVENTS))


class Tx:
    """What a command sees inside its transaction: the session and the audit chain."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._acting: tuple[str, datetime, str | None] | None = None
        self._pending: list[audit.AuditRecord] = []

    def acting(self, actor: str, at: datetime, process: str | None = None) -> Tx:
        """Say who acts, when, and on which process (its key), for the `record` calls that follow:
        what every event of one command shares. Returns the transaction, for
        `tx.acting(actor, now, key).record(...)`; call it again when another actor follows."""
        self._acting = (actor, at, process)
        return self

    def record(
        self,
        action: str,
        entity: str | None = None,
        *,
        after: audit.JSONValue = None,
        before: audit.JSONValue = None,
        reason: str | None = None,
        on_behalf_of: str | None = None,
    ) -> None:
        """Append one event to the audit chain, stamped with what `acting` said: `action` done to
        `entity` (`request:42`), with the state `before` and `after` it and the reason given."""
        if self._acting is None:
            raise RuntimeError("tx.record needs tx.acting(actor, at, process) first")
        actor, at, process = self._acting
        self.audit(
            audit.AuditRecord(
                at=at,
                actor=actor,
                action=action,
                process=process,
                on_behalf_of=on_behalf_of,
                entity=entity,
                before=before,
                after=after,
                reason=reason,
            )
        )

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A savepoint: what the block writes is rolled back if it raises, and only that. What
        the transaction kept for its end (mails, audit events) is written before it begins."""
        self.session.flush()
        write_kept(self.session)
        self.write_audit()
        with self.session.begin_nested():
            yield

    def audit_many(self, records: Sequence[audit.AuditRecord]) -> None:
        """Append events to the audit chain in order, in this transaction. They are written when
        the transaction commits, all at once (one read and one move of the head, one multi-row
        insert); inside a savepoint (`savepoint`) they are written at once, so that its rollback
        drops them."""
        self._pending.extend(records)
        if self.session.in_nested_transaction():
            self.write_audit()

    # After audit_many: inside the class, `audit` names this method, not the module.
    def audit(self, record: audit.AuditRecord) -> None:
        """Append one event to the audit chain, in this transaction (see `audit_many`)."""
        self.audit_many([record])

    def write_audit(self) -> None:
        """Write the events appended so far to the chain; the unit of work calls it before commit."""
        records, self._pending = self._pending, []
        if not records:
            return
        # Write what the command added first, as the ORM read of the head used to (autoflush).
        self.session.flush()
        conn = connection(self.session)
        head = _READ_HEAD.first(conn)
        seq, prev_hash = (0, audit.GENESIS_HASH) if head is None else (head.seq, head.hash)
        rows = []
        for record in records:
            seq += 1
            digest = audit.event_hash(prev_hash, seq, record)
            rows.append(
                {
                    "seq": seq,
                    "at": record.at,
                    "actor": record.actor,
                    "on_behalf_of": record.on_behalf_of,
                    "action": record.action,
                    "process": record.process,
                    "entity": record.entity,
                    "before_json": _dump(record.before),
                    "after_json": _dump(record.after),
                    "reason": record.reason,
                    "prev_hash": prev_hash,
                    "hash": digest,
                }
            )
            prev_hash = digest
        _ADD_EVENT.write_many(conn, rows)
        if head is None:
            _ADD_HEAD.write(conn, {"id": 1, "seq": seq, "hash": prev_hash})
        else:
            _MOVE_HEAD.write(conn, {"seq": seq, "hash": prev_hash})


def _dump(value: audit.JSONValue) -> str | None:
    # Stored as it is hashed, so that verifying hashes the text as it is (`audit.stored_intact`).
    return None if value is None else audit.canonical_json(value)


def _load(text: str | None) -> audit.JSONValue:
    """A stored JSON value; text that no longer parses is kept as found, so its hash fails."""
    if text is None:
        return None
    try:
        value: audit.JSONValue = json.loads(text)
    except ValueError:
        return {"unreadable stored text": text}
    return value


def row_to_event(row: AuditEventRow) -> audit.ChainedEvent:
    """The chained event a stored row holds (as stored: tampering shows up in verification)."""
    record = audit.AuditRecord(
        at=row.at,
        actor=row.actor,
        action=row.action,
        process=row.process,
        on_behalf_of=row.on_behalf_of,
        entity=row.entity,
        before=_load(row.before_json),
        after=_load(row.after_json),
        reason=row.reason,
    )
    return audit.ChainedEvent(seq=row.seq, record=record, prev_hash=row.prev_hash, hash=row.hash)
