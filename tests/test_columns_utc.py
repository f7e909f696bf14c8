"""Timestamps go in and come out aware and in UTC, on SQLite and PostgreSQL, whichever zone they were
given in and however often the same moment is written (its conversion is remembered); a naive one
is refused every time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import StatementError

from ibmflow.services.context import Context
from ibmflow.storage.columns import UTCDateTime, json_text

_MOMENTS = sa.Table("moment_probe", sa.MetaData(), sa.Column("at", UTCDateTime))
CASABLANCA = timezone(timedelta(hours=1))


def test_the_same_instant_is_stored_alike_in_any_zone_however_often(ctx: Context) -> None:
    utc = datetime(2026, 3, 29, 0, 30, 15, 123456, tzinfo=UTC)
    same = [utc, utc.astimezone(CASABLANCA), utc, utc.astimezone(CASABLANCA)]
    with ctx.db.engine.connect() as conn:
        _MOMENTS.create(conn)
        conn.execute(sa.insert(_MOMENTS), [{"at": moment} for moment in same])
        stored = conn.execute(sa.select(sa.cast(_MOMENTS.c.at, sa.String))).scalars().all()
        read = conn.execute(sa.select(_MOMENTS.c.at)).scalars().all()
        conn.rollback()
    assert len(set(stored)) == 1
    assert read == [utc] * 4 and all(moment.tzinfo is UTC for moment in read)


def test_a_naive_moment_is_refused_each_time(ctx: Context) -> None:
    naive = datetime(2026, 3, 29, 0, 30)
    with ctx.db.engine.connect() as conn:
        _MOMENTS.create(conn)
        for _ in range(2):
            with pytest.raises(StatementError, match="naive datetime"):
                conn.execute(sa.insert(_MOMENTS), [{"at": naive}])
            conn.rollback()


def test_each_stored_moment_reads_back_as_itself_however_often_read(ctx: Context) -> None:
    """Reading remembers each stored value's conversion: distinct moments stay distinct, a NULL
    stays None, and a moment read again is the same instant, aware and in UTC."""
    first = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    moments = [first, None, first + timedelta(microseconds=1), first.astimezone(CASABLANCA)]
    with ctx.db.engine.connect() as conn:
        _MOMENTS.create(conn)
        conn.execute(sa.insert(_MOMENTS), [{"at": moment} for moment in moments])
        reads = [conn.execute(sa.select(_MOMENTS.c.at)).scalars().all() for _ in range(2)]
        conn.rollback()
    expected = [first, None, first + timedelta(microseconds=1), first]
    assert reads == [expected, expected]
    assert all(m.tzinfo is UTC for read in reads for m in read if m is not None)


@pytest.mark.parametrize(
    "value",
    [
        ["focal@customs.example"],
        [],
        {"b": [1, 2.5, None, True, False], "a": {"é’": "Ministère de l’Intérieur"}},
        "text",
        [1e300, -0.5],
        None,
    ],
)
def test_a_json_column_is_written_as_json_dumps_writes_it(ctx: Context, value: object) -> None:
    """SQLite's engines write JSON columns with `json_text`, an encoder built once: the same text
    as `json.dumps`, SQLAlchemy's default."""
    assert json_text(value) == json.dumps(value)
    probe = sa.Table("json_probe", sa.MetaData(), sa.Column("data", sa.JSON(none_as_null=True)))
    with ctx.db.engine.connect() as conn:
        probe.create(conn)
        conn.execute(sa.insert(probe), [{"data": value}])
        stored = conn.execute(sa.select(sa.cast(probe.c.data, sa.String))).scalar_one()
        conn.rollback()
    assert stored == (None if value is None else json.dumps(value))
