"""A command's mails are written together, with one insert when its transaction ends, on SQLite and
PostgreSQL: in the order they were sent, seen by a read of the outbox in the same transaction, and
dropped with a savepoint that rolls back."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import col, select

from ibmflow import demo
from ibmflow.services import mailings, processes
from ibmflow.services.context import Context
from ibmflow.services.outbox import new_message_id
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import mail
from ibmflow.storage.tables import OutboxRow

KEY = "MA-KEPT"
TO = "focal@customs.example"


@contextmanager
def _outbox_inserts(ctx: Context) -> Iterator[list[str]]:
    """The INSERTs into the outbox that ibmflow sends to the database in the block."""
    seen: list[str] = []

    def on_execute(*args: Any) -> None:
        statement = args[2]
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
            seen.append(statement)

    event.listen(ctx.db.engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(ctx.db.engine, "before_cursor_execute", on_execute)


def _send(ctx: Context, tx: Tx, key: str) -> str:
    process = repo.get_process(tx.session, KEY)
    context = {"step": {"id": "objectives", "title": "Objectives", "due_at": None}}
    now = ctx.clock.now()
    return mailings.send(ctx, tx, process, "step_entered", [TO], context, now, dedupe_key=key)


def _kept_keys(ctx: Context) -> list[str | None]:
    with ctx.db.reading() as session:
        query = select(OutboxRow.dedupe_key).where(col(OutboxRow.dedupe_key).like("kept:%"))
        return list(session.exec(query.order_by(col(OutboxRow.id))))


def test_a_transactions_mails_are_one_insert_in_the_order_sent(ctx: Context) -> None:
    processes.start_process(ctx, title="Kept mails", key=KEY, actor=demo.COORDINATOR)
    with _outbox_inserts(ctx) as inserts, ctx.db.transaction() as tx:
        for n in range(3):
            _send(ctx, tx, f"kept:{n}")
    assert len(inserts) == 1
    assert _kept_keys(ctx) == ["kept:0", "kept:1", "kept:2"]


def test_a_read_of_the_outbox_in_the_transaction_sees_its_mails(ctx: Context) -> None:
    processes.start_process(ctx, title="Kept mails", key=KEY, actor=demo.COORDINATOR)
    with ctx.db.transaction() as tx:
        message_id = _send(ctx, tx, "kept:read")
        assert mail.dedupe_keys_taken(tx.session, ["kept:read", "kept:other"]) == {"kept:read"}
        _send(ctx, tx, "kept:after")  # written at the end, after the one the read wrote
        process_id = repo.get_process(tx.session, KEY).id or 0
        latest = mail.latest_of_kind(tx.session, process_id, "step_entered")
        assert latest is not None and latest.message_id != message_id
        assert latest.dedupe_key == "kept:after"
    assert _kept_keys(ctx) == ["kept:read", "kept:after"]


def test_a_savepoint_that_rolls_back_drops_its_mails_only(ctx: Context) -> None:
    processes.start_process(ctx, title="Kept mails", key=KEY, actor=demo.COORDINATOR)
    with ctx.db.transaction() as tx:
        _send(ctx, tx, "kept:before")
        with pytest.raises(LookupError), tx.savepoint():
            _send(ctx, tx, "kept:dropped")
            raise LookupError("refused")
        _send(ctx, tx, "kept:after")
    assert _kept_keys(ctx) == ["kept:before", "kept:after"]


def test_a_transaction_that_fails_writes_none_of_its_mails(ctx: Context) -> None:
    processes.start_process(ctx, title="Kept mails", key=KEY, actor=demo.COORDINATOR)
    with pytest.raises(LookupError), ctx.db.transaction() as tx:
        _send(ctx, tx, "kept:lost")
        tx.session.connection().execute(sa.text("SELECT 1"))
        raise LookupError("the command failed")
    assert _kept_keys(ctx) == []


def test_each_mail_gets_a_message_id_of_its_own_under_ibmflows_domain() -> None:
    """A Message-ID is `<ibmflow.` 32 hex digits (128 random bits) `@` the sender's domain, and
    no two are alike."""
    ids = [new_message_id("ministry.example") for _ in range(1000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"<ibmflow\.[0-9a-f]{32}@ministry\.example>", mid) for mid in ids)
