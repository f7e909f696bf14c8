"""Statements of the hot paths, compiled once per database and run on the driver's cursor on SQLite.

`Connection.execute` builds an execution context around every statement it runs: it looks the
compiled form up by cache key, sets up the parameters, the cursor, the result and its metadata. For
the two dozen fixed statements of a step that costs about as much as SQLite running them (measured:
some 40 µs a statement beside the driver's own). A `Prepared` statement keeps what that context
works out (its SQL, where each parameter comes from and how its column type converts it, how each
result column converts back, the keys of its rows) and on SQLite hands the values to the driver's
cursor itself, inside the connection's transaction, as SQLAlchemy would:

- parameters and results are converted by the same type processors SQLAlchemy uses (`UTCDateTime`,
  dates, JSON, booleans), so the rows written and read are the same;
- rows come back as named tuples of the statement's column keys (`row.email`, `row[0]`,
  `row._asdict()`), which SQLAlchemy's rows also are;
- driver errors are raised as SQLAlchemy raises them (`sqlalchemy.exc.DBAPIError` and its kinds);
- `before_cursor_execute` listeners are told of each statement (the benchmarks' capture, tests that
  count statements).

A statement whose parameters SQLAlchemy computes at execution time (Python-side column defaults,
expanding `IN` lists, callables) is run through `Connection.execute`, and so is every statement on
PostgreSQL, where a round trip costs more than the context and SQLAlchemy batches psycopg's inserts.
Both paths return the same shapes.
"""

from __future__ import annotations

import keyword
import operator
import re
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

_Processor = Callable[[Any], Any] | None
_NO_DEFAULT = object()
# `insert_many`: the VALUES clause of a one-row insert of plain parameters, and the most rows it
# writes itself (a round's requests are a few dozen at most; SQLAlchemy runs larger batches, paged
# by its own rules).
_VALUES = re.compile(r" VALUES (\((?:\?, )*\?\))(?: RETURNING |$)")
_MANY_VALUES_ROWS = 100


@dataclass(frozen=True, slots=True)
class _Plan:
    """How one statement runs on SQLite's cursor."""

    sql: str
    values: Callable[[Mapping[str, Any]], tuple[Any, ...]]  # the parameters, in order, converted
    row: Callable[[Sequence[Any]], Any] | None  # a select's row (a named tuple) from its values
    # The columns that convert, (index, processor) in column order; None when no column converts.
    results: tuple[tuple[int, Callable[[Any], Any]], ...] | None


