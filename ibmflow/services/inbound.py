"""Answers by reply: every received mail is kept, matched to its request, checked, and either recorded
as the answer, recorded as an auto-reply or bounce, or kept in quarantine for the coordinator.

A mail is matched by the `+KEY` of the reply address it was sent to, else by the Message-IDs it answers
(`In-Reply-To`, `References`). Its sender must be someone who may answer the request, by the one rule of
`services.answerers` (a focal point or their deputy; for a vote, the IAWG member or their
representative, never a deputy). Nothing is ever dropped: the raw message goes to the document store,
and whatever cannot be taken as an answer waits in quarantine with the reason, and is listed in the
coordinator's next quarantine alert (`services.quarantine_alerts`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from ibmflow.audit import AuditRecord, JSONValue
from ibmflow.errors import DatabaseNotReady, IbmflowError, InvalidCommand, NotFound
from ibmflow.mail import inbound as mail
from ibmflow.requestkinds import KINDS, check_fields
from ibmflow.services import answerers, requests
from ibmflow.services.common import iso
from ibmflow.services.context import Context
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.tables import (
    InboundMessageRow,
    OutboxRow,
    ProcessRow,
    RequestRow,
)

log = logging.getLogger(__name__)

INBOUND_ACTOR = "ibmflow:inbound"
VIAS = ("smtp", "lmtp", "imap")
ANSWERED, RECORDED, QUARANTINED = "answered", "recorded", "quarantined"
ASSIGNED, REJECTED = "assigned", "rejected"
# Mails about a request that go to the coordinator, not to its addressee: a reply to one of them is
# no answer to the request.
_COORDINATOR_KINDS = ("delivery_failure", "quarantine_alert")


@dataclass(frozen=True)
class InboundOutcome:
    """What became of a received mail."""

    inbound_id: int
    classification: str
    status: str
    reason: str | None = None
    process: str | None = None
    request_id: int | None = None


class _Refused(Exception):
    """This mail cannot be taken as the answer (the reason goes to the quarantine)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Match:
    process: ProcessRow | None
    request: RequestRow | None
    problem: str | None


# --- receiving ----------------------------------------------------------------------------------


def receive(
    ctx: Context,
    raw: bytes,
    *,
    via: str,
    envelope_from: str | None,
    envelope_to: Sequence[str],
) -> InboundOutcome:
    """Keep one received mail and act on it, in one transaction.

    Never raises for the mail's content (an unreadable mail is quarantined with the parse error);
    raises only when the database cannot be written, so the sending server retries later.
    """
    if via not in VIAS:
        raise InvalidCommand(f"unknown inbound channel {via!r}; one of {', '.join(VIAS)}.")
    if envelope_from is not None and envelope_from.strip() == "<>":
        envelope_from = ""  # the null return path
    now = ctx.clock.now()
    try:
        with ctx.db.transaction() as tx:
            return _receive(ctx, tx, raw, now, via, envelope_from, list(envelope_to))
    except Exception as exc:
        if _transient(exc):
            raise  # the sending server (or the next IMAP poll) tries again later
        # A fault of ours: keep the mail in quarantine with the error rather than have the sending
        # server retry it for days and bounce it.
        log.exception("inbound mail could not be processed; keeping it in quarantine")
        with ctx.db.transaction() as tx:
            row = _new_row(ctx, raw, now, via, envelope_from, list(envelope_to), None, "reply")
            return _quarantine(
                ctx, tx, row, None, None, f"ibmflow could not process this mail: {exc}", now
            )


def _transient(exc: BaseException) -> bool:
    """A database or disk failure, which a later attempt may not meet."""
    return isinstance(exc, SQLAlchemyError | OSError | DatabaseNotReady) or isinstance(
        exc.__cause__, SQLAlchemyError
    )


