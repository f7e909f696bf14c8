"""Schema migrations with Alembic: `ibmflow init` creates or upgrades the database to the latest schema."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ibmflow.errors import DatabaseNotReady
from ibmflow.storage.db import Database


def _config() -> Config:
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("ibmflow.storage") / "migrations")
    )
    return config


def head_revision() -> str:
    """The newest schema revision this version of ibmflow knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(db: Database) -> str | None:
    """The schema revision the database is at (None: no schema yet)."""
    with db.read_engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database) -> tuple[str | None, str]:
    """Create or upgrade the schema to the newest revision; return (before, after)."""
    before = current_revision(db)
    config = _config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return before, head_revision()


def revision(db: Database, message: str) -> None:
    """Autogenerate a new migration from the tables (for ibmflow's developers)."""
    config = _config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.revision(config, message=message, autogenerate=True)


def ensure_ready(db: Database) -> None:
    """Raise DatabaseNotReady unless the schema is at the newest revision."""
    current, head = current_revision(db), head_revision()
    if current is None:
        raise DatabaseNotReady("the database has no ibmflow schema yet; run `ibmflow init` first.")
    if current != head:
        raise DatabaseNotReady(
            f"the database schema is at revision {current}, ibmflow needs "
            f"{head}; run `ibmflow init` to upgrade it."
        )
