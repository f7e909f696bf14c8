"""The chaser's manners: which mail carried which rung to whom (chase_mail)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chase_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rung_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=250), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["rung_id"], ["rung.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rung_id", "person_id"),
    )


def downgrade() -> None:
    op.drop_table("chase_mail")
