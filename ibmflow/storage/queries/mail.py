"""The queries on mail: the outbox (what ibmflow wrote, which dedupe keys it holds, a process's
latest mail of a kind) and the mails received that wait in quarantine."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, func, select

from ibmflow.storage.queries.outbox import written
from ibmflow.storage.tables import InboundMessageRow, OutboxRow


def outbox(session: Session, *, process_id: int | None, status: str | None) -> list[OutboxRow]:
    """The outbox rows, oldest first, of one process (or all) and of one status (or any)."""
    query = select(OutboxRow).order_by(col(OutboxRow.id))
    if process_id is not None:
        query = query.where(OutboxRow.process_id == process_id)
    if status is not None:
        query = query.where(OutboxRow.status == status)
    return list(written(session).exec(query))


def dedupe_keys_taken(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of these dedupe keys a mail in the outbox already has."""
    wanted = list(keys)
    if not wanted:
        return set()
    query = select(OutboxRow.dedupe_key).where(col(OutboxRow.dedupe_key).in_(wanted))
    rows = written(session).exec(query)
    return {key for key in rows if key is not None}


def latest_of_kind(session: Session, process_id: int, kind: str) -> OutboxRow | None:
    """The process's latest mail of this kind in the outbox, if any."""
    query = (
        select(OutboxRow)
        .where(OutboxRow.kind == kind, OutboxRow.process_id == process_id)
        .order_by(col(OutboxRow.id).desc())
        .limit(1)
    )
    return written(session).exec(query).first()


def newest_received_until(session: Session, process_id: int, moment: datetime) -> int:
    """The id of the process's newest mail received at or before `moment` (0 if none)."""
    newest = session.exec(
        select(func.max(InboundMessageRow.id)).where(
            InboundMessageRow.process_id == process_id,
            col(InboundMessageRow.received_at) <= moment,
        )
    ).one()
    return int(newest or 0)


def processes_with_status(session: Session, status: str) -> list[int]:
    """The ids of the processes with a received mail in this status (e.g. quarantined)."""
    rows = session.exec(
        select(InboundMessageRow.process_id)
        .where(InboundMessageRow.status == status, col(InboundMessageRow.process_id).is_not(None))
        .distinct()
    )
    return sorted(pid for pid in rows if pid is not None)


def received_after(
    session: Session, process_id: int, status: str, after: int
) -> list[InboundMessageRow]:
    """The process's received mails in this status with an id above `after`, oldest first."""
    return list(
        session.exec(
            select(InboundMessageRow)
            .where(
                InboundMessageRow.process_id == process_id,
                InboundMessageRow.status == status,
                col(InboundMessageRow.id) > after,
            )
            .order_by(col(InboundMessageRow.id))
        )
    )
