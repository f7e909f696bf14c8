"""Column types shared by the table modules: timestamps stored in UTC, on SQLite as on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field

from ibmflow.json_writer import json_writer


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp that goes in and comes out timezone-aware in UTC, on SQLite as on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        """`process_bind_param` and then the dialect's own conversion (SQLite's text), as
        SQLAlchemy composes them, remembered by moment: a command writes its `now` in most of the
        rows it adds (a step, in some fifty columns), and converting a moment is most of what
        writing a row costs SQLAlchemy. Equal aware moments are the same instant, which is
        stored the same way; a naive one is refused each time (an error is not remembered)."""
        process = super().bind_processor(dialect)
        return None if process is None else lru_cache(maxsize=1024)(process)

    def result_processor(
        self, dialect: Dialect, coltype: Any
    ) -> Callable[[Any], datetime | None] | None:
        """The dialect's conversion (SQLite's text parsed) and then `process_result_value`, as
        SQLAlchemy composes them, remembered by stored value: the rows a step reads repeat a few
        moments (the due dates of a round's requests, the times of one command). Datetimes are
        immutable, so the rows that share a moment may share its object."""
        process = super().result_processor(dialect, coltype)
        return None if process is None else lru_cache(maxsize=1024)(process)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSON columns written on SQLite (`db`'s engines) by a writer built once (`json_writer`):
# `json.dumps(value)` builds its encoder at every call, four fifths of what writing a mail's one
# address costs.
json_text = json_writer()  # `value` as `json.dumps(value)` writes it (SQLAlchemy's default)


def when(nullable: bool = False) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable, default=None if nullable else ...)