def _new_row(
    ctx: Context,
    raw: bytes,
    now: datetime,
    via: str,
    envelope_from: str | None,
    envelope_to: list[str],
    incoming: mail.Incoming | None,
    classification: str,
) -> InboundMessageRow:
    try:
        blob = ctx.documents.put(raw)
        digest, size = blob.sha256, blob.size
    except (IbmflowError, OSError):  # too large for the store: keep the record of it at least
        digest, size = hashlib.sha256(raw).hexdigest(), len(raw)
    sender = None
    if incoming is not None and incoming.sender:
        name = incoming.display_name
        sender = f"{name} <{incoming.sender}>" if name else incoming.sender
    return InboundMessageRow(
        received_at=now,
        via=via,
        envelope_from=envelope_from[:254] if envelope_from is not None else None,
        envelope_to=[a[:254] for a in envelope_to],
        header_from=sender[:998] if sender else None,
        subject=incoming.subject[:998] if incoming else None,
        message_id=incoming.message_id[:998] if incoming and incoming.message_id else None,
        raw_sha256=digest,
        size=size,
        classification=classification,
        status=RECORDED,
    )


def _receive(
    ctx: Context,
    tx: Tx,
    raw: bytes,
    now: datetime,
    via: str,
    envelope_from: str | None,
    envelope_to: list[str],
) -> InboundOutcome:
    digest = hashlib.sha256(raw).hexdigest()
    earlier = tx.session.exec(
        select(InboundMessageRow).where(InboundMessageRow.raw_sha256 == digest)
    ).first()
    if earlier is not None:  # the same bytes again (an IMAP re-poll, an SMTP retry): once is enough
        return _outcome(tx, earlier)
    try:
        incoming = mail.parse(raw)
    except mail.MalformedMessage as exc:
        row = _new_row(ctx, raw, now, via, envelope_from, envelope_to, None, mail.REPLY)
        return _quarantine(ctx, tx, row, None, None, f"unreadable mail: {exc}", now)
    kind = mail.classify(incoming, envelope_from=envelope_from)
    row = _new_row(ctx, raw, now, via, envelope_from, envelope_to, incoming, kind)
    found = _match(ctx, tx, incoming, envelope_to, kind)
    process, request = found.process, found.request
    if process is not None:
        process = repo.get_process(tx.session, process.key, lock=True)
    row.process_id = process.id if process else None
    row.request_id = request.id if request else None
    if kind != mail.REPLY:
        return _record_automatic(tx, row, process, request, kind, incoming, now)
    if found.problem is not None or process is None or request is None:
        problem = found.problem or "it does not answer any request of ibmflow"
        return _quarantine(ctx, tx, row, process, request, problem, now)
    try:
        _check_sender(tx, process, request, incoming, now)
        _check_open(request)
        tx.session.add(row)
        tx.session.flush()
        with tx.session.begin_nested():
            _answer(ctx, tx, process, request, incoming, row, now, assigned_by=None)
    except _Refused as refused:
        return _quarantine(ctx, tx, row, process, request, refused.reason, now)
    except (InvalidCommand, NotFound) as exc:  # refused by the use case, its writes rolled back
        return _quarantine(ctx, tx, row, process, request, exc.message, now)
    row.status = ANSWERED
    tx.session.add(row)
    return _outcome(tx, row)


def _outcome(tx: Tx, row: InboundMessageRow) -> InboundOutcome:
    process = tx.session.get(ProcessRow, row.process_id) if row.process_id else None
    return InboundOutcome(
        inbound_id=row.id or 0,
        classification=row.classification,
        status=row.status,
        reason=row.reason,
        process=process.key if process else None,
        request_id=row.request_id,
    )


# --- matching -----------------------------------------------------------------------------------


