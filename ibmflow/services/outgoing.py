"""Reading the outbox: the mails ibmflow wrote, of one process or all, and one mail in full.

A mail waiting to be sent is kept unrendered (`services.outbox`): it is shown as the dispatcher will
render it, in its reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ibmflow.errors import IbmflowError, InvalidCommand, NotFound
from ibmflow.i18n import _
from ibmflow.services import outbox
from ibmflow.services.common import iso
from ibmflow.services.context import Context
from ibmflow.storage import repository as repo
from ibmflow.storage.queries import mail
from ibmflow.storage.tables import OutboxRow, ProcessRow

STATUSES = ("pending", "sent", "failed")


@dataclass(frozen=True)
class MailSummary:
    """One mail of the outbox, as `ibmflow mail list` and the console's Outgoing mail page show it."""

    id: int
    process: str | None
    kind: str
    to: tuple[str, ...]
    subject: str
    status: str
    attempts: int
    message_id: str
    reply_to: str | None
    in_reply_to: str | None
    created_at: datetime
    next_attempt_at: datetime | None  # only while pending
    sent_at: datetime | None
    last_error: str | None
    request_id: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "process": self.process,
            "kind": self.kind,
            "to": list(self.to),
            "subject": self.subject,
            "status": self.status,
            "attempts": self.attempts,
            "message_id": self.message_id,
            "reply_to": self.reply_to,
            "in_reply_to": self.in_reply_to,
            "created_at": iso(self.created_at),
            "next_attempt_at": iso(self.next_attempt_at),
            "sent_at": iso(self.sent_at),
            "last_error": self.last_error,
            "request_id": self.request_id,
        }


@dataclass(frozen=True)
class MailShown(MailSummary):
    """One mail with its text part, as `ibmflow mail show --json` prints it."""

    text: str

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "text": self.text}


def _with_text(ctx: Context, row: OutboxRow) -> OutboxRow:
    """The (detached) row with its text, rendered if it has none yet; a mail whose template is
    broken says so in place of its text (the dispatcher will fail it with the same reason)."""
    try:
        return outbox.with_text(ctx, row)
    except (ValueError, TypeError, IbmflowError) as exc:
        reason = exc.message if isinstance(exc, IbmflowError) else str(exc)
        row.subject = row.subject or f"({row.kind})"
        row.text_body = _("This mail cannot be rendered: %(reason)s", reason=reason)
        return row


def _fields(row: OutboxRow, process_key: str | None) -> dict[str, Any]:
    """A `MailSummary`'s fields, read from its outbox row."""
    return {
        "id": row.id or 0,
        "process": process_key,
        "kind": row.kind,
        "to": tuple(row.to_addrs),
        "subject": row.subject,
        "status": row.status,
        "attempts": row.attempts,
        "message_id": row.message_id,
        "reply_to": row.reply_to,
        "in_reply_to": row.in_reply_to,
        "created_at": row.created_at,
        "next_attempt_at": row.next_attempt_at if row.status == "pending" else None,
        "sent_at": row.sent_at,
        "last_error": row.last_error,
        "request_id": row.request_id,
    }


def list_mail(ctx: Context, process: str | None, status: str | None) -> list[MailSummary]:
    """The outbox rows, oldest first, of one process or all, optionally of one status."""
    if status is not None and status not in STATUSES:
        raise InvalidCommand(
            _(
                "--status %(status)r: one of %(statuses)s.",
                status=status,
                statuses=", ".join(STATUSES),
            )
        )
    with ctx.db.reading() as session:
        keys = repo.process_keys(session)
        pid = repo.get_process(session, process).id if process is not None else None
        rows = list(mail.outbox(session, process_id=pid, status=status))
        session.expunge_all()  # rendering a pending mail's subject must not write it back
    return [
        MailSummary(**_fields(_with_text(ctx, row), keys.get(row.process_id or 0))) for row in rows
    ]


def get_mail(ctx: Context, outbox_id: int, process: str | None = None) -> OutboxRow:
    """One outbox row (of process `process` when given); NotFound naming the command that lists
    them."""
    with ctx.db.reading() as session:
        row = session.get(OutboxRow, outbox_id)
        wanted = repo.get_process(session, process).id if process is not None else None
        if row is None or (process is not None and row.process_id != wanted):
            where = f" of {process.upper()}" if process is not None else ""
            raise NotFound(
                _(
                    "no mail #%(outbox_id)s in the outbox%(where)s; `ibmflow mail list` "
                    "shows them.",
                    outbox_id=outbox_id,
                    where=where,
                )
            )
        session.expunge(row)  # keep it loaded: the read session rolls back (expires) on exit
    return _with_text(ctx, row)


def show_mail(ctx: Context, outbox_id: int) -> MailShown:
    """One outbox row as `list_mail` gives it, with its text part."""
    row = get_mail(ctx, outbox_id)
    with ctx.db.reading() as session:
        process = session.get(ProcessRow, row.process_id) if row.process_id else None
        key = process.key if process else None
    return MailShown(**_fields(row, key), text=row.text_body or "")
