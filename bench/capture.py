"""Fair floors: capture the SQL ibmflow executes and replay it with the bare driver.

A `Capture` listens on the Database's engines (SQLAlchemy's `before_cursor_execute`, `commit` and
`rollback` events) and keeps, in order, every statement with the parameters as the driver received
them, each transaction's end, and the start and end of the timed parts (`with capture.timed():`).
`replay_sqlite` / `replay_postgres` run that log with the bare `sqlite3` / `psycopg` on a copy of the
database taken before the captured work: the same statements, the same rows, the same transaction
boundaries (on SQLite the captured `BEGIN IMMEDIATE` / `BEGIN` themselves), one driver connection
per engine as ibmflow had. Only the statements inside the timed parts are timed, the way the
benchmark times ibmflow, so the replay is the least the same work can cost with the bare driver.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine.interfaces import ExecuteStyle

from ibmflow.storage.db import Database

SQLITE_PRAGMAS = (  # as ibmflow/storage/db.py sets them on every connection
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=15000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=FULL",
)


@dataclass(frozen=True)
class Op:
    """One entry of the log: `sql` (statement, parameters, many), `commit`, `rollback`, `start`, `stop`."""

    kind: str
    engine: str = ""
    statement: str = ""
    parameters: Any = None
    many: bool = False


@dataclass
class Replayed:
    """What a replay did: seconds inside the timed parts, statements and transactions it ran there."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process's CPU time in the timed parts (not the server's)
    statements: int = 0
    commits: int = 0
    timed_parts: int = 0


@dataclass
class Capture:
    """The log of what ibmflow executed on `db` while attached (see the module's docstring)."""

    db: Database
    ops: list[Op] = field(default_factory=list)
    _listeners: list[tuple[sa.Engine, str, Any]] = field(default_factory=list)

    def attach(self) -> Capture:
        engines = {"write": self.db.engine}
        if self.db.read_engine is not self.db.engine:
            engines["read"] = self.db.read_engine
        for label, engine in engines.items():
            self._listen(engine, "before_cursor_execute", self._on_execute(label))
            self._listen(engine, "commit", self._on_end(label, "commit"))
            self._listen(engine, "rollback", self._on_end(label, "rollback"))
        return self

    def detach(self) -> None:
        for engine, name, fn in self._listeners:
            event.remove(engine, name, fn)
        self._listeners.clear()

    def __enter__(self) -> Capture:
        return self.attach()

    def __exit__(self, *_: object) -> None:
        self.detach()

    @contextmanager
    def timed(self) -> Iterator[None]:
        """Mark the statements run in the block as timed (the replay times them, and only them)."""
        self.ops.append(Op("start"))
        try:
            yield
        finally:
            self.ops.append(Op("stop"))

    def clear(self) -> None:
        self.ops.clear()

    def _listen(self, engine: sa.Engine, name: str, fn: Any) -> None:
        event.listen(engine, name, fn)
        self._listeners.append((engine, name, fn))

    def _on_execute(self, label: str) -> Any:
        def record(
            _conn: Any, _cursor: Any, statement: str, parameters: Any, context: Any, many: bool
        ) -> None:
            # insertmanyvalues batches come flagged `many` but run as one execute each. A prepared
            # statement (`ibmflow.storage.prepared`) has no execution context: its `many` is an
            # executemany.
            many = many and (
                context is None or context.execute_style is not ExecuteStyle.INSERTMANYVALUES
            )
            params = list(parameters) if many else parameters
            self.ops.append(Op("sql", label, statement, params, many))

        return record

    def _on_end(self, label: str, kind: str) -> Any:
        def record(_conn: Any) -> None:
            self.ops.append(Op(kind, label))

        return record

    def summary(self) -> dict[str, int]:
        """How many statements and transaction ends the log holds, in all and in the timed parts."""
        timed = False
        counts = {"statements": 0, "timed_statements": 0, "commits": 0, "timed_commits": 0}
        for op in self.ops:
            if op.kind in ("start", "stop"):
                timed = op.kind == "start"
            elif op.kind in ("sql", "commit"):
                name = "statements" if op.kind == "sql" else "commits"
                counts[name] += 1
                counts[f"timed_{name}"] += timed
        return counts


