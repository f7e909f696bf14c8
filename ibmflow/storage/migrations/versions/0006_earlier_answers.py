"""Reopened requests: the answers the coordinator reopened, kept as they were

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import ibmflow.storage.tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "earlier_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("answered_at", ibmflow.storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_via", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("answered_by", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("answer_text", sa.Text(), nullable=True),
        sa.Column("answer_fields", sa.JSON(), nullable=True),
        sa.Column("vote", sa.JSON(), nullable=True),
        sa.Column("due_at", ibmflow.storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reopened_at", ibmflow.storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reopened_by", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["request.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("earlier_answer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_earlier_answer_request_id"), ["request_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("earlier_answer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_earlier_answer_request_id"))
    op.drop_table("earlier_answer")
