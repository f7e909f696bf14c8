"""`tx.acting(actor, at, process).record(action, entity, ...)`: the one way a command writes an audit
event without spelling out the whole record, stored exactly as `tx.audit(AuditRecord(...))` stores it,
on a real SQLite file and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from ibmflow.audit import AuditRecord
from ibmflow.services.audit_log import verify_chain
from ibmflow.services.context import Context
from ibmflow.storage.db import row_to_event
from ibmflow.storage.tables import AuditEventRow


def _stored(ctx: Context) -> list[AuditRecord]:
    with ctx.db.reading() as session:
        rows = session.exec(select(AuditEventRow).order_by(AuditEventRow.seq)).all()
        return [row_to_event(row).record for row in rows]


def test_record_stores_what_the_whole_audit_record_stores(ctx: Context) -> None:
    now = ctx.clock.now()
    spelled_out = AuditRecord(
        at=now,
        actor="coordinator@interior.example",
        action="chapter.lead_set",
        process="MA-1",
        entity="chapter:Border checks",
        before={"lead": None},
        after={"lead": "MOF_CUSTOMS"},
        reason="the customs directorate volunteered",
        on_behalf_of="chair@interior.example",
    )
    with ctx.db.transaction() as tx:
        tx.audit(spelled_out)
    with ctx.db.transaction() as tx:
        tx.acting("coordinator@interior.example", now, "MA-1").record(
            "chapter.lead_set",
            "chapter:Border checks",
            before={"lead": None},
            after={"lead": "MOF_CUSTOMS"},
            reason="the customs directorate volunteered",
            on_behalf_of="chair@interior.example",
        )
    with ctx.db.reading() as session:
        seqs = session.exec(select(AuditEventRow.seq).order_by(AuditEventRow.seq)).all()
    assert list(seqs) == [1, 2]  # the second command's event follows the first's in the chain
    assert _stored(ctx) == [spelled_out, spelled_out]
    assert verify_chain(ctx).ok


def test_every_record_of_a_command_shares_its_actor_moment_and_process(ctx: Context) -> None:
    now = ctx.clock.now()
    later = now + timedelta(minutes=5)
    with ctx.db.transaction() as tx:
        tx.acting("coordinator@interior.example", now, "MA-1")
        tx.record("task_force.named", "task_force:Analysis", after={"name": "Analysis"})
        tx.record("chapter.defined", "chapter:Border checks")
        tx.acting("ibmflow:inbound", later)  # another actor follows, on no process
        tx.record("mail.quarantined", "inbound:7", reason="no reply key")
    stored = _stored(ctx)
    assert [(r.actor, r.at, r.process, r.action, r.entity) for r in stored] == [
        ("coordinator@interior.example", now, "MA-1", "task_force.named", "task_force:Analysis"),
        ("coordinator@interior.example", now, "MA-1", "chapter.defined", "chapter:Border checks"),
        ("ibmflow:inbound", later, None, "mail.quarantined", "inbound:7"),
    ]
    assert stored[0].after == {"name": "Analysis"}
    assert stored[1].after is None and stored[1].before is None and stored[1].reason is None
    assert stored[2].reason == "no reply key"
    assert verify_chain(ctx).ok


def test_record_without_acting_is_refused_and_writes_nothing(ctx: Context) -> None:
    with pytest.raises(RuntimeError, match=r"tx\.acting"), ctx.db.transaction() as tx:
        tx.record("task_force.named", "task_force:Analysis")
    assert _stored(ctx) == []


def test_a_record_the_chain_cannot_hold_is_refused_as_the_whole_record_is(ctx: Context) -> None:
    """The checks of AuditRecord (a time zone, finite JSON) apply to `record` too."""
    naive = ctx.clock.now().replace(tzinfo=None)
    with pytest.raises(ValueError, match="no time zone"), ctx.db.transaction() as tx:
        tx.acting("coordinator@interior.example", naive, "MA-1").record("process.started")
    with pytest.raises(ValueError, match="JSON"), ctx.db.transaction() as tx:
        tx.acting("coordinator@interior.example", ctx.clock.now()).record(
            "process.started", after={"ratio": float("nan")}
        )
    assert _stored(ctx) == []
