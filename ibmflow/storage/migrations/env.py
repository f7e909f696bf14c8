"""Alembic environment: runs ibmflow's migrations on the connection that `ibmflow init` hands in."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import ibmflow.storage.tables  # noqa: F401  (registers the tables on SQLModel.metadata)


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Leave out of autogenerate the search's trigram indexes (SQLite FTS5 tables and their
    shadow tables, made by migration 0011, declared by no table class)."""
    return not (type_ == "table" and name is not None and name.startswith(SEARCH_INDEXES))


SEARCH_INDEXES = ("search_institution", "search_person")
connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()