def _match(
    ctx: Context, tx: Tx, incoming: mail.Incoming, envelope_to: list[str], kind: str
) -> _Match:
    keys = mail.reply_keys([*envelope_to, *incoming.recipients], ctx.settings.mail_reply_address)
    by_key = [
        r
        for k in keys
        if (r := tx.session.exec(select(RequestRow).where(RequestRow.reply_key == k)).first())
    ]
    if len({r.id for r in by_key}) > 1:
        request = by_key[0]
        return _Match(
            tx.session.get(ProcessRow, request.process_id),
            None,
            f"it is addressed to {len(by_key)} requests at once "
            f"(#{', #'.join(str(r.id) for r in by_key)}); assign it to the one it answers",
        )
    if by_key:
        return _Match(tx.session.get(ProcessRow, by_key[0].process_id), by_key[0], None)
    ids = (
        incoming.thread_ids
        if kind != mail.BOUNCE
        else (*incoming.thread_ids, *incoming.reported_ids)
    )
    rows = (
        tx.session.exec(select(OutboxRow).where(col(OutboxRow.message_id).in_(ids))).all()
        if ids
        else []
    )
    position = {mid: n for n, mid in enumerate(ids)}
    for row in sorted(rows, key=lambda r: position.get(r.message_id, len(ids))):
        if row.request_id is not None and row.kind not in _COORDINATOR_KINDS:
            answered = tx.session.get(RequestRow, row.request_id)
            assert answered is not None
            return _Match(tx.session.get(ProcessRow, answered.process_id), answered, None)
    process = next(
        (p for r in rows if r.process_id and (p := tx.session.get(ProcessRow, r.process_id))),
        None,
    )
    if process is not None:
        return _Match(process, None, "it answers a notification of ibmflow, not a request")
    if keys:
        return _Match(None, None, f"its reply address names no known request ({keys[0]})")
    return _Match(None, None, None)


def _check_sender(
    tx: Tx, process: ProcessRow, request: RequestRow, incoming: mail.Incoming, now: datetime
) -> None:
    """The sender must be someone who may answer the request (`services.answerers`)."""
    if not incoming.sender:
        raise _Refused("it has no sender address (no From header)")
    try:
        answerers.may_answer(tx, process, request, incoming.sender, now)
    except (InvalidCommand, NotFound) as exc:
        raise _Refused(exc.message) from None


def _check_open(request: RequestRow) -> None:
    if request.status in requests.FINISHED:
        when = f" on {iso(request.answered_at)}" if request.answered_at else ""
        by = f" by {request.answered_by}" if request.answered_by else ""
        extra = f" ({request.closed_reason})" if request.closed_reason else ""
        raise _Refused(f"request #{request.id} is already {request.status}{by}{when}{extra}")


# --- acting on a reply --------------------------------------------------------------------------


def _fields_from_text(kind: str, text: str) -> dict[str, str]:
    """Structured fields written as `name: value` or `Label: value` lines in a reply."""
    names = {}
    for item in KINDS[kind].fields:
        names[item.name.lower()] = item.name
        names[item.name.replace("_", " ").lower()] = item.name
        names[item.label.lower()] = item.name
    found: dict[str, str] = {}
    for line in text.split("\n"):
        label, sep, value = line.partition(":")
        name = names.get(label.strip(" *-\t").lower())
        if sep and name and value.strip() and name not in found:
            found[name] = value.strip()
    return found


def _answer(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    request: RequestRow,
    incoming: mail.Incoming,
    row: InboundMessageRow,
    now: datetime,
    *,
    assigned_by: str | None,
) -> None:
    from ibmflow.services.decisions import vote_on_request

    sender = (incoming.sender or "").lower()
    text = mail.strip_quoted(incoming.body)
    detail: dict[str, JSONValue] = {"inbound": row.id}
    if assigned_by:
        detail["assigned_by"] = assigned_by
    if KINDS[request.kind].is_vote:
        approve, reason = mail.parse_vote(text)
        if approve is None:
            raise _Refused(f"the vote cannot be read: {reason}")
        if not approve and not reason:
            raise _Refused("an objection needs a reason, and this reply gives none")
        vote_on_request(
            ctx,
            tx,
            process,
            request,
            now,
            voter=sender,
            approve=approve,
            reason=reason or None,
            actor=assigned_by or sender,
            via="reply",
        )
        # The vote's own events do not name the mail; this one links the vote to it.
        tx.audit(
            AuditRecord(
                at=now,
                actor=assigned_by or sender,
                action="mail.vote_received",
                process=process.key,
                entity=f"inbound:{row.id}",
                after={
                    "request": request.id,
                    "decision": request.decision_id,
                    "approve": approve,
                    **detail,
                },
            )
        )
        return
    spec = KINDS[request.kind]
    uploads, refused = _uploads(ctx, incoming)
    if refused:
        detail["files_not_kept"] = list(refused)
    clean, problems = check_fields(request.kind, _fields_from_text(request.kind, text))
    if spec.fields and problems:
        if not uploads and assigned_by is None:
            raise _Refused(
                f"the {spec.label} needs its fields ({'; '.join(problems)}); the reply has "
                "neither them nor an attached file"
            )
        detail["fields_missing"] = list(problems)
    if spec.text_required and not text.strip() and not uploads and assigned_by is None:
        raise _Refused(f"the reply is empty, and the {spec.label} needs a text")
    requests.record(
        ctx,
        tx,
        process,
        request,
        now,
        via="reply",
        actor=sender or (assigned_by or INBOUND_ACTOR),
        text=text.strip() or None,
        fields=dict(clean),
        uploads=uploads,
        detail=detail,
    )


