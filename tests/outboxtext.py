"""The text of outbox rows that are not rendered yet, as the dispatcher will render them.

A command keeps a mail's context and language; the dispatcher renders it when it sends it
(`ibmflow.services.outbox`). A test that reads a mail before dispatching it reads it through here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from ibmflow.services import outbox
from ibmflow.services.context import Context

Row = TypeVar("Row")


def with_text(ctx: Context, rows: Iterable[Row]) -> list[Row]:
    """The rows, each with its text (rendered in place when it had none)."""
    return [outbox.with_text(ctx, row) for row in rows]


def one_with_text(ctx: Context, row: Row) -> Row:
    """One row with its text."""
    return outbox.with_text(ctx, row)


def write_text_of_pending(ctx: Context) -> None:
    """Write every unrendered mail's text on its row, as versions before rendering at dispatch
    (migration 0012) wrote them: a test that goes down to an older schema starts from such rows."""
    from sqlmodel import col, select

    from ibmflow.storage.tables import OutboxRow

    with ctx.db.transaction() as tx:
        for row in tx.session.exec(select(OutboxRow).where(col(OutboxRow.text_body).is_(None))):
            outbox.with_text(ctx, row)
            row.template_context = None
            tx.session.add(row)