class Prepared:
    """A Core statement that a hot path runs again and again (module constants, built once).

    `rows`, `first`, `write`, `write_many`, `insert` and `insert_many` run it in `conn`'s
    transaction."""

    __slots__ = ("_plans", "statement")

    def __init__(self, statement: sa.Executable) -> None:
        self.statement = statement
        # One plan per dialect and, for inserts and updates, per set of columns given (SQLAlchemy
        # compiles an INSERT for the columns its parameters name); None: run by `Connection.execute`.
        self._plans: dict[tuple[str, tuple[str, ...]], _Plan | None] = {}

    def rows(self, conn: sa.Connection, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Every row of a select."""
        plan = self._plan(conn.dialect, ())
        if plan is None:
            return list(conn.execute(self.statement, params))
        fetched = _run(conn, plan, params or {}).fetchall()
        assert plan.row is not None
        if plan.results is None:  # nothing to convert: no call a row
            return list(map(plan.row, fetched))
        # `_row` for each row, written out: the facts of a step read a few hundred rows.
        converting, make = plan.results, plan.row
        out = []
        for fetched_row in fetched:
            values = list(fetched_row)
            for i, convert in converting:
                values[i] = convert(values[i])
            out.append(make(values))
        return out

    def first(self, conn: sa.Connection, params: Mapping[str, Any] | None = None) -> Any | None:
        """The first row of a select, or None."""
        plan = self._plan(conn.dialect, ())
        if plan is None:
            return conn.execute(self.statement, params).first()
        values = _run(conn, plan, params or {}).fetchone()
        return None if values is None else _row(plan, values)

    def write(self, conn: sa.Connection, params: Mapping[str, Any] | None = None) -> int:
        """Run an update, insert or delete once; the number of rows it touched."""
        given = params or {}
        plan = self._plan(conn.dialect, tuple(given))
        if plan is None:
            return int(conn.execute(self.statement, given).rowcount)
        return int(_run(conn, plan, given).rowcount)

    def insert(self, conn: sa.Connection, params: Mapping[str, Any]) -> int:
        """Insert one row; its new primary key."""
        plan = self._plan(conn.dialect, tuple(params))
        if plan is None:
            key = conn.execute(self.statement, params).inserted_primary_key
            assert key is not None
            return int(key[0])
        return int(_run(conn, plan, params).lastrowid)

    def write_many(self, conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run an insert or update once per row, as one `executemany` (rows of the same keys)."""
        if not rows:
            return
        plan = self._plan(conn.dialect, tuple(rows[0]))
        if plan is None:
            conn.execute(self.statement, list(rows))
            return
        _run_many(conn, plan, rows)

    def insert_many(self, conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """Insert rows (of the same keys) with one multi-row `INSERT ... VALUES (...), (...)
        RETURNING` of an insert that returns its primary key, as SQLAlchemy's "insertmanyvalues"
        writes it on SQLite for a few rows; the keys, in the order the driver returns them."""
        if not rows:
            return []
        plan = self._plan(conn.dialect, tuple(rows[0]))
        values_clause = None if plan is None else _VALUES.search(plan.sql)
        if plan is None or values_clause is None or len(rows) > _MANY_VALUES_ROWS:
            return list(conn.execute(self.statement, list(rows)).scalars())
        one_row = values_clause.group(1)  # "(?, ?, ...)"
        sql = "".join(
            (
                plan.sql[: values_clause.start(1)],
                ", ".join([one_row] * len(rows)),
                plan.sql[values_clause.end(1) :],
            )
        )
        values = tuple(v for row in rows for v in plan.values(row))
        return [key for (key,) in _execute(conn, replace(plan, sql=sql), values, many=False)]

    def _plan(self, dialect: Dialect, keys: tuple[str, ...]) -> _Plan | None:
        try:
            return self._plans[dialect.name, keys]
        except KeyError:
            plan = _compile(self.statement, dialect, keys) if dialect.name == "sqlite" else None
            self._plans[dialect.name, keys] = plan
            return plan


def _compile(statement: sa.Executable, dialect: Dialect, keys: tuple[str, ...]) -> _Plan | None:
    """The plan of `statement` on `dialect`, or None when SQLAlchemy must run it (see the module)."""
    compiled = statement.compile(dialect=dialect, column_keys=list(keys) or None)  # type: ignore[attr-defined]
    if compiled.insert_prefetch or compiled.update_prefetch or compiled.positiontup is None:
        return None  # defaults computed in Python at execution, or a named paramstyle
    by_name = {name: bind for bind, name in compiled.bind_names.items()}
    binds = []
    for name in compiled.positiontup:
        bind = by_name.get(name)
        if bind is None or bind.expanding or bind.callable is not None:
            return None  # an IN list expanded at execution time, a value computed then
        default = _NO_DEFAULT if bind.required else bind.value
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        binds.append((bind.key, default, processor))
    row: Callable[[Sequence[Any]], Any] | None = None
    results: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None
    if isinstance(statement, sa.SelectBase):
        names = list(statement.selected_columns.keys())
        if any(not n.isidentifier() or keyword.iskeyword(n) or n.startswith("_") for n in names):
            return None
        row = _row_type(names)
        processors = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None)
            for c in statement.selected_columns
        )
        converting = tuple((i, p) for i, p in enumerate(processors) if p is not None)
        results = converting or None
    return _Plan(sql=compiled.string, values=_parameters(binds), row=row, results=results)


def _row_type(names: list[str]) -> Callable[[Sequence[Any]], Any]:
    """What makes a select's row from its values: a named tuple of its column keys, as SQLAlchemy
    keys them, made by `tuple.__new__` itself (a fetched row is a tuple already)."""
    return partial(tuple.__new__, namedtuple("Row", names))  # names known only at run time


