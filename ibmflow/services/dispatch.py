"""The dispatcher: claims due outbox rows, sends each outside any transaction, then marks it.

A row goes pending -> sent, or pending -> (deferred, still pending) -> ... -> failed; no row is ever
deleted. Claiming sets a lease (`claimed_until`, `claimed_by`; `mail.lease_s`) in a short write
transaction, renewed before each delivery of the pass; a dispatcher killed between the server's
acceptance and the marking leaves the lease to expire, and the row is claimed and sent again with the
same Message-ID: at most one duplicate, which the recipient's mail client shows as one message.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from ibmflow.audit import AuditRecord, JSONValue
from ibmflow.errors import IbmflowError
from ibmflow.mail.compose import compose, recipients
from ibmflow.mail.transport import (
    MailboxTransport,
    MailError,
    PartialDeliveryError,
    PermanentMailError,
    SmtpTransport,
    TransientMailError,
    Transport,
    build_transport,
)
from ibmflow.services import mailings, quarantine_alerts
from ibmflow.services.common import iso
from ibmflow.services.context import Context
from ibmflow.storage.db import Tx
from ibmflow.storage.tables import OutboxRow, ProcessRow

__all__ = [
    "MailboxTransport",
    "SmtpTransport",
    "build_transport",
    "dispatch_once",
    "retry_delay",
]

# The name it had before it moved out of `mail/`: log filters and alerts that match it keep working.
log = logging.getLogger("ibmflow.mail.dispatch")

ACTOR = "system:dispatcher"
MAX_DELAY = timedelta(days=1)
DELIVERY_FAILURE = "delivery_failure"


@dataclass
class DispatchReport:
    """What one pass did, by outbox id."""

    claimed: list[int] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the command line."""
        return (
            f"claimed {len(self.claimed)}, sent {len(self.sent)}, deferred {len(self.deferred)}, "
            f"failed {len(self.failed)}"
        )


def retry_delay(attempts: int, base_s: int, rng: random.Random | None = None) -> timedelta:
    """The wait after the `attempts`-th failed try: exponential with full jitter, capped at a day.

    Full jitter (a uniform draw between 0 and the exponential bound) spreads the retries of many
    rows that failed together, e.g. while the server was down, instead of retrying them in step.
    """
    bound = min(MAX_DELAY.total_seconds(), base_s * 2.0 ** max(attempts - 1, 0))
    draw = (rng or random).uniform(0, bound)
    return timedelta(seconds=max(1.0, draw))


def _claim(ctx: Context, worker_id: str, lease_s: int, batch: int) -> list[OutboxRow]:
    now = ctx.clock.now()
    due = (
        select(OutboxRow)
        .where(
            OutboxRow.status == "pending",
            OutboxRow.next_attempt_at <= now,
            sa.or_(col(OutboxRow.claimed_until).is_(None), col(OutboxRow.claimed_until) <= now),
        )
        .order_by(col(OutboxRow.next_attempt_at), col(OutboxRow.id))
        .limit(batch)
    )
    if not ctx.db.is_sqlite:
        # Two dispatchers on PostgreSQL each take rows the other has not locked; on SQLite the
        # write transaction's BEGIN IMMEDIATE already lets only one claim at a time.
        due = due.with_for_update(skip_locked=True)
    with ctx.db.transaction() as tx:
        rows = list(tx.session.exec(due))
        for row in rows:
            row.claimed_until = now + timedelta(seconds=lease_s)
            row.claimed_by = worker_id[:100]
            tx.session.add(row)
        return rows


def _locked(tx: Tx, row_id: int) -> OutboxRow | None:
    query = select(OutboxRow).where(OutboxRow.id == row_id).with_for_update()
    return tx.session.exec(query).one_or_none()


def _process(tx: Tx, row: OutboxRow) -> ProcessRow | None:
    return tx.session.get(ProcessRow, row.process_id) if row.process_id is not None else None


