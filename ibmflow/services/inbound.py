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

from sqlalchemy.exc import SQLAlchemyError

from ibmflow.errors import DatabaseNotReady, IbmflowError, InvalidCommand
from ibmflow.i18n import _
from ibmflow.mail import inbound as mail
from ibmflow.services import replies
from ibmflow.services.context import Context
from ibmflow.services.quarantine import assign as assign  # the coordinator's review, re-exported
from ibmflow.services.quarantine import list_inbound as list_inbound
from ibmflow.services.quarantine import list_quarantine as list_quarantine
from ibmflow.services.quarantine import reject as reject
from ibmflow.services.replies import ANSWERED as ANSWERED
from ibmflow.services.replies import INBOUND_ACTOR, QUARANTINED, RECORDED
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import answers as queries
from ibmflow.storage.tables import InboundMessageRow, ProcessRow, RequestRow

log = logging.getLogger(__name__)

VIAS = ("smtp", "lmtp", "imap")
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
        raise InvalidCommand(
            _(
                "unknown inbound channel %(via)r; one of %(channels)s.",
                via=via,
                channels=", ".join(VIAS),
            )
        )
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
    earlier = queries.inbound_by_digest(tx.session, digest)
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
        tx.session.add(row)
        tx.session.flush()
        with tx.savepoint():  # a refusal rolls back what the intake wrote
            replies.answer_reply(ctx, tx, process, request, incoming, row, now, assigned_by=None)
    except replies.Refused as refused:
        return _quarantine(ctx, tx, row, process, request, refused.reason, now)
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
    by_key = [r for k in keys if (r := queries.request_by_reply_key(tx.session, k))]
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
    rows = queries.mails_by_message_id(tx.session, ids)
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


# --- what is never an answer ------------------------------------------------------------------


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
        tx.acting(INBOUND_ACTOR, now, process.key).record(
            "mail.bounce" if kind == mail.BOUNCE else "mail.auto_reply",
            f"inbound:{row.id}",
            after={
                "classification": kind,
                "from": incoming.sender,
                "subject": incoming.subject,
                "request": request.id if request else None,
            },
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
    tx.acting(INBOUND_ACTOR, now, process.key if process else None).record(
        "mail.quarantined",
        f"inbound:{row.id}",
        reason=reason,
        after={
            "from": row.header_from,
            "subject": row.subject,
            "request": request.id if request else None,
        },
    )
    return _outcome(tx, row)