def _uploads(ctx: Context, incoming: mail.Incoming) -> tuple[list[requests.Upload], list[str]]:
    """The attachments kept with the answer, and those refused (type or size), by name."""
    limit = ctx.settings.answers_max_upload_mb * 1024 * 1024
    allowed = ctx.settings.answers_allowed_types
    kept, refused = [], []
    for item in incoming.attachments:
        extension = item.filename.rsplit(".", 1)[-1].lower() if "." in item.filename else ""
        if extension not in allowed or len(item.content) > limit:
            refused.append(item.filename)
            continue
        kept.append(requests.Upload(item.filename, item.content))
    return kept, refused


def _record_automatic(
    tx: Tx,
    row: InboundMessageRow,
    process: ProcessRow | None,
    request: RequestRow | None,
    kind: str,
    incoming: mail.Incoming,
    now: datetime,
) -> InboundOutcome:
    """An out-of-office, auto-reply or bounce: kept and shown, never taken as an answer."""
    row.status = RECORDED
    tx.session.add(row)
    tx.session.flush()
    if process is not None:
        tx.audit(
            AuditRecord(
                at=now,
                actor=INBOUND_ACTOR,
                action="mail.bounce" if kind == mail.BOUNCE else "mail.auto_reply",
                process=process.key,
                entity=f"inbound:{row.id}",
                after={
                    "classification": kind,
                    "from": incoming.sender,
                    "subject": incoming.subject,
                    "request": request.id if request else None,
                },
            )
        )
    return _outcome(tx, row)


def _quarantine(
    ctx: Context,
    tx: Tx,
    row: InboundMessageRow,
    process: ProcessRow | None,
    request: RequestRow | None,
    reason: str,
    now: datetime,
) -> InboundOutcome:
    """Keep the mail for the coordinator's review. The coordinator of the process is told by the
    next quarantine alert (`services.quarantine_alerts`: one per process and hour, listing them)."""
    row.status, row.reason = QUARANTINED, reason
    row.process_id = process.id if process else None
    row.request_id = request.id if request else None
    tx.session.add(row)
    tx.session.flush()
    tx.audit(
        AuditRecord(
            at=now,
            actor=INBOUND_ACTOR,
            action="mail.quarantined",
            process=process.key if process else None,
            entity=f"inbound:{row.id}",
            reason=reason,
            after={
                "from": row.header_from,
                "subject": row.subject,
                "request": request.id if request else None,
            },
        )
    )
    return _outcome(tx, row)


# --- the coordinator's review -------------------------------------------------------------------


def _entry(session: Session, row: InboundMessageRow) -> dict[str, Any]:
    process = session.get(ProcessRow, row.process_id) if row.process_id else None
    return {
        "id": row.id,
        "received_at": iso(row.received_at),
        "via": row.via,
        "from": row.header_from,
        "envelope_from": row.envelope_from,
        "subject": row.subject,
        "classification": row.classification,
        "status": row.status,
        "reason": row.reason,
        "process": process.key if process else None,
        "request": row.request_id,
        "decided_by": row.decided_by,
        "decided_at": iso(row.decided_at),
        "raw_sha256": row.raw_sha256,
    }


