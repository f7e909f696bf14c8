"""An index for the process list: each process's open requests past due, counted from the index

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 06:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_request_open_due", "request", ["process_id", "status", "due_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_request_open_due", table_name="request")
