"""Use cases on the audit log: verify the whole chain, show a process's history."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from ibmflow.audit import GENESIS_HASH, Link, Verification, record_to_json, verify
from ibmflow.services.common import iso
from ibmflow.services.context import Context
from ibmflow.storage import repository as repo
from ibmflow.storage.queries import audit as queries


class Progress(Protocol):
    """Told how far a verification got: `start` before each pass over the chain, then `advance`."""

    def start(self, total: int, what: str) -> None:
        """A pass over `total` events begins."""

    def advance(self, done: int) -> None:
        """`done` more events were checked."""


def verify_chain(ctx: Context, progress: Progress | None = None) -> Verification:
    """Recompute every link of the chain, in storage order, against the head row.

    One pass reads the events in batches and follows them, keeping none: an intact chain is
    verified in that pass. Only when it finds an event out of place does a second pass read them all
    again, into memory, for `audit.verify` to say which event is at fault and how. Both passes and
    the head read the same snapshot of the database, so appends meanwhile change nothing.
    """
    with ctx.db.reading() as session:
        conn = queries.snapshot(session)
        expected = queries.head(conn)
        total = queries.count(conn) if progress is not None else 0
        if progress is not None:
            progress.start(total, "verifying the audit chain")
        tail, checked, follows = (0, GENESIS_HASH), 0, True
        for rows in queries.stored_batches(conn):
            followed = queries.follow(conn.dialect, rows, tail)
            if followed is None:
                follows = False
                break
            tail, checked = followed, checked + len(rows)
            if progress is not None:
                progress.advance(len(rows))
        if follows and (expected is None or expected == tail):
            return Verification(True, checked, tail[0], tail[1], None, None)

        def links() -> Iterator[Link]:
            if progress is not None:
                progress.start(total, "finding where the chain is broken")
            for rows in queries.stored_batches(conn):
                yield from queries.links(conn.dialect, rows)
                if progress is not None:
                    progress.advance(len(rows))

        return verify(links(), expected_head=expected)


def process_log(ctx: Context, key: str) -> list[dict[str, Any]]:
    """A process's audit events, oldest first."""
    with ctx.db.reading() as session:
        repo.get_process(session, key)
        out = []
        for event in queries.of_process(session, key):
            data = record_to_json(event.record)
            data.update({"seq": event.seq, "at": iso(event.record.at), "hash": event.hash})
            out.append(data)
        return out