def list_quarantine(ctx: Context, key: str | None = None) -> list[dict[str, Any]]:
    """The mails waiting in quarantine, of one process or of all (those matching none included)."""
    with ctx.db.reading() as session:
        query = select(InboundMessageRow).where(InboundMessageRow.status == QUARANTINED)
        if key is not None:
            process = repo.get_process(session, key)
            query = query.where(InboundMessageRow.process_id == process.id)
        return [_entry(session, r) for r in session.exec(query.order_by(col(InboundMessageRow.id)))]


def list_inbound(ctx: Context, key: str) -> list[dict[str, Any]]:
    """Every mail received for a process: answers, out-of-office and other auto-replies, bounces,
    quarantined mails and what the coordinator decided about them."""
    with ctx.db.reading() as session:
        process = repo.get_process(session, key)
        rows = session.exec(
            select(InboundMessageRow)
            .where(InboundMessageRow.process_id == process.id)
            .order_by(col(InboundMessageRow.id))
        )
        return [_entry(session, r) for r in rows]


def _quarantined(tx: Tx, inbound_id: int) -> InboundMessageRow:
    row = tx.session.get(InboundMessageRow, inbound_id)
    if row is None:
        raise NotFound(f"no received mail #{inbound_id}; `ibmflow quarantine list` shows them.")
    if row.status != QUARANTINED:
        raise InvalidCommand(
            f"mail #{inbound_id} is {row.status}, not in quarantine; nothing changed."
        )
    return row


def assign(ctx: Context, inbound_id: int, request_id: int, actor: str) -> None:
    """The coordinator decides that a quarantined mail IS the answer to a request: record it."""
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        row = _quarantined(tx, inbound_id)
        request = tx.session.get(RequestRow, request_id)
        if request is None:
            raise NotFound(f"no request #{request_id}; `ibmflow request list PROCESS` shows them.")
        found = tx.session.get(ProcessRow, request.process_id)
        assert found is not None
        process = repo.get_process(tx.session, found.key, lock=True)
        if row.process_id is not None and row.process_id != process.id:
            raise InvalidCommand(
                f"mail #{inbound_id} belongs to another process than request #{request_id} "
                f"({process.key}); nothing changed."
            )
        try:
            incoming = mail.parse(ctx.documents.read(row.raw_sha256))
        except (mail.MalformedMessage, OSError) as exc:
            raise InvalidCommand(
                f"mail #{inbound_id} cannot be read ({exc}); reject it and record the answer "
                "with `ibmflow answer` instead."
            ) from None
        try:
            _check_open(request)
            _answer(ctx, tx, process, request, incoming, row, now, assigned_by=actor)
        except _Refused as refused:
            raise InvalidCommand(f"{refused.reason}; nothing changed.") from None
        before: dict[str, JSONValue] = {"status": row.status, "request": row.request_id}
        row.status, row.request_id, row.process_id = ASSIGNED, request.id, process.id
        row.decided_by, row.decided_at = actor, now
        tx.session.add(row)
        tx.audit(
            AuditRecord(
                at=now,
                actor=actor,
                action="quarantine.assigned",
                process=process.key,
                entity=f"inbound:{inbound_id}",
                before=before,
                after={"status": ASSIGNED, "request": request.id, "from": row.header_from},
            )
        )


def reject(ctx: Context, inbound_id: int, reason: str, actor: str) -> None:
    """The coordinator decides that a quarantined mail is no answer (the mail itself is kept)."""
    if not reason.strip():
        raise InvalidCommand("a reason is required to reject a mail in quarantine.")
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        row = _quarantined(tx, inbound_id)
        process = tx.session.get(ProcessRow, row.process_id) if row.process_id else None
        before: dict[str, JSONValue] = {"status": row.status, "reason": row.reason}
        row.status, row.decided_by, row.decided_at = REJECTED, actor, now
        row.reason = f"{row.reason}; rejected: {reason.strip()}" if row.reason else reason.strip()
        tx.session.add(row)
        tx.audit(
            AuditRecord(
                at=now,
                actor=actor,
                action="quarantine.rejected",
                process=process.key if process else None,
                entity=f"inbound:{inbound_id}",
                reason=reason.strip(),
                before=before,
                after={"status": REJECTED, "from": row.header_from},
            )
        )
