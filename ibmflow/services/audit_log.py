"""Use cases on the audit log: verify the whole chain, show a process's history."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlmodel import col, select

from ibmflow.audit import ChainedEvent, Verification, record_to_json, verify
from ibmflow.services.common import iso
from ibmflow.services.context import Context
from ibmflow.storage import repository as repo
from ibmflow.storage.db import row_to_event
from ibmflow.storage.tables import AuditEventRow, AuditHeadRow

_BATCH = 5000


def verify_chain(ctx: Context) -> Verification:
    """Recompute every link of the chain, in order, against the head row."""
    with ctx.db.reading() as session:
        head = session.get(AuditHeadRow, 1)
        expected = (head.seq, head.hash) if head is not None else None

        read: list[int] = [0]

        def events() -> Iterator[ChainedEvent]:
            while True:
                query = select(AuditEventRow).order_by(col(AuditEventRow.seq)).limit(_BATCH)
                rows = session.exec(query.where(col(AuditEventRow.seq) > read[0])).all()
                if not rows:
                    return
                for row in rows:
                    yield row_to_event(row)
                read[0] = rows[-1].seq

        try:
            return verify(events(), expected_head=expected)
        except (ValueError, TypeError) as exc:  # a stored value no longer even parses
            return Verification(
                ok=False,
                checked=0,
                head_seq=0,
                head_hash="",
                first_bad_seq=read[0] + 1,
                problem=f"an event after #{read[0]} cannot be read any more "
                f"({exc}): the stored log was altered",
            )


def process_log(ctx: Context, key: str) -> list[dict[str, Any]]:
    """A process's audit events, oldest first."""
    with ctx.db.reading() as session:
        repo.get_process(session, key)
        rows = session.exec(
            select(AuditEventRow)
            .where(AuditEventRow.process == key)
            .order_by(col(AuditEventRow.seq))
        ).all()
        out = []
        for row in rows:
            event = row_to_event(row)
            data = record_to_json(event.record)
            data.update({"seq": row.seq, "at": iso(row.at), "hash": row.hash})
            out.append(data)
        return out
