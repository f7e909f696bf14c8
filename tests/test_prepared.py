"""Prepared statements (`storage.prepared`) write and read exactly what SQLAlchemy's `execute` would:
the same rows, converted by the same column types, the same errors, on a real SQLite file (the
driver's cursor) and on PostgreSQL (through SQLAlchemy)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from ibmflow.storage.columns import UTCDateTime
from ibmflow.storage.prepared import Prepared, constants

_META = sa.MetaData()
_THING = sa.Table(
    "thing",
    _META,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False, unique=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("at", UTCDateTime, nullable=True),
    sa.Column("on", sa.Date, nullable=True),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("data", sa.JSON, nullable=True),
)
_OTHER = sa.Table(
    "other",
    _META,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("thing_id", sa.Integer, sa.ForeignKey("thing.id"), nullable=False),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("made", sa.String(20), nullable=False, default="by default"),
)

_INSERT = Prepared(sa.insert(_THING))
_BY_KIND = Prepared(
    sa.select(_THING.c.id, _THING.c.name, _THING.c.at, _THING.c.on, _THING.c.ok, _THING.c.data)
    .where(_THING.c.kind == sa.bindparam("kind"))
    .order_by(_THING.c.id)
)
_RENAME = Prepared(
    sa.update(_THING).where(_THING.c.id == sa.bindparam("tid")).values(name=sa.bindparam("new"))
)
_BOTH = Prepared(  # two columns of one name: the second is keyed `name_1`, as SQLAlchemy keys it
    sa.select(_THING.c.name, _OTHER.c.name)
    .join(_OTHER, _OTHER.c.thing_id == _THING.c.id)
    .where(_THING.c.kind.in_(constants("a", "it's")))
    .order_by(_OTHER.c.id)
)
_INSERT_RETURNING = Prepared(sa.insert(_THING).returning(_THING.c.id))
_WITH_DEFAULT = Prepared(sa.insert(_OTHER))  # a Python-side default: SQLAlchemy computes it
_EXPANDING = Prepared(
    sa.select(_THING.c.name).where(_THING.c.id.in_(sa.bindparam("ids", expanding=True)))
)

MOMENT = datetime(2026, 1, 5, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Any:
    engine = sa.create_engine(database_url)
    _META.create_all(engine)
    yield engine
    engine.dispose()


def _rows(n: int, kind: str = "a") -> list[dict[str, Any]]:
    return [
        {
            "name": f"{kind}{i}",
            "kind": kind,
            "at": MOMENT if i % 2 else None,
            "on": date(2026, 2, i % 28 + 1),
            "ok": bool(i % 2),
            "data": {"i": i, "é": ["x"]} if i else None,
        }
        for i in range(n)
    ]


def test_rows_written_and_read_are_those_of_sqlalchemy(engine: Any) -> None:
    with engine.begin() as conn:
        first = _INSERT.insert(conn, _rows(1, "it's")[0])
        _INSERT.write_many(conn, _rows(3))
    with engine.connect() as conn:
        plain = conn.execute(_BY_KIND.statement, {"kind": "a"}).all()
        prepared = _BY_KIND.rows(conn, {"kind": "a"})
        assert prepared == [tuple(row) for row in plain]
        assert [row._asdict() for row in prepared] == [row._asdict() for row in plain]
        assert prepared[1].at == MOMENT and prepared[1].at.tzinfo is UTC
        assert prepared[1].data == {"i": 1, "é": ["x"]} and prepared[0].data is None
        assert prepared[1].ok is True and prepared[0].ok is False
        assert prepared[2].on == date(2026, 2, 3)
        assert _BY_KIND.first(conn, {"kind": "it's"}).id == first  # type: ignore[union-attr]
        assert _BY_KIND.first(conn, {"kind": "none"}) is None


@pytest.mark.parametrize("n", [1, 3, 101])  # 101: more than one statement's worth, by SQLAlchemy
def test_many_rows_inserted_in_one_statement_return_their_keys(engine: Any, n: int) -> None:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    with engine.begin() as conn:
        keys = _INSERT_RETURNING.insert_many(conn, _rows(n))
        ours, seen[:] = list(seen), []
        plain = conn.execute(_INSERT_RETURNING.statement, _rows(n, "b")).scalars().all()
        theirs = list(seen)
        rows = _BY_KIND.rows(conn, {"kind": "a"})
        assert _INSERT_RETURNING.insert_many(conn, []) == []
    assert sorted(keys) == [row.id for row in rows] and len(set(keys)) == n
    assert [row.name for row in rows] == [f"a{i}" for i in range(n)]
    assert len(plain) == n and ours == theirs  # the statements SQLAlchemy runs


def test_updates_count_rows_and_duplicate_keys_in_a_select_are_numbered(engine: Any) -> None:
    with engine.begin() as conn:
        ids = [_INSERT.insert(conn, row) for row in _rows(2)]
        conn.execute(
            sa.insert(_OTHER),
            [{"thing_id": ids[0], "name": "o1"}, {"thing_id": ids[1], "name": "o2"}],
        )
        assert _RENAME.write(conn, {"tid": ids[0], "new": "renamed"}) == 1
        assert _RENAME.write(conn, {"tid": 999, "new": "nobody"}) == 0
        rows = _BOTH.rows(conn)
    assert [(r.name, r.name_1) for r in rows] == [("renamed", "o1"), ("a1", "o2")]


def test_statements_sqlalchemy_must_run_still_run(engine: Any) -> None:
    with engine.begin() as conn:
        ids = [_INSERT.insert(conn, row) for row in _rows(3)]
        _WITH_DEFAULT.write_many(conn, [{"thing_id": ids[0], "name": "o"}])
        made = conn.execute(sa.select(_OTHER.c.made)).scalar_one()
        found = _EXPANDING.rows(conn, {"ids": ids[:2]})
    assert made == "by default"
    assert [r.name for r in found] == ["a0", "a1"]


def test_driver_errors_are_raised_as_sqlalchemy_raises_them(engine: Any) -> None:
    with engine.begin() as conn:
        _INSERT.insert(conn, _rows(1)[0])
    with engine.connect() as conn, pytest.raises(sa.exc.IntegrityError):
        _INSERT.write_many(conn, _rows(1))  # the same unique name again
    with engine.connect() as conn, pytest.raises(sa.exc.StatementError, match="'kind'"):
        _BY_KIND.rows(conn, {})


def test_a_rolled_back_transaction_keeps_nothing(engine: Any) -> None:
    with engine.connect() as conn:
        _INSERT.write_many(conn, _rows(2))
        conn.rollback()
        assert _BY_KIND.rows(conn, {"kind": "a"}) == []


def test_listeners_are_told_of_each_statement(engine: Any) -> None:
    seen: list[tuple[str, bool]] = []

    def on_execute(*args: Any) -> None:
        seen.append((args[2].split()[0], args[5]))

    event.listen(engine, "before_cursor_execute", on_execute)
    with engine.begin() as conn:
        _INSERT.write_many(conn, _rows(2))
        _BY_KIND.rows(conn, {"kind": "a"})
    assert ("INSERT", True) in seen and ("SELECT", False) in seen
