"""Trigram indexes for the console's search (SQLite): institutions' and people's names, found by
any three characters in a row without reading every row of the roster

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 09:40:00.000000

On SQLite (3.34 or later, with FTS5: the `trigram` tokenizer), an external-content FTS5 table
per roster table (`search_institution`, `search_person`) holds the trigrams of the columns the
search reads; triggers keep it in step with every insert, delete and update of those columns. The search still
checks each candidate with its own `LIKE` (`storage.queries.search`), so what it finds is exactly
what it found before. PostgreSQL has nothing here: its search reads the tables as before.

A later migration that rebuilds `institution` or `person` on SQLite (a batch `ALTER`, which copies
the table) drops these triggers with the old table: it must create them again (`_triggers`) and
rebuild the index (`INSERT INTO search_person(search_person) VALUES ('rebuild')`).
"""

from __future__ import annotations

import sqlite3

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# index -> (the table it follows, the columns the search reads)
INDEXES = {
    "search_institution": ("institution", ("name", "short_name", "code")),
    "search_person": ("person", ("name", "email")),
}


def _applies() -> bool:
    """SQLite 3.34 or later, built with FTS5 (else the search reads the tables, as before)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite" or sqlite3.sqlite_version_info < (3, 34):
        return False
    return bool(bind.exec_driver_sql("SELECT sqlite_compileoption_used('ENABLE_FTS5')").scalar())


def _triggers(index: str, table: str, columns: tuple[str, ...]) -> list[str]:
    names = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    add = f"INSERT INTO {index}(rowid, {names}) VALUES (new.id, {new});"
    remove = f"INSERT INTO {index}({index}, rowid, {names}) VALUES ('delete', old.id, {old});"
    return [
        f"CREATE TRIGGER {index}_insert AFTER INSERT ON {table} BEGIN {add} END",
        f"CREATE TRIGGER {index}_delete AFTER DELETE ON {table} BEGIN {remove} END",
        f"CREATE TRIGGER {index}_update AFTER UPDATE OF id, {names} ON {table} "
        f"BEGIN {remove} {add} END",
    ]


def upgrade() -> None:
    if not _applies():
        return
    for index, (table, columns) in INDEXES.items():
        op.execute(
            f"CREATE VIRTUAL TABLE {index} USING fts5({', '.join(columns)}, "
            f"content='{table}', content_rowid='id', tokenize='trigram')"
        )
        for trigger in _triggers(index, table, columns):
            op.execute(trigger)
        op.execute(f"INSERT INTO {index}({index}) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for index in INDEXES:
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {index}_{event}")
        op.execute(f"DROP TABLE IF EXISTS {index}")
