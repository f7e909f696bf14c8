"""The outbox keeps what a mail says (template context and language); the dispatcher renders it

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 09:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("template_context", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("language", sa.String(length=35), nullable=True))
        batch_op.alter_column("subject", existing_type=sa.String(length=998), nullable=True)
        batch_op.alter_column("text_body", existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    # A mail waiting to be rendered has no text for the older schema to hold: send them first. One
    # that failed without being rendered (its template was broken) keeps its kind as subject.
    bind = op.get_bind()
    waiting = bind.execute(
        sa.text("SELECT count(*) FROM outbox WHERE text_body IS NULL AND status = 'pending'")
    ).scalar_one()
    if waiting:
        raise RuntimeError(
            f"{waiting} mails in the outbox are not rendered yet; run `ibmflow mail dispatch` "
            "until none is pending, then downgrade again."
        )
    bind.execute(
        sa.text(
            "UPDATE outbox SET subject = coalesce(subject, kind), text_body = '' "
            "WHERE text_body IS NULL"
        )
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("text_body", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("subject", existing_type=sa.String(length=998), nullable=False)
        batch_op.drop_column("language")
        batch_op.drop_column("template_context")
