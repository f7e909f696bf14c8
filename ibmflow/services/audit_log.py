"""Use cases on the audit log: verify the whole chain, or on from the last checkpoint, keeping the
result; a process's whole history (the command line's `audit log`; the console's page reads
`audit_views`).

Every verification is stored (`AuditCheckRow`, one row): when it ran, the last event it reached
(the checkpoint: its number and hash) and the fault when it found one. `verify_chain` starts at the
first event (the command line's `audit verify`, the worker's periodic job); `verify_onward`, which
the console's audit page runs, only follows the events appended since the checkpoint, so it cannot
see an event before the checkpoint altered: the next full verification does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from ibmflow.audit import GENESIS_HASH, Link, Verification, record_to_json, verify
from ibmflow.services.common import iso
from ibmflow.services.context import Context
from ibmflow.storage import repository as repo
from ibmflow.storage.queries import audit as queries
from ibmflow.storage.tables import AuditCheckRow


class Progress(Protocol):
    """Told how far a verification got: `start` before each pass over the chain, then `advance`."""

    def start(self, total: int, what: str) -> None:
        """A pass over `total` events begins."""

    def advance(self, done: int) -> None:
        """`done` more events were checked."""


@dataclass(frozen=True)
class LastCheck:
    """A stored verification: what it found (as `Verification` says it), when, and from where."""

    ok: bool
    checked: int  # events verified, from the first up to head_seq
    head_seq: int  # the last event that verified: where the next verification goes on from
    head_hash: str
    first_bad_seq: int | None
    problem: str | None
    at: datetime | None  # None: never verified (an empty chain needs nothing to verify)
    full: bool  # this one started at the first event
    full_at: datetime | None  # the last that did


def _last(row: AuditCheckRow) -> LastCheck:
    return LastCheck(
        row.ok,
        row.checked,
        row.head_seq,
        row.head_hash,
        row.first_bad_seq,
        row.problem,
        row.checked_at,
        row.full,
        row.full_at,
    )


def _store(ctx: Context, result: Verification, *, full: bool) -> LastCheck:
    """Keep `result` as the last verification; what is stored then (a concurrent one may win)."""
    now = ctx.clock.now()
    check = AuditCheckRow(
        checked_at=now,
        full=full,
        ok=result.ok,
        checked=result.checked,
        head_seq=result.head_seq,
        head_hash=result.head_hash,
        first_bad_seq=result.first_bad_seq,
        problem=result.problem,
        full_at=now if full else None,
    )
    with ctx.db.transaction() as tx:
        queries.store_check(tx.session, check)
        stored = queries.last_check(tx.session)
        assert stored is not None  # just written, or kept
        return _last(stored)


def last_check(ctx: Context) -> LastCheck | None:
    """The stored last verification, without verifying anything (None before the first)."""
    with ctx.db.reading() as session:
        row = queries.last_check(session)
        return None if row is None else _last(row)


def verify_chain(ctx: Context, progress: Progress | None = None) -> Verification:
    """Recompute every link of the chain from the first, in storage order, against the head row,
    and store the result as the last verification (its head the checkpoint `verify_onward` goes
    on from).

    One pass reads the events in batches and follows them, keeping none: an intact chain is
    verified in that pass. Only when it finds an event out of place does a second pass read them all
    again, into memory, for `audit.verify` to say which event is at fault and how. Both passes and
    the head read the same snapshot of the database, so appends meanwhile change nothing.
    """
    result = _verify_all(ctx, progress)
    _store(ctx, result, full=True)
    return result


def _verify_all(ctx: Context, progress: Progress | None) -> Verification:
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


def verify_onward(ctx: Context) -> LastCheck:
    """Verify the events appended since the stored checkpoint (the last event the last
    verification reached, which must still be stored with its hash) against the head row, and
    store the result; nothing to follow when the head has not moved.

    A fault stays the answer until a full verification (`verify_chain`) finds the chain intact
    again. When the events do not follow on from the checkpoint, the whole chain is verified, to
    say which event is at fault and how. Events before the checkpoint are not read: an alteration
    there is found by the next full verification, not here.
    """
    with ctx.db.reading() as session:
        conn = queries.snapshot(session)  # first: it sets how the session's connection reads
        stored = queries.last_check(session)
        last = None if stored is None else _last(stored)
        if last is not None and not last.ok:
            return last
        expected = queries.head(conn)
        start = (0, GENESIS_HASH) if last is None else (last.head_seq, last.head_hash)
        if expected is None and start[0] == 0:
            return last or LastCheck(True, 0, 0, GENESIS_HASH, None, None, None, False, None)
        tail = _follow_from(conn, start)
    if tail is None or tail != expected:
        return _store(ctx, _verify_all(ctx, None), full=True)
    if last is not None and tail == start:
        return last
    checked = (0 if last is None else last.checked) + tail[0] - start[0]
    return _store(ctx, Verification(True, checked, *tail, None, None), full=start[0] == 0)


def _follow_from(conn: Connection, start: tuple[int, str]) -> tuple[int, str] | None:
    """The number and hash of the last event when every event after `start` follows on from it
    (and `start` is still stored as it was); None at the first that does not."""
    if start[0] and queries.hash_at(conn, start[0]) != start[1]:
        return None
    tail = start
    for rows in queries.stored_batches(conn, after=start[0]):
        followed = queries.follow(conn.dialect, rows, tail)
        if followed is None:
            return None
        tail = followed
    return tail


def _as_json(event: Any) -> dict[str, Any]:
    data = record_to_json(event.record)
    data.update({"seq": event.seq, "at": iso(event.record.at), "hash": event.hash})
    return data


def process_log(ctx: Context, key: str) -> list[dict[str, Any]]:
    """A process's audit events, oldest first."""
    with ctx.db.reading() as session:
        repo.get_process(session, key)
        return [_as_json(event) for event in queries.of_process(session, key)]