def sqlite_copy(source: Path, target: Path) -> Path:
    """A consistent copy of a live SQLite file (the backup API, WAL included)."""
    target.unlink(missing_ok=True)
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return target


def sqlite_connection(path: Path) -> sqlite3.Connection:
    """The bare driver with ibmflow's pragmas, in autocommit mode: BEGIN comes from the log."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=15)
    for pragma in SQLITE_PRAGMAS:
        conn.execute(pragma)
    return conn


def replay_sqlite(ops: Sequence[Op], path: Path) -> Replayed:
    """Run the log on the SQLite file at `path` (a copy taken before the captured work)."""
    conns: dict[str, sqlite3.Connection] = {}

    def connection(label: str) -> sqlite3.Connection:
        if label not in conns:
            conns[label] = sqlite_connection(path)
        return conns[label]

    def run(op: Op) -> None:
        conn = connection(op.engine)
        if op.kind == "sql":
            if op.statement.lstrip().upper().startswith("BEGIN") and conn.in_transaction:
                conn.rollback()  # the pool's reset on return ended it without an event
            if op.many:
                conn.executemany(op.statement, op.parameters)
            else:
                conn.execute(op.statement, op.parameters).fetchall()
        elif op.kind == "commit":
            conn.commit()
        else:
            conn.rollback()

    try:
        return _replay(ops, run)
    finally:
        for conn in conns.values():
            conn.rollback()
            conn.close()


def replay_postgres(ops: Sequence[Op], url: str) -> Replayed:
    """Run the log with psycopg on the PostgreSQL database at `url` (a copy of the original)."""
    import psycopg

    conns: dict[str, psycopg.Connection[Any]] = {}
    plain = url.replace("postgresql+psycopg://", "postgresql://")

    def run(op: Op) -> None:
        if op.engine not in conns:
            conns[op.engine] = psycopg.connect(plain)
        conn = conns[op.engine]
        if op.kind == "sql":
            with conn.cursor() as cur:
                if op.many:
                    cur.executemany(op.statement, op.parameters)
                else:
                    cur.execute(op.statement, op.parameters)
                    if cur.description is not None:
                        cur.fetchall()
        elif op.kind == "commit":
            conn.commit()
        else:
            conn.rollback()

    try:
        return _replay(ops, run)
    finally:
        for conn in conns.values():
            conn.close()


def _replay(ops: Sequence[Op], run: Any) -> Replayed:
    done = Replayed()
    started: float | None = None
    cpu = 0.0
    for op in ops:
        if op.kind == "start":
            started, cpu = time.perf_counter(), time.process_time()
            done.timed_parts += 1
        elif op.kind == "stop":
            if started is not None:
                done.seconds += time.perf_counter() - started
                done.cpu_seconds += time.process_time() - cpu
            started = None
        else:
            run(op)
            if started is not None:
                done.statements += op.kind == "sql"
                done.commits += op.kind == "commit"
    return done


def sqlite_differences(first: Path, second: Path) -> list[str]:
    """The tables whose rows differ between two SQLite files (empty when they hold the same rows)."""
    differ = []
    a, b = sqlite3.connect(first), sqlite3.connect(second)
    try:
        names = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        tables = [n for (n,) in a.execute(names)]
        if tables != [n for (n,) in b.execute(names)]:
            return ["the list of tables"]
        for table in tables:
            query = f'SELECT * FROM "{table}" ORDER BY 1'
            if a.execute(query).fetchall() != b.execute(query).fetchall():
                differ.append(table)
    finally:
        a.close()
        b.close()
    return differ
