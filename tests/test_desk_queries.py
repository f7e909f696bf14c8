"""The desk's and the search's queries on both databases (SQLite and the machine's PostgreSQL):
the counts equal the items listed, the account's reach holds, `LIKE` wildcards are literal."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select
from webconsole import (
    EMAILS,
    MINE,
    OTHER_COORDINATOR,
    THEIRS,
    _objects,
    add_accounts,
    start_process,
)

from ibmflow.access import ADMINISTRATOR, COORDINATOR, Account
from ibmflow.services import accounts
from ibmflow.services.attention import attention_count, desk
from ibmflow.services.context import Context
from ibmflow.services.search import search
from ibmflow.storage.account_tables import UserAccountRow
from ibmflow.testing import FixedClock


def _account(ctx: Context, email: str) -> Account:
    with ctx.db.reading() as session:
        row = session.exec(select(UserAccountRow).where(UserAccountRow.email == email)).one()
        return accounts.account_of(session, row)


def test_the_desk_counts_what_it_lists_within_the_account_s_reach(
    ctx: Context, tmp_path: Path, clock: FixedClock
) -> None:
    for key in (MINE, THEIRS):
        start_process(ctx, key, tmp_path)
        _objects(ctx, key)
    add_accounts(ctx)
    clock.advance(days=30)
    admin, mine, theirs = (
        _account(ctx, EMAILS[ADMINISTRATOR]),
        _account(ctx, EMAILS[COORDINATOR]),
        _account(ctx, OTHER_COORDINATOR),
    )
    every, one = desk(ctx, admin), desk(ctx, mine)
    assert every.total == attention_count(ctx, admin) > one.total == attention_count(ctx, mine) > 0
    for group in one.groups:
        assert len(group.items) == group.total, group.kind
        assert {item.process for item in group.items} <= {MINE}
    assert {i.process for g in desk(ctx, theirs).groups for i in g.items} == {THEIRS}
    overdue = next(g for g in one.groups if g.kind == "overdue_requests")
    assert all(i.working_days_overdue and i.institution for i in overdue.items)


def test_the_search_finds_within_the_account_s_reach_with_literal_wildcards(
    ctx: Context, tmp_path: Path
) -> None:
    for key in (MINE, THEIRS):
        start_process(ctx, key, tmp_path)
    add_accounts(ctx)
    admin, mine = _account(ctx, EMAILS[ADMINISTRATOR]), _account(ctx, EMAILS[COORDINATOR])
    found = {g.kind: g for g in search(ctx, mine, "IBM STRATEGY").groups}
    assert [h.process for h in found["processes"].hits] == [MINE]
    assert {g.kind: g.total for g in search(ctx, admin, "ibm strategy").groups}["processes"] == 2
    assert search(ctx, admin, "%").total == 0
    assert {g.kind for g in search(ctx, admin, "_").groups if g.total} == {"institutions"}
