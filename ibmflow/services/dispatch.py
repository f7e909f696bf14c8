"""The dispatcher: claims due outbox rows, sends them outside any transaction, then marks them.

A row goes pending -> sent, or pending -> (deferred, still pending) -> ... -> failed; no row is ever
deleted. A pass claims `mail.batch` rows in one short write transaction, for `mail.lease_s`, and
sends them over one SMTP connection (`smtp.max_per_connection` messages at most on each). Delivered
rows are marked sent together, `MARK_EVERY` at a time, in one transaction with their audit events;
a failed try is marked at once. The claims are renewed as the pass goes, whenever less than
`smtp.timeout_s` of the lease is left (the rows delivered and not yet marked are marked first), so
each delivery starts with at least that much of it.

A dispatcher killed between the server's acceptance and the marking leaves the lease to expire, and
the rows it delivered since it last marked are claimed and sent again with the same Message-ID: at
most one duplicate of each (at most `MARK_EVERY` of them), which the recipient's mail client shows
as one message.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from functools import partial

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
    connected,
)
from ibmflow.services import outbox, quarantine_alerts
from ibmflow.services.common import iso
from ibmflow.services.context import Context
from ibmflow.services.delivery_failures import Failure, tell_coordinator
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import outbox as queries
from ibmflow.storage.queries.outbox import Claimed
from ibmflow.storage.tables import ProcessRow

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
MARK_EVERY = 50  # delivered rows marked sent in one transaction


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


@dataclass(frozen=True)
class _Delivered:
    """A row the server took, waiting to be marked sent."""

    row: Claimed
    at: datetime
    refused: dict[str, str] | None = None


@dataclass
class _Pass:
    """One pass of one dispatcher: its claims, and the rows delivered and not yet marked."""

    ctx: Context
    worker_id: str
    lease_s: int
    until: datetime
    report: DispatchReport = field(default_factory=DispatchReport)
    delivered: list[_Delivered] = field(default_factory=list)

    def claim(self, batch: int) -> list[Claimed]:
        now = self.ctx.clock.now()
        with self.ctx.db.transaction() as tx:
            return queries.claim(
                tx.session.connection(),
                now=now,
                worker=self.worker_id,
                until=self.until,
                batch=batch,
                skip_locked=not self.ctx.db.is_sqlite,
            )

    def keeps(self, row_id: int, left: Sequence[Claimed]) -> bool:
        """Whether `row_id` is still this dispatcher's to send, renewing its claims first when less
        than `smtp.timeout_s` of the lease is left (after marking what it delivered): a slow pass
        keeps what it claimed, but a row another dispatcher took meanwhile (this one's lease ran
        out) is left to it."""
        now = self.ctx.clock.now()
        if self.until - now >= timedelta(seconds=self.ctx.settings.smtp_timeout_s):
            return True
        self.mark()
        self.until = now + timedelta(seconds=self.lease_s)
        with self.ctx.db.transaction() as tx:
            conn = tx.session.connection()
            ids = [row_id, *(r.id for r in left)]
            mine = queries.renew(conn, self.worker_id, ids, self.until)
        return row_id in mine

    def release(self, ids: Sequence[int]) -> None:
        """Give up the claims on rows this dispatcher will not send: the next pass takes them."""
        if ids:
            with self.ctx.db.transaction() as tx:
                queries.release(tx.session.connection(), self.worker_id, ids)

    def delivered_one(self, row: Claimed, refused: dict[str, str] | None = None) -> None:
        self.delivered.append(_Delivered(row, self.ctx.clock.now(), refused))
        if len(self.delivered) >= MARK_EVERY:
            self.mark()

    def mark(self) -> None:
        """Mark the delivered rows sent, with their `mail.delivered` audit events, in one
        transaction; a row another dispatcher (whose lease this one outlived) marked already is
        reported skipped."""
        delivered, self.delivered = self.delivered, []
        if not delivered:
            return
        ctx = self.ctx
        with ctx.db.transaction() as tx:
            conn = tx.session.connection()
            ids = [d.row.id for d in delivered]
            pending = queries.pending_of(conn, ids, lock=not ctx.db.is_sqlite)
            keys = queries.process_keys(conn, (d.row.process_id for d in delivered))
            marks, records, partial = [], [], []
            for d in delivered:
                row = d.row
                if row.id not in pending:
                    self.report.skipped.append(row.id)
                    continue
                tries = pending[row.id] + 1
                refused = d.refused or {}
                error = "; ".join(f"{a}: {r}" for a, r in sorted(refused.items())) or None
                mark = {"mail": row.id, "at": d.at, "tries": tries, "error": error}
                if (
                    row.template_context is not None
                ):  # rendered here: keep the text it was sent with
                    mark.update(subject=row.subject, text=row.text_body, html=row.html_body)
                marks.append(mark)
                extra: dict[str, JSONValue] = {"worker": self.worker_id}
                if refused:
                    extra["refused"] = dict(refused)
                    partial.append((d, tries, error or ""))
                key = keys.get(row.process_id) if row.process_id is not None else None
                records.append(_record(row, key, "mail.delivered", d.at, tries, **extra))
                self.report.sent.append(row.id)
            queries.mark_sent(conn, marks)
            tx.audit_many(records)
            for d, tries, error in partial:
                process = _process(tx, d.row.process_id)
                failure = Failure.of(d.row, tries)
                tell_coordinator(ctx, tx, failure, process, sorted(d.refused or {}), error, d.at)


def _record(
    row: Claimed, process: str | None, action: str, now: datetime, tries: int, **extra: JSONValue
) -> AuditRecord:
    return AuditRecord(
        at=now,
        actor=ACTOR,
        action=action,
        process=process,
        entity=f"outbox:{row.id}",
        after={
            "kind": row.kind,
            "to": list(row.to_addrs),
            "message_id": row.message_id,
            "attempts": tries,
            **extra,
        },
        reason=str(extra["reason"]) if "reason" in extra else None,
    )


def _process(tx: Tx, process_id: int | None) -> ProcessRow | None:
    return tx.session.get(ProcessRow, process_id) if process_id is not None else None


def _mark_failed_try(ctx: Context, claimed: Claimed, worker_id: str, error: MailError) -> str:
    """Record a failed try; return "deferred" or "failed" (or "skipped" if no longer ours)."""
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        row = queries.locked_row(tx.session, claimed.id)
        if row is None or row.status != "pending" or row.claimed_by != worker_id[:100]:
            return "skipped"  # re-claimed by another dispatcher after this one's lease ran out
        row.attempts += 1
        row.last_error = str(error)
        row.claimed_until = None
        if row.text_body is None and claimed.text_body is not None:  # the text it was tried with
            row.subject, row.text_body = claimed.subject, claimed.text_body
            row.html_body, row.template_context = claimed.html_body, None
        process = _process(tx, row.process_id)
        key = process.key if process else None
        permanent = isinstance(error, PermanentMailError)
        if permanent or row.attempts >= ctx.settings.mail_max_attempts:
            row.status = "failed"
            tx.session.add(row)
            reason = str(error) if permanent else f"gave up after {row.attempts} tries: {error}"
            row.last_error = reason
            tx.audit(
                _record(
                    claimed, key, "mail.failed", now, row.attempts, reason=reason, worker=worker_id
                )
            )
            failure = Failure.of(claimed, row.attempts)
            tell_coordinator(ctx, tx, failure, process, recipients(row), reason, now)
            return "failed"
        row.next_attempt_at = now + retry_delay(row.attempts, ctx.settings.mail_retry_base_s)
        tx.session.add(row)
        tx.audit(
            _record(
                claimed,
                key,
                "mail.deferred",
                now,
                row.attempts,
                reason=str(error),
                next_attempt_at=iso(row.next_attempt_at),
                worker=worker_id,
            )
        )
        return "deferred"


async def dispatch_once(
    ctx: Context,
    transport: Transport,
    *,
    worker_id: str,
    lease_s: int | None = None,
    batch: int | None = None,
    stop: Callable[[], bool] | None = None,
) -> DispatchReport:
    """Write the quarantine alerts that are due, then claim up to `batch` (`mail.batch`) due rows
    and send them over one connection, marking them as described at the top of this module.

    The claims last `lease_s` (`mail.lease_s`, 60 s) and are renewed as the pass goes, so a long
    pass keeps them while a killed dispatcher's are taken up a lease later. When `stop()` turns true
    the mail in hand is finished and marked, and the claims on the rest are given up for the next
    pass.
    """
    lease = lease_s or ctx.settings.mail_lease_s
    try:
        quarantine_alerts.flush(ctx)
    except IbmflowError as exc:
        # A broken alert template must not hold up every other mail: the quarantined mails stay
        # waiting for the alert, which the next pass tries again.
        log.warning("quarantine alerts not written: %s; retrying at the next pass", exc.message)
    until = ctx.clock.now() + timedelta(seconds=lease)
    run = _Pass(ctx, worker_id, lease, until)
    rows = run.claim(batch or ctx.settings.mail_batch)
    if not rows:
        return run.report
    # The next mail, rendered and composed while the one before was sent.
    ahead: dict[int, tuple[Claimed, _Composed]] = {}

    def compose_next(index: int) -> None:
        ahead.clear()
        if index < len(rows):
            ahead[rows[index].id] = _composed(ctx, rows[index])

    try:
        async with connected(transport) as sender:
            for index, row in enumerate(rows):
                if stop is not None and stop():
                    run.mark()
                    run.release([r.id for r in rows[index:]])  # not begun: the next pass takes them
                    break
                run.report.claimed.append(row.id)
                if not run.keeps(row.id, rows[index + 1 :]):
                    run.report.skipped.append(row.id)
                    continue
                prepared = ahead.pop(row.id) if row.id in ahead else _composed(ctx, row)
                rendered, composed = prepared
                after = partial(compose_next, index + 1)
                outcome = await _deliver(run, sender, rendered, composed, after)
                if outcome != "delivered":
                    getattr(run.report, outcome).append(row.id)
    finally:
        run.mark()
    return run.report


_Composed = tuple[EmailMessage, list[str]] | PermanentMailError


def _composed(ctx: Context, row: Claimed) -> tuple[Claimed, _Composed]:
    """The row with its text (rendered now if it was kept unrendered), and its message and
    recipients; a row that cannot be rendered (a template missing or broken) or composed (edited
    by hand) will not improve by waiting: a permanent error."""
    try:
        row = outbox.with_text(ctx, row)
    except (ValueError, TypeError, IbmflowError) as exc:
        detail = exc.message if isinstance(exc, IbmflowError) else str(exc)
        return row, PermanentMailError(f"cannot render the message: {detail}")
    try:
        return row, (compose(row, ctx.settings), recipients(row))
    except (ValueError, TypeError, IbmflowError) as exc:
        return row, PermanentMailError(f"cannot compose the message: {exc}")


async def _deliver(
    run: _Pass, sender: Transport, row: Claimed, composed: _Composed, meanwhile: Callable[[], None]
) -> str:
    """Send one claimed row, doing `meanwhile` while the server answers its first command:
    "delivered" (marked later, with the others), or its failed try marked at once: "deferred",
    "failed" or "skipped"."""
    if isinstance(composed, PermanentMailError):
        meanwhile()
        return _mark_failed_try(run.ctx, row, run.worker_id, composed)
    sending = asyncio.ensure_future(sender.send(*composed))
    try:
        await asyncio.sleep(0)  # the send goes as far as its first wait for the server
        meanwhile()
    finally:
        await asyncio.wait([sending])  # whatever happened meanwhile, the send ends first
    try:
        sending.result()
    except PartialDeliveryError as exc:
        run.delivered_one(row, exc.refused)
        return "delivered"
    except (TransientMailError, PermanentMailError) as exc:
        return _mark_failed_try(run.ctx, row, run.worker_id, exc)
    run.delivered_one(row)
    return "delivered"
