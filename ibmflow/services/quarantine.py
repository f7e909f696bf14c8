"""The coordinator's review of received mails: the quarantine and every mail received for a process;
a quarantined mail assigned to the request it answers (taken by the one intake, as a reply the
coordinator vouches for), or rejected with a reason (the mail itself is kept)."""

from __future__ import annotations

from sqlmodel import Session

from ibmflow.audit import JSONValue
from ibmflow.errors import InvalidCommand, NotFound
from ibmflow.i18n import _
from ibmflow.mail import inbound as mail
from ibmflow.services import replies
from ibmflow.services.common import iso
from ibmflow.services.context import Context
from ibmflow.services.record_views import InboundMail
from ibmflow.services.replies import ASSIGNED, QUARANTINED, REJECTED
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import answers as queries
from ibmflow.storage.tables import InboundMessageRow, ProcessRow, RequestRow


def _entry(session: Session, row: InboundMessageRow) -> InboundMail:
    process = session.get(ProcessRow, row.process_id) if row.process_id else None
    return InboundMail(
        id=row.id or 0,
        received_at=iso(row.received_at),
        via=row.via,
        sender=row.header_from,
        envelope_from=row.envelope_from,
        subject=row.subject,
        classification=row.classification,
        status=row.status,
        reason=row.reason,
        process=process.key if process else None,
        request=row.request_id,
        decided_by=row.decided_by,
        decided_at=iso(row.decided_at),
        raw_sha256=row.raw_sha256,
    )


def list_quarantine(ctx: Context, key: str | None = None) -> list[InboundMail]:
    """The mails waiting in quarantine, of one process or of all (those matching none included)."""
    with ctx.db.reading() as session:
        process = repo.get_process(session, key) if key is not None else None
        rows = queries.inbound(session, process=process, status=QUARANTINED)
        return [_entry(session, r) for r in rows]


def list_inbound(ctx: Context, key: str) -> list[InboundMail]:
    """Every mail received for a process: answers, out-of-office and other auto-replies, bounces,
    quarantined mails and what the coordinator decided about them."""
    with ctx.db.reading() as session:
        process = repo.get_process(session, key)
        return [_entry(session, r) for r in queries.inbound(session, process=process)]


def _quarantined(tx: Tx, inbound_id: int) -> InboundMessageRow:
    row = tx.session.get(InboundMessageRow, inbound_id)
    if row is None:
        raise NotFound(
            _(
                "no received mail #%(inbound_id)s; `ibmflow quarantine list` shows them.",
                inbound_id=inbound_id,
            )
        )
    if row.status != QUARANTINED:
        raise InvalidCommand(
            _(
                "mail #%(inbound_id)s is %(status)s, not in quarantine; nothing changed.",
                inbound_id=inbound_id,
                status=row.status,
            )
        )
    return row


def assign(ctx: Context, inbound_id: int, request_id: int, actor: str) -> None:
    """The coordinator decides that a quarantined mail IS the answer to a request: record it."""
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        row = _quarantined(tx, inbound_id)
        request = tx.session.get(RequestRow, request_id)
        if request is None:
            raise NotFound(
                _(
                    "no request #%(request_id)s; `ibmflow request list PROCESS` shows them.",
                    request_id=request_id,
                )
            )
        found = tx.session.get(ProcessRow, request.process_id)
        assert found is not None
        process = repo.get_process(tx.session, found.key, lock=True)
        if row.process_id is not None and row.process_id != process.id:
            raise InvalidCommand(
                _(
                    "mail #%(inbound_id)s belongs to another process than request "
                    "#%(request_id)s (%(key)s); nothing changed.",
                    inbound_id=inbound_id,
                    request_id=request_id,
                    key=process.key,
                )
            )
        try:
            incoming = mail.parse(ctx.documents.read(row.raw_sha256))
        except (mail.MalformedMessage, OSError) as exc:
            raise InvalidCommand(
                _(
                    "mail #%(inbound_id)s cannot be read (%(exc)s); reject it and record the "
                    "answer with `ibmflow answer` instead.",
                    inbound_id=inbound_id,
                    exc=exc,
                )
            ) from None
        try:
            replies.answer_reply(ctx, tx, process, request, incoming, row, now, assigned_by=actor)
        except replies.Refused as refused:
            raise InvalidCommand(_("%(reason)s; nothing changed.", reason=refused.reason)) from None
        before: dict[str, JSONValue] = {"status": row.status, "request": row.request_id}
        row.status, row.request_id, row.process_id = ASSIGNED, request.id, process.id
        row.decided_by, row.decided_at = actor, now
        tx.session.add(row)
        tx.acting(actor, now, process.key).record(
            "quarantine.assigned",
            f"inbound:{inbound_id}",
            before=before,
            after={"status": ASSIGNED, "request": request.id, "from": row.header_from},
        )


def reject(ctx: Context, inbound_id: int, reason: str, actor: str) -> None:
    """The coordinator decides that a quarantined mail is no answer (the mail itself is kept)."""
    if not reason.strip():
        raise InvalidCommand(_("a reason is required to reject a mail in quarantine."))
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        row = _quarantined(tx, inbound_id)
        process = tx.session.get(ProcessRow, row.process_id) if row.process_id else None
        before: dict[str, JSONValue] = {"status": row.status, "reason": row.reason}
        row.status, row.decided_by, row.decided_at = REJECTED, actor, now
        row.reason = f"{row.reason}; rejected: {reason.strip()}" if row.reason else reason.strip()
        tx.session.add(row)
        tx.acting(actor, now, process.key if process else None).record(
            "quarantine.rejected",
            f"inbound:{inbound_id}",
            reason=reason.strip(),
            before=before,
            after={"status": REJECTED, "from": row.header_from},
        )
