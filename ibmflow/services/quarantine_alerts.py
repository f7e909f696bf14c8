"""The coordinator's quarantine alert: at most one mail per process and `mail.quarantine_alert_every_s`
(an hour by default), listing every mail quarantined since the previous alert.

The receiver only records a quarantined mail (its row and audit event). `flush`, which every dispatch
pass runs before it reads the outbox (`ibmflow mail dispatch`, the worker), writes the alert of each
process whose previous alert is old enough, in one transaction with the process locked, so that two
dispatchers never write two. The alert's dedupe key, `quarantine_alert:<process id>:<last mail id>`,
records how far it reached: the mails after it wait for the next alert, and none is left out.

Not listed: mails the coordinator has already assigned or rejected, and mails sent by a coordinator
of the process (a coordinator answering an alert is not told about their own mail).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from ibmflow.services import mailings
from ibmflow.services.context import Context
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import mail
from ibmflow.storage.tables import InboundMessageRow, OutboxRow, ProcessRow

KIND = "quarantine_alert"
QUARANTINED = "quarantined"
# An alert lists this many mails at most (the oldest first); `ibmflow quarantine list` has them all.
LISTED = 100


@dataclass(frozen=True)
class _Pending:
    reached: int  # the last mail id the alert covers
    listed: list[InboundMessageRow]
    coordinators: list[str]


def _key(process_id: int, last: int) -> str:
    return f"{KIND}:{process_id}:{last}"


def _reached(session: Session, process_id: int, alert: OutboxRow) -> int:
    """The last mail id an alert covers: from its key, or (an alert of an earlier version, one per
    mail) every mail of the process received until it was written."""
    prefix = f"{KIND}:{process_id}:"
    if alert.dedupe_key and alert.dedupe_key.startswith(prefix):
        tail = alert.dedupe_key.removeprefix(prefix)
        if tail.isdigit():
            return int(tail)
    return mail.newest_received_until(session, process_id, alert.created_at)


def _pending(tx: Tx, process: ProcessRow, now: datetime, every: timedelta) -> _Pending | None:
    """What the process's next alert lists, if one is due now."""
    alert = mail.latest_of_kind(tx.session, process.id or 0, KIND)
    if alert is not None and now - alert.created_at < every:
        return None
    after = _reached(tx.session, process.id or 0, alert) if alert is not None else 0
    rows = mail.received_after(tx.session, process.id or 0, QUARANTINED, after)
    coordinators = mailings.addresses_for_roles(tx, process, ["coordinator"])
    listed = [r for r in rows if _sender(r) not in coordinators]
    if not listed or not coordinators:
        return None
    return _Pending(max(r.id or 0 for r in rows), listed, coordinators)


def _sender(row: InboundMessageRow) -> str:
    return (row.header_from or "").rpartition("<")[2].rstrip(">").strip().lower()


def _entry(process: ProcessRow, row: InboundMessageRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "sender": row.header_from or row.envelope_from or "(no sender)",
        "subject": row.subject or "(no subject)",
        "reason": row.reason or "",
        "received_at": row.received_at,
    }


def interval_text(every: timedelta) -> dict[str, Any] | None:
    """The alert interval for the mail, in the largest whole unit: {"unit": "hour", "count": 2}
    (the template says it in the reader's language); None for none."""
    seconds = int(every.total_seconds())
    for size, unit in ((3600, "hour"), (60, "minute"), (1, "second")):
        if seconds and seconds % size == 0:
            return {"unit": unit, "count": seconds // size}
    return None


def flush(ctx: Context) -> list[str]:
    """Write the quarantine alert of every process that has one due; their Message-IDs."""
    now = ctx.clock.now()
    every = timedelta(seconds=ctx.settings.mail_quarantine_alert_every_s)
    with ctx.db.reading() as session:
        due = []
        for process_id in mail.processes_with_status(session, QUARANTINED):
            process = session.get(ProcessRow, process_id)
            if process is not None and _pending(Tx(session), process, now, every) is not None:
                due.append(process.key)
    return [m for key in due if (m := _write(ctx, key, now, every)) is not None]


def _write(ctx: Context, key: str, now: datetime, every: timedelta) -> str | None:
    with ctx.db.transaction() as tx:
        process = repo.get_process(tx.session, key, lock=True)
        # Again under the lock: another dispatcher may have written it meanwhile.
        pending = _pending(tx, process, now, every)
        if pending is None:
            return None
        listed = pending.listed
        return mailings.send(
            ctx,
            tx,
            process,
            KIND,
            pending.coordinators,
            {
                "messages": [_entry(process, r) for r in listed[:LISTED]],
                "count": len(listed),
                "more": max(0, len(listed) - LISTED),
                "interval": interval_text(every),
            },
            now,
            dedupe_key=_key(process.id or 0, pending.reached),
        )
