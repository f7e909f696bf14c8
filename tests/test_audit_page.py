"""The audit chain's stored last verification: the console's audit page verifies on from its
checkpoint, `audit verify` verifies it all and keeps its result, and the page lists a page of
events with their exact total."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from webconsole import EMAILS, MANAGER, MINE, Site, logged_in, text_of

from ibmflow.entrypoints.worker import AUDIT, Schedule, Worker
from ibmflow.services.audit_log import last_check, verify_chain, verify_onward
from ibmflow.services.context import Context
from ibmflow.testing import FixedClock

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _append(ctx: Context, count: int, process: str | None = None) -> None:
    with ctx.db.transaction() as tx:
        tx.acting("cli:coordinator", ctx.clock.now(), process)
        for n in range(count):
            tx.record("note.added", f"note:{n}", after={"n": n}, reason="testing")


def _tamper(ctx: Context, seq: int) -> None:
    with ctx.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_event SET reason = 'forged' WHERE seq = :s"), {"s": seq})


def _head_seq(ctx: Context) -> int:
    with ctx.db.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT seq FROM audit_head")).scalar_one())


def test_the_page_verifies_on_from_the_stored_checkpoint(ctx: Context, clock: FixedClock) -> None:
    assert last_check(ctx) is None
    _append(ctx, 10)
    first = verify_onward(ctx)
    assert first.ok and first.full and first.checked == 10 and first.head_seq == 10
    assert last_check(ctx) == first
    clock.advance(minutes=5)
    _append(ctx, 7)
    onward = verify_onward(ctx)
    assert onward.ok and not onward.full and onward.checked == 17 and onward.head_seq == 17
    assert onward.at == clock.now() and onward.full_at == first.at
    assert verify_onward(ctx) == onward, "nothing appended: nothing to verify or store"


def test_a_fault_after_the_checkpoint_is_found_and_named(ctx: Context) -> None:
    _append(ctx, 10)
    verify_onward(ctx)
    _append(ctx, 5)
    _tamper(ctx, 13)
    found = verify_onward(ctx)
    assert not found.ok and found.first_bad_seq == 13 and found.full
    assert found.problem and "#13" in found.problem


def test_a_fault_before_the_checkpoint_is_found_by_the_full_verification(
    ctx: Context, clock: FixedClock
) -> None:
    """The page does not re-read what it verified before; `audit verify` does, and the page then
    shows its fault until a full verification finds the chain intact again."""
    _append(ctx, 10)
    assert verify_chain(ctx).ok
    _tamper(ctx, 4)
    assert verify_onward(ctx).ok, "before the checkpoint: not the page's to find"
    full = verify_chain(ctx)
    assert not full.ok and full.first_bad_seq == 4
    _append(ctx, 3)
    shown = verify_onward(ctx)
    assert not shown.ok and shown.first_bad_seq == 4 and shown.problem == full.problem
    with ctx.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_event SET reason = 'testing' WHERE seq = 4"))
    assert verify_chain(ctx).ok and verify_onward(ctx).ok


def test_a_checkpoint_rewritten_or_removed_sends_the_page_back_to_the_start(ctx: Context) -> None:
    _append(ctx, 10)
    verify_onward(ctx)
    with ctx.db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_event WHERE seq >= 8"))
        conn.execute(
            sa.text(
                "UPDATE audit_head SET seq = 7, hash = (SELECT hash FROM audit_event WHERE seq = 7)"
            )
        )
    found = verify_onward(ctx)
    assert found.ok and found.head_seq == 7, "the head agrees with the shortened chain"
    # the checkpoint (#10) is gone: verified again from the first event, which is all there is
    assert found.full and found.checked == 7


@sqlite_only
def test_the_audit_page_lists_a_page_of_events_with_the_exact_total(site: Site) -> None:
    _append(site.ctx, 130, MINE)
    total = 0
    with site.ctx.db.engine.connect() as conn:
        total = conn.execute(
            sa.text("SELECT count(*) FROM audit_event WHERE process = :k"), {"k": MINE}
        ).scalar_one()
    client, _ = logged_in(site, EMAILS[MANAGER])
    first = text_of(client.get(f"/p/{MINE}/audit"))
    assert "The audit chain is intact" in first
    assert f"Events 1-100 of {total}" in first
    assert "Note added by coordinator (command line)" in first, "newest first: the notes"
    second = client.get(f"/p/{MINE}/audit?page=2")
    assert f"Events 101-{total} of {total}" in text_of(second)
    assert len(re.findall(r"<tr><td data-label=\"#\">", second.text)) == total - 100
    again = text_of(client.get(f"/p/{MINE}/audit"))
    assert "on from the last checkpoint" in again or "whole chain was last verified" in again
    assert f"head #{_head_seq(site.ctx)}" in again
    past = client.get(f"/p/{MINE}/audit?page=9")
    assert past.status_code == 200 and "past the last page" in text_of(past)
    assert "<table" not in past.text  # no empty table of events past the end
    assert client.get(f"/p/{MINE}/audit?page=x").status_code == 400


def test_the_worker_verifies_the_whole_chain_at_its_interval(ctx: Context) -> None:
    """Configured by `worker.audit_verify_every_s` (0: never); it finds what the page cannot."""
    assert ctx.settings.worker_audit_verify_every_s == 86400
    worker = Worker(ctx, Schedule.of(ctx.settings))
    assert AUDIT in worker.passes() and "audit chain verified every 86400 s" in worker.describe()
    scheduler = worker.build_scheduler(datetime.now(UTC))
    assert scheduler.get_job(AUDIT).trigger.interval.total_seconds() == 86400
    _append(ctx, 10)
    verify_onward(ctx)
    _tamper(ctx, 3)
    assert asyncio.run(worker.run_job(AUDIT)) == f"BROKEN: {verify_chain(ctx).problem}"
    shown = verify_onward(ctx)
    assert not shown.ok and shown.first_bad_seq == 3 and shown.full
    off = replace(ctx.settings, worker_audit_verify_every_s=0)
    assert AUDIT not in Worker(ctx, Schedule.of(off)).passes()


postgres_only = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@postgres_only
def test_two_first_verifications_at_once_keep_one_and_raise_nothing(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers started together each verify the chain and store the first verification: both
    read that none is stored, both write it. The second must not fail on the first's row (it
    did: a duplicate key, a traceback in the worker's log)."""
    import threading

    from ibmflow.storage.queries import audit as audit_queries

    _append(ctx, 3)
    both_read = threading.Barrier(2, timeout=20)
    read = audit_queries.stored_for_update

    def read_then_wait(session: object) -> object:
        found = read(session)  # type: ignore[arg-type]
        if found is None:
            both_read.wait()  # the other has read too: both will write the first row
        return found

    monkeypatch.setattr(audit_queries, "stored_for_update", read_then_wait)
    errors: list[BaseException] = []

    def verify() -> None:
        try:
            verify_chain(ctx)
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=verify) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    assert not errors, errors
    stored = last_check(ctx)
    assert stored is not None and stored.ok and stored.full