def _audit(
    tx: Tx,
    row: OutboxRow,
    process: ProcessRow | None,
    action: str,
    now: datetime,
    **extra: JSONValue,
) -> None:
    tx.audit(
        AuditRecord(
            at=now,
            actor=ACTOR,
            action=action,
            process=process.key if process else None,
            entity=f"outbox:{row.id}",
            after={
                "kind": row.kind,
                "to": list(row.to_addrs),
                "message_id": row.message_id,
                "attempts": row.attempts,
                **extra,
            },
            reason=str(extra["reason"]) if "reason" in extra else None,
        )
    )


def _tell_coordinator(
    ctx: Context,
    tx: Tx,
    row: OutboxRow,
    process: ProcessRow | None,
    failed_to: Sequence[str],
    reason: str,
    now: datetime,
) -> None:
    # A delivery failure about a delivery failure would loop (the coordinator's own address may be
    # the one failing): the audit event and `ibmflow mail list --status failed` are enough then.
    if row.kind == DELIVERY_FAILURE or process is None:
        return
    to = mailings.addresses_for_roles(tx, process, ["coordinator"])
    if not to:
        return
    mailings.send(
        ctx,
        tx,
        process,
        DELIVERY_FAILURE,
        to,
        {
            "failure": {
                "outbox_id": row.id,
                "to": list(failed_to),
                "subject": row.subject,
                "reason": reason,
                "kind": row.kind,
                "attempts": row.attempts,
            }
        },
        now,
        request_id=row.request_id,
        dedupe_key=f"{DELIVERY_FAILURE}:{row.id}",
    )


def _mark_sent(
    ctx: Context, row_id: int, worker_id: str, refused: dict[str, str] | None = None
) -> bool:
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        row = _locked(tx, row_id)
        if row is None or row.status != "pending":
            return False  # another dispatcher, whose lease this one outlived, marked it already
        row.status, row.sent_at, row.attempts = "sent", now, row.attempts + 1
        row.claimed_until = None
        row.last_error = None
        process = _process(tx, row)
        extra: dict[str, JSONValue] = {"worker": worker_id}
        if refused:
            row.last_error = "; ".join(f"{a}: {r}" for a, r in sorted(refused.items()))
            extra["refused"] = dict(refused)
        tx.session.add(row)
        _audit(tx, row, process, "mail.delivered", now, **extra)
        if refused:
            _tell_coordinator(ctx, tx, row, process, sorted(refused), row.last_error or "", now)
        return True


def _mark_failed_try(ctx: Context, row_id: int, worker_id: str, error: MailError) -> str:
    """Record a failed try; return "deferred" or "failed" (or "skipped" if no longer ours)."""
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        row = _locked(tx, row_id)
        if row is None or row.status != "pending" or row.claimed_by != worker_id[:100]:
            return "skipped"  # re-claimed by another dispatcher after this one's lease ran out
        row.attempts += 1
        row.last_error = str(error)
        row.claimed_until = None
        process = _process(tx, row)
        permanent = isinstance(error, PermanentMailError)
        if permanent or row.attempts >= ctx.settings.mail_max_attempts:
            row.status = "failed"
            tx.session.add(row)
            reason = str(error) if permanent else f"gave up after {row.attempts} tries: {error}"
            row.last_error = reason
            _audit(tx, row, process, "mail.failed", now, reason=reason, worker=worker_id)
            _tell_coordinator(ctx, tx, row, process, recipients(row), reason, now)
            return "failed"
        row.next_attempt_at = now + retry_delay(row.attempts, ctx.settings.mail_retry_base_s)
        tx.session.add(row)
        _audit(
            tx,
            row,
            process,
            "mail.deferred",
            now,
            reason=str(error),
            next_attempt_at=iso(row.next_attempt_at),
            worker=worker_id,
        )
        return "deferred"


