"""The migrations build exactly the schema the tables declare, and go down and up again cleanly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from ibmflow.storage import migrate
from ibmflow.storage.db import Database


def _declared(name: str | None, type_: str, parent_names: object) -> bool:
    return not (
        type_ == "table"
        and (name or "").startswith(("search_person", "search_institution", "search_process"))
    )


def test_migrations_match_the_tables_and_round_trip(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert migrate.upgrade(db) == (None, migrate.head_revision())
        with db.engine.connect() as conn:
            # the search's trigram indexes (SQLite, migrations 0011, 0013, 0014) are declared by no table class
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_name": _declared}
            )
            assert compare_metadata(context, SQLModel.metadata) == []
        config = migrate._config()
        with db.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        assert migrate.current_revision(db) is None
        assert migrate.upgrade(db) == (None, migrate.head_revision())
        migrate.ensure_ready(db)
    finally:
        db.dispose()
