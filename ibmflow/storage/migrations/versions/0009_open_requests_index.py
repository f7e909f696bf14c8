"""An index of the open requests by status, decision, due date and process (the desk's counts)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 18:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_request_open", "request", ["status", "decision_id", "due_at", "process_id"])


def downgrade() -> None:
    op.drop_index("ix_request_open", table_name="request")