def _renew(ctx: Context, worker_id: str, ids: Sequence[int], lease_s: int) -> set[int]:
    """Extend this dispatcher's claims on the rows it has not sent yet; return the ids still its own
    (a row another dispatcher took once the lease ran out, or marked, is no longer)."""
    now = ctx.clock.now()
    mine = (
        col(OutboxRow.id).in_(list(ids)),
        col(OutboxRow.claimed_by) == worker_id[:100],
        col(OutboxRow.status) == "pending",
    )
    with ctx.db.transaction() as tx:
        tx.session.connection().execute(
            sa.update(OutboxRow).where(*mine).values(claimed_until=now + timedelta(seconds=lease_s))
        )
        return {i for i in tx.session.exec(select(OutboxRow.id).where(*mine)) if i is not None}


def _release(ctx: Context, worker_id: str, ids: Sequence[int]) -> None:
    """Give up the claims on rows this dispatcher will not send: the next pass takes them at once."""
    if not ids:
        return
    with ctx.db.transaction() as tx:
        tx.session.connection().execute(
            sa.update(OutboxRow)
            .where(
                col(OutboxRow.id).in_(list(ids)),
                col(OutboxRow.claimed_by) == worker_id[:100],
                col(OutboxRow.status) == "pending",
            )
            .values(claimed_until=None, claimed_by=None)
        )


async def dispatch_once(
    ctx: Context,
    transport: Transport,
    *,
    worker_id: str,
    lease_s: int | None = None,
    batch: int = 50,
    stop: Callable[[], bool] | None = None,
) -> DispatchReport:
    """Write the quarantine alerts that are due, then claim up to `batch` due rows, send each, and
    mark each in its own transaction.

    The claims last `lease_s` (`mail.lease_s`, 60 s) and are renewed before each delivery, so a long
    pass keeps them while a killed dispatcher's are taken up a lease later. When `stop()` turns true
    the mail in hand is finished, and the claims on the rest are given up for the next pass.
    """
    lease = lease_s or ctx.settings.mail_lease_s
    try:
        quarantine_alerts.flush(ctx)
    except IbmflowError as exc:
        # A broken alert template must not hold up every other mail: the quarantined mails stay
        # waiting for the alert, which the next pass tries again.
        log.warning("quarantine alerts not written: %s; retrying at the next pass", exc.message)
    report = DispatchReport()
    rows = _claim(ctx, worker_id, lease, batch)
    left = [row.id or 0 for row in rows]
    for row in rows:
        if stop is not None and stop():
            _release(ctx, worker_id, left)  # not begun: the next pass takes them at once
            break
        row_id = row.id or 0
        report.claimed.append(row_id)
        left.remove(row_id)
        # Renewed as the pass goes: a slow pass keeps what it claimed, but a row another
        # dispatcher took meanwhile (this one's lease ran out) is left to it.
        if row_id not in _renew(ctx, worker_id, [row_id, *left], lease):
            report.skipped.append(row_id)
            continue
        getattr(report, await _deliver(ctx, transport, row, worker_id)).append(row_id)
    return report


async def _deliver(ctx: Context, transport: Transport, row: OutboxRow, worker_id: str) -> str:
    """Send one claimed row and mark it; "sent", "deferred", "failed" or "skipped"."""
    row_id = row.id or 0
    try:
        message = compose(row, ctx.settings)
        to = recipients(row)
    except (ValueError, TypeError, IbmflowError) as exc:
        # A row that cannot be composed (edited by hand) will not improve by waiting.
        return _mark_failed_try(
            ctx, row_id, worker_id, PermanentMailError(f"cannot compose the message: {exc}")
        )
    try:
        await transport.send(message, to)
    except PartialDeliveryError as exc:
        return "sent" if _mark_sent(ctx, row_id, worker_id, exc.refused) else "skipped"
    except (TransientMailError, PermanentMailError) as exc:
        return _mark_failed_try(ctx, row_id, worker_id, exc)
    return "sent" if _mark_sent(ctx, row_id, worker_id) else "skipped"