def _parameters(
    binds: Sequence[tuple[str, Any, _Processor]],
) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A function giving the parameters of one execution in order, from the values given by key
    (or the statement's own), each converted by its column type's processor. A row of a mail or
    an audit event has a dozen columns and a step writes some fifty rows: the keys are taken
    in one call and only the columns that convert are converted."""
    keys = tuple(key for key, _default, _processor in binds)
    defaults = {key: d for key, d, _processor in binds if d is not _NO_DEFAULT}
    converting = tuple((i, p) for i, (_key, _default, p) in enumerate(binds) if p is not None)
    if not keys:
        return lambda _params: ()
    take = operator.itemgetter(*keys)
    single = len(keys) == 1

    def values(params: Mapping[str, Any]) -> tuple[Any, ...]:
        if defaults and not defaults.keys() <= params.keys():
            params = {**defaults, **params}
        try:
            found = take(params)
        except KeyError as exc:  # as SQLAlchemy says it
            missing = sa.exc.InvalidRequestError(
                f"A value is required for bind parameter {exc.args[0]!r}"
            )
            raise sa.exc.StatementError(str(missing), None, dict(params), missing) from None
        if single:
            found = (found,)
        if not converting:
            return found  # type: ignore[no-any-return]
        out = list(found)
        for i, process in converting:
            out[i] = process(out[i])
        return tuple(out)

    return values


def _cursor(conn: sa.Connection) -> Any:
    if not conn.in_transaction():
        conn.begin()  # as `Connection.execute` begins one (its BEGIN comes from the engine's event)
    # SQLite's driver connection is the DB-API connection itself (no adaptation layer).
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


def _run(conn: sa.Connection, plan: _Plan, params: Mapping[str, Any]) -> Any:
    return _execute(conn, plan, plan.values(params), many=False)


def _run_many(conn: sa.Connection, plan: _Plan, rows: Sequence[Mapping[str, Any]]) -> None:
    _execute(conn, plan, [plan.values(row) for row in rows], many=True)


def _execute(conn: sa.Connection, plan: _Plan, values: Any, *, many: bool) -> Any:
    """`plan`'s SQL with these values (one execution's, or a list of them for `executemany`) on
    the connection's cursor, in its transaction; the cursor."""
    cursor = _cursor(conn)
    if conn.dispatch.before_cursor_execute:
        conn.dispatch.before_cursor_execute(conn, cursor, plan.sql, values, None, many)
    try:
        (cursor.executemany if many else cursor.execute)(plan.sql, values)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(conn, plan.sql, values, exc) from exc
    return cursor


def run_sql(conn: sa.Connection, sql: str) -> None:
    """Run `sql`, a statement of no parameters, on the connection's DB-API connection, as
    `Connection.exec_driver_sql` would (listeners told, errors raised as SQLAlchemy raises them),
    without its execution context: for the `BEGIN IMMEDIATE` that starts every command on SQLite.
    Called inside the engine's `begin` event too, where the connection's transaction is not
    begun yet (so no `_cursor`, which would begin it)."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    if conn.dispatch.before_cursor_execute:
        conn.dispatch.before_cursor_execute(conn, cursor, sql, (), None, False)
    try:
        cursor.execute(sql, ())
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(conn, sql, (), exc) from exc


def _row(plan: _Plan, values: Sequence[Any]) -> Any:
    """A select's row from the values fetched, each converted by its column type if it converts."""
    assert plan.row is not None
    if plan.results is None:
        return plan.row(values)
    converted = list(values)
    for i, convert in plan.results:  # only the columns that convert
        converted[i] = convert(converted[i])
    return plan.row(converted)


def _wrapped(conn: sa.Connection, sql: str, values: Any, exc: Exception) -> sa.exc.DBAPIError:
    """The driver's error as SQLAlchemy raises it (IntegrityError, OperationalError, ...)."""
    error = sa.exc.DBAPIError.instance(
        sql, values, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
    )
    assert isinstance(error, sa.exc.DBAPIError)
    return error


def constants(*values: str) -> list[sa.ColumnElement[str]]:
    """Fixed strings written into a statement's SQL, for an `IN` list: SQLAlchemy expands a list
    of parameters at each execution, so a statement with one cannot be prepared."""
    return [sa.literal_column("'" + value.replace("'", "''") + "'", sa.String) for value in values]
