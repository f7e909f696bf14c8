"""Whose language: the language of a process, an institution, a person and an account

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TABLES = ("process", "institution", "person", "user_account")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
            )


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+ and PostgreSQL): a batch copy of `person` would drop a
    # table other tables' foreign keys point at, which SQLite refuses.
    for table in reversed(_TABLES):
        op.execute(f"ALTER TABLE {table} DROP COLUMN language")
