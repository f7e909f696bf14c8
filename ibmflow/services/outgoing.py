"""Reading the outbox: the mails ibmflow wrote, of one process or all, and one mail in full."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from ibmflow.errors import InvalidCommand, NotFound
from ibmflow.services.common import iso
from ibmflow.services.context import Context
from ibmflow.storage import repository as repo
from ibmflow.storage.tables import OutboxRow, ProcessRow

STATUSES = ("pending", "sent", "failed")


def _row_dict(row: OutboxRow, process_key: str | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "process": process_key,
        "kind": row.kind,
        "to": list(row.to_addrs),
        "subject": row.subject,
        "status": row.status,
        "attempts": row.attempts,
        "message_id": row.message_id,
        "reply_to": row.reply_to,
        "in_reply_to": row.in_reply_to,
        "created_at": iso(row.created_at),
        "next_attempt_at": iso(row.next_attempt_at) if row.status == "pending" else None,
        "sent_at": iso(row.sent_at),
        "last_error": row.last_error,
        "request_id": row.request_id,
    }


def list_mail(ctx: Context, process: str | None, status: str | None) -> list[dict[str, Any]]:
    """The outbox rows, oldest first, of one process or all, optionally of one status."""
    if status is not None and status not in STATUSES:
        raise InvalidCommand(f"--status {status!r}: one of {', '.join(STATUSES)}.")
    with ctx.db.reading() as session:
        keys = {p.id: p.key for p in session.exec(select(ProcessRow))}
        query = select(OutboxRow).order_by(col(OutboxRow.id))
        if process is not None:
            query = query.where(OutboxRow.process_id == repo.get_process(session, process).id)
        if status is not None:
            query = query.where(OutboxRow.status == status)
        return [_row_dict(row, keys.get(row.process_id)) for row in session.exec(query)]


def get_mail(ctx: Context, outbox_id: int, process: str | None = None) -> OutboxRow:
    """One outbox row (of process `process` when given); NotFound naming the command that lists
    them."""
    with ctx.db.reading() as session:
        row = session.get(OutboxRow, outbox_id)
        wanted = repo.get_process(session, process).id if process is not None else None
        if row is None or (process is not None and row.process_id != wanted):
            where = f" of {process.upper()}" if process is not None else ""
            raise NotFound(
                f"no mail #{outbox_id} in the outbox{where}; `ibmflow mail list` shows them."
            )
        session.expunge(row)  # keep it loaded: the read session rolls back (expires) on exit
        return row


def show_mail(ctx: Context, outbox_id: int) -> dict[str, Any]:
    """One outbox row as `list_mail` gives it, with its text part."""
    row = get_mail(ctx, outbox_id)
    with ctx.db.reading() as session:
        process = session.get(ProcessRow, row.process_id) if row.process_id else None
        key = process.key if process else None
    return {**_row_dict(row, key), "text": row.text_body}
