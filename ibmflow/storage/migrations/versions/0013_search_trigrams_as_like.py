"""The search's trigram indexes hold the roster's texts as the search compares them, so that what
an index finds is exactly what the search finds, counted and paged without reading the rows

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 12:30:00.000000

Migration 0011's indexes fold case as FTS5 does, in every alphabet; SQLite's `LIKE` folds ASCII
letters only (the Kelvin sign is a `k` to the first, not to the second), so the search checked each
candidate with its own `LIKE`, reading every row it found to count it. Here each index holds its
columns with ASCII letters lowered by SQLite's `lower()` (which lowers those only) and keeps case
(`trigram case_sensitive 1`); the search lowers its text with the same `lower()`. A column then
contains the text for the index exactly when `LIKE '%text%'` says so, for any text of three
characters or more, in any alphabet. The indexes are contentless (`content=''`): no table holds
the lowered texts, so FTS5's `rebuild` cannot refill them wrongly from the rows as written.

Only where 0011 made the indexes (SQLite with FTS5). As 0011 says: a later migration that rebuilds
`institution` or `person` on SQLite drops these triggers with the old table and must create them
again (`_statements`), then refill the index (drop it and run `_statements` whole).
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# index -> (the table it follows, the columns the search reads), as in 0011
INDEXES = {
    "search_institution": ("institution", ("name", "short_name", "code")),
    "search_person": ("person", ("name", "email")),
}


def _statements(index: str, table: str, columns: tuple[str, ...], lowered: bool) -> list[str]:
    """The index of `table`'s `columns` with the triggers that keep it in step, and its first
    filling: this migration's form (`lowered`), or 0011's (the texts as written, case folded)."""

    def indexed(column: str) -> str:
        return f"lower({column})" if lowered else column

    names = ", ".join(columns)
    new = ", ".join(indexed(f"new.{c}") for c in columns)
    old = ", ".join(indexed(f"old.{c}") for c in columns)
    add = f"INSERT INTO {index}(rowid, {names}) VALUES (new.id, {new});"
    remove = f"INSERT INTO {index}({index}, rowid, {names}) VALUES ('delete', old.id, {old});"
    if lowered:  # contentless: an index of texts that no table holds as they are indexed
        options = "content='', tokenize='trigram case_sensitive 1'"
        texts = ", ".join(indexed(c) for c in columns)
        fill = f"INSERT INTO {index}(rowid, {names}) SELECT id, {texts} FROM {table}"
    else:
        options = f"content='{table}', content_rowid='id', tokenize='trigram'"
        fill = f"INSERT INTO {index}({index}) VALUES ('rebuild')"
    return [
        f"CREATE VIRTUAL TABLE {index} USING fts5({names}, {options})",
        f"CREATE TRIGGER {index}_insert AFTER INSERT ON {table} BEGIN {add} END",
        f"CREATE TRIGGER {index}_delete AFTER DELETE ON {table} BEGIN {remove} END",
        f"CREATE TRIGGER {index}_update AFTER UPDATE OF id, {names} ON {table} "
        f"BEGIN {remove} {add} END",
        fill,
    ]


def _indexed() -> bool:
    """Whether 0011 made the indexes (SQLite with FTS5; else the search reads the tables)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return False
    found = bind.exec_driver_sql(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'search_person'"
    )
    return bool(found.scalar())


def _replace(lowered: bool) -> None:
    for index, (table, columns) in INDEXES.items():
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {index}_{event}")
        op.execute(f"DROP TABLE IF EXISTS {index}")
        for statement in _statements(index, table, columns, lowered):
            op.execute(statement)


def upgrade() -> None:
    if _indexed():
        _replace(lowered=True)


def downgrade() -> None:
    if _indexed():
        _replace(lowered=False)
