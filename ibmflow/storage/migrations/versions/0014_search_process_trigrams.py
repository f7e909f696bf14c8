"""A trigram index of the processes' keys, titles and countries, so that an administrator's search
reads the processes it finds rather than every process

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 19:00:00.000000

The same kind of index as 0013 made for the rosters: contentless FTS5 (`content=''`), the columns
lowered by SQLite's `lower()` (ASCII letters only, as `LIKE` folds them), `trigram case_sensitive
1`, kept in step by triggers. The search lowers its text the same way, so the index finds exactly
the processes whose key, title or country is `LIKE '%text%'`, for any text of three characters or
more. The update trigger fires only when one of those columns (or the id) changes: a step's write
of `state` and `version` does not touch the index.

Only where 0011 made the roster's indexes (SQLite with FTS5; else the search reads the table, as
before). A later migration that rebuilds `process` on SQLite drops these triggers with the old
table and must create them again (`_statements`), then refill the index.
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

INDEX, TABLE, COLUMNS = "search_process", "process", ("key", "title", "country")


def _statements() -> list[str]:
    """The index, the triggers that keep it in step with the table, and its first filling."""
    names = ", ".join(COLUMNS)
    new = ", ".join(f"lower(new.{c})" for c in COLUMNS)
    old = ", ".join(f"lower(old.{c})" for c in COLUMNS)
    texts = ", ".join(f"lower({c})" for c in COLUMNS)
    add = f"INSERT INTO {INDEX}(rowid, {names}) VALUES (new.id, {new});"
    remove = f"INSERT INTO {INDEX}({INDEX}, rowid, {names}) VALUES ('delete', old.id, {old});"
    return [
        f"CREATE VIRTUAL TABLE {INDEX} USING fts5({names}, content='', "
        "tokenize='trigram case_sensitive 1')",
        f"CREATE TRIGGER {INDEX}_insert AFTER INSERT ON {TABLE} BEGIN {add} END",
        f"CREATE TRIGGER {INDEX}_delete AFTER DELETE ON {TABLE} BEGIN {remove} END",
        f"CREATE TRIGGER {INDEX}_update AFTER UPDATE OF id, {names} ON {TABLE} "
        f"BEGIN {remove} {add} END",
        f"INSERT INTO {INDEX}(rowid, {names}) SELECT id, {texts} FROM {TABLE}",
    ]


def _roster_indexed() -> bool:
    """Whether 0011 made the roster's indexes (SQLite with FTS5)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return False
    found = bind.exec_driver_sql(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'search_person'"
    )
    return bool(found.scalar())


def upgrade() -> None:
    if _roster_indexed():
        for statement in _statements():
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for event in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS {INDEX}_{event}")
    op.execute(f"DROP TABLE IF EXISTS {INDEX}")
