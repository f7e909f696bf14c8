"""The desk's and the search's queries on both databases (SQLite and the machine's PostgreSQL):
the counts equal the items listed, the account's reach holds, `LIKE` wildcards are literal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, or_, select
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
from ibmflow.storage.queries import search as search_queries
from ibmflow.storage.queries.attention import followed
from ibmflow.storage.tables import InstitutionRow, PersonRow, ProcessRow
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
    # The navigation counts no further than its cap, whatever is there: one more means "more".
    assert every.total > 3
    assert attention_count(ctx, admin, cap=every.total) == every.total
    assert attention_count(ctx, admin, cap=2) == 3
    assert attention_count(ctx, mine, cap=one.total - 1) == one.total
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


def test_the_search_pages_and_totals_are_every_match_in_order_at_every_offset(
    ctx: Context, tmp_path: Path
) -> None:
    # Each kind is counted and paged in one statement (the first ids found once, ordered alone,
    # the page's rows read after): its total and pages must be every match (or the first
    # `found_limit` of them by id), counted and ordered as one plain query of the whole table says (by
    # name, then process key, then id for rows that share both), at every offset and past the
    # end, for an administrator (on SQLite through the trigram indexes for three characters or
    # more) and for an account following one process.
    for key in (MINE, THEIRS):
        start_process(ctx, key, tmp_path)
    add_accounts(ctx)
    with ctx.db.transaction() as tx:
        for key in (MINE, THEIRS):
            process = tx.session.exec(select(ProcessRow).where(ProcessRow.key == key)).one()
            pid = process.id or 0
            desks = []
            for n in range(12):  # short names shared within and across processes
                desk_row = InstitutionRow(
                    process_id=pid,
                    code=f"D{n}",
                    name=f"Desk office {n}",
                    short_name=f"Desk {n % 3}",
                    category="permanent",
                )
                tx.session.add(desk_row)
                desks.append(desk_row)
            tx.session.flush()
            for n in range(30):  # names shared within and across processes
                tx.session.add(
                    PersonRow(
                        process_id=pid,
                        name=f"Pager {n % 6}",
                        email=f"pager{n}@x.example",
                        institution_id=desks[n % 13].id if n % 13 < 12 else None,
                    )
                )
    admin, mine = _account(ctx, EMAILS[ADMINISTRATOR]), _account(ctx, EMAILS[COORDINATOR])
    with ctx.db.reading() as session:
        for who in (None, mine.id):
            assert admin.processes is None
            for text in _TEXTS:
                for kind, read, every in _KINDS:
                    matches = every(session, who, text)
                    for found_limit in (1000, 9):  # every match; the first 9 of them by id
                        first = set(sorted(matches)[:found_limit])
                        expected = [i for i in matches if i in first]
                        for limit in (25, 7):
                            for offset in range(0, len(expected) + 2 * limit, limit):
                                total, rows = read(session, who, text, offset, limit, found_limit)
                                shown = [_id_of(row) for row in rows]
                                case = (kind, who, text, offset, limit, found_limit)
                                assert total == len(expected), case
                                assert shown == expected[offset : offset + limit], case


_TEXTS = ("pager", "Desk", "x.ex", "1", "a", "-1", "nowhere", "%", "STRATEGY", "ma-1")


def _id_of(row: Any) -> int:
    return int((row[0] if isinstance(row, tuple) else row).id)


def _every(
    table: Any, columns: tuple[Any, ...], order: tuple[Any, ...]
) -> Callable[[Session, int | None, str], list[int]]:
    """Every match of a kind, in the search's order: one plain query of the whole table."""

    def every(session: Session, who: int | None, text: str) -> list[int]:
        like = search_queries.pattern(text)
        if session.connection().dialect.name == "sqlite":  # ASCII letters folded, as LIKE does
            contains = [col(c).like(like, escape="\\") for c in columns]
        else:
            contains = [col(c).ilike(like, escape="\\") for c in columns]
        statement = select(col(table.id)).where(
            or_(*contains),
            followed(who, col(table.process_id if table is not ProcessRow else table.id)),
        )
        if table is not ProcessRow:
            statement = statement.join(ProcessRow, col(ProcessRow.id) == col(table.process_id))
        return list(session.exec(statement.order_by(*order, col(table.id))))

    return every


_KINDS = (
    (
        "processes",
        search_queries.processes,
        _every(
            ProcessRow, (ProcessRow.key, ProcessRow.title, ProcessRow.country), (ProcessRow.key,)
        ),
    ),
    (
        "institutions",
        search_queries.institutions,
        _every(
            InstitutionRow,
            (InstitutionRow.name, InstitutionRow.short_name, InstitutionRow.code),
            (col(InstitutionRow.short_name), col(ProcessRow.key)),
        ),
    ),
    (
        "people",
        search_queries.people,
        _every(
            PersonRow, (PersonRow.name, PersonRow.email), (col(PersonRow.name), col(ProcessRow.key))
        ),
    ),
)
