"""Named queries of the console's search box: processes, institutions, people and a request by
number, only among the processes an account follows (an administrator: every process). Text is
matched with `LIKE` (`ILIKE` on PostgreSQL), its wildcards escaped, or, for an administrator's
search on SQLite, through the trigram indexes of the processes and rosters alone. Each kind is one
statement: the first matches found by id (the earliest added), at most `found_limit` of them (the
search asks for one more than it lists, to know whether there are more), counted, ordered alone
(rows that share the order's columns by id), and only a page's rows read. The work is bounded by
that limit, not by how many rows match."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from ibmflow.storage.queries.attention import followed
from ibmflow.storage.tables import InstitutionRow, PersonRow, ProcessRow, RequestRow

ESCAPE = "\\"
TRIGRAM = 3  # the shortest text a trigram index finds; shorter texts read every row
TRIGRAM_INDEXES = "ibmflow_search_trigrams"  # the connection's note that they exist


def pattern(text: str) -> str:
    """`%text%` with the wildcards and the escape character of `text` taken literally."""
    escaped = text.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")
    return f"%{escaped}%"


def _like(column: Any, like: Any, dialect: str) -> Any:
    """`column` contains the text of `like` (its `pattern`), ignoring case. SQLite's `LIKE` ignores
    the case of ASCII letters only, and its `lower()` lowers only those: `ilike`'s `lower(x) LIKE
    lower(y)` matches exactly what `x LIKE y` does there, without lowering every row scanned (a
    third of the search's time)."""
    if dialect == "sqlite":
        return col(column).like(like, escape=ESCAPE)
    return col(column).ilike(like, escape=ESCAPE)


def _has_trigrams(conn: sa.Connection) -> bool:
    """Whether the database has the trigram indexes (SQLite with migrations 0011 and 0014
    applied; older SQLite has no trigram tokenizer, PostgreSQL none of them), remembered by each
    connection."""
    if conn.info.get(TRIGRAM_INDEXES):
        return True
    if conn.dialect.name != "sqlite":
        return False
    found = conn.exec_driver_sql(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'search_process'"
    ).scalar()
    conn.info[TRIGRAM_INDEXES] = bool(found)
    return bool(found)


@dataclass(frozen=True)
class _Kind:
    """What the search reads of one kind: its table, the columns it matches, its trigram index
    (an administrator's search reads it: migration 0013 for the rosters, 0014 for the processes),
    the order of its results (then by id), what a result shows and how it is joined to the table
    (table, on, outer)."""

    table: Any
    columns: tuple[Any, ...]
    index: str
    order: tuple[Any, ...]
    entities: tuple[Any, ...]
    joins: tuple[tuple[Any, Any, bool], ...]


_KINDS = {
    "processes": _Kind(
        ProcessRow,
        (ProcessRow.key, ProcessRow.title, ProcessRow.country),
        "search_process",
        (col(ProcessRow.key),),
        (ProcessRow,),
        (),
    ),
    "institutions": _Kind(
        InstitutionRow,
        (InstitutionRow.name, InstitutionRow.short_name, InstitutionRow.code),
        "search_institution",
        (col(InstitutionRow.short_name), col(ProcessRow.key)),
        (InstitutionRow, ProcessRow),
        ((ProcessRow, col(ProcessRow.id) == col(InstitutionRow.process_id), False),),
    ),
    "people": _Kind(
        PersonRow,
        (PersonRow.name, PersonRow.email),
        "search_person",
        (col(PersonRow.name), col(ProcessRow.key)),
        (PersonRow, InstitutionRow, ProcessRow),
        (
            (ProcessRow, col(ProcessRow.id) == col(PersonRow.process_id), False),
            (InstitutionRow, col(InstitutionRow.id) == col(PersonRow.institution_id), True),
        ),
    ),
}


@functools.lru_cache(maxsize=64)
def _statements(name: str, indexed: bool, dialect: str, per_account: bool) -> tuple[Any, Any]:
    """A kind's page statement and its count (for a page past the end), built once per shape
    and bound when run (`pattern`, `trigram_phrase`, `account_id`, `found_limit`, `offset`,
    `limit`).

    The page is one statement: the ids found once, the first `found_limit` by id (a common
    table expression, which SQLite and PostgreSQL materialize when it is read twice), counted, ordered alone (the table with its
    inner joins, for the order's columns) and only the page's rows read. Found: an
    administrator's through the trigram index when `indexed` (it finds exactly the rows whose
    columns contain the text as `LIKE` says: their texts lowered as `LIKE` folds, ASCII letters
    only, by the same `lower()` as the phrase), else the rows whose columns are `LIKE` the
    pattern, among the processes the account follows."""
    kind = _KINDS[name]
    table = kind.table
    found: Any
    if indexed:
        matched = sa.text(f"{kind.index} MATCH lower(:trigram_phrase)")
        rowid: Any = sa.literal_column("rowid")
        found = sa.select(rowid.label("id")).select_from(sa.table(kind.index)).where(matched)
        first: Any = rowid  # FTS5 hands its rows in the order of rowid
    else:
        like = sa.bindparam("pattern", type_=sa.String)
        account: Any = sa.bindparam("account_id", type_=sa.Integer) if per_account else None
        process_id = table.id if table is ProcessRow else table.process_id
        found = select(col(table.id)).where(
            sa.or_(*(_like(column, like, dialect) for column in kind.columns)),
            followed(account, col(process_id)),
        )
        first = col(table.id)
    found = found.order_by(first).limit(sa.bindparam("found_limit", type_=sa.Integer))
    ids = found.cte("found")
    keys = (*kind.order, col(table.id))
    shown: Any = select(col(table.id)).join_from(ids, table, col(table.id) == ids.c.id)
    for joined, on, outer in kind.joins:
        if not outer:
            shown = shown.join(joined, on)
    bound = sa.bindparam("offset", type_=sa.Integer), sa.bindparam("limit", type_=sa.Integer)
    shown = shown.order_by(*keys).offset(bound[0]).limit(bound[1]).subquery("shown")
    total = select(func.count()).select_from(ids).scalar_subquery()
    page = sa.select(*kind.entities, total).select_from(shown)
    page = page.join(table, col(table.id) == shown.c.id)
    for joined, on, outer in kind.joins:
        page = page.join(joined, on, isouter=outer)
    return page.order_by(*keys), select(func.count()).select_from(found.subquery())


def _page(
    session: Session,
    name: str,
    account_id: int | None,
    text: str,
    offset: int,
    limit: int,
    found_limit: int,
) -> tuple[int, list[Any]]:
    """How many rows of kind `name` contain `text` among the processes the account follows, up
    to `found_limit` (the first by id), and `limit` of those from `offset` (their entities, in the
    kind's order then by id). A page past the end is counted apart; an empty first page means
    none."""
    conn = session.connection()
    dialect = conn.dialect.name
    # Only an administrator's search (every process) reads a trigram index: an account's own
    # processes are read through their rosters' index by process, which bounds that search by
    # the processes it follows (the trigram index would hand in every process's candidates first).
    index = _KINDS[name].index if account_id is None else ""
    indexed = bool(index) and len(text) >= TRIGRAM and _has_trigrams(conn)
    page, count = _statements(name, indexed, dialect, account_id is not None)
    values = {
        "pattern": pattern(text),
        "trigram_phrase": '"' + text.replace('"', '""') + '"',  # one FTS5 string: the text
        "account_id": account_id,
        "found_limit": found_limit,
        "offset": offset,
        "limit": limit,
    }
    rows = list(session.execute(page, values))
    if rows:
        return int(rows[0][-1]), [tuple(row[:-1]) for row in rows]
    if not offset:
        return 0, []
    return int(session.execute(count, values).scalar_one()), []


def processes(
    session: Session, account_id: int | None, text: str, offset: int, limit: int, found_limit: int
) -> tuple[int, list[ProcessRow]]:
    """Processes whose key, title or country contains `text` (the first `found_limit` by id), by
    key."""
    total, rows = _page(session, "processes", account_id, text, offset, limit, found_limit)
    return total, [p for (p,) in rows]


def institutions(
    session: Session, account_id: int | None, text: str, offset: int, limit: int, found_limit: int
) -> tuple[int, list[tuple[InstitutionRow, ProcessRow]]]:
    """Institutions whose name, short name or code contains `text` (the first `found_limit` by id),
    with their process, by short name then process key."""
    total, rows = _page(session, "institutions", account_id, text, offset, limit, found_limit)
    return total, [(i, p) for i, p in rows]


def people(
    session: Session, account_id: int | None, text: str, offset: int, limit: int, found_limit: int
) -> tuple[int, list[tuple[PersonRow, InstitutionRow | None, ProcessRow]]]:
    """People of a roster whose name or email contains `text` (the first `found_limit` by id), with
    their institution and process, by name then process key."""
    total, rows = _page(session, "people", account_id, text, offset, limit, found_limit)
    return total, [(person, i, p) for person, i, p in rows]


def request_by_number(
    session: Session, account_id: int | None, number: int
) -> tuple[RequestRow, InstitutionRow, ProcessRow] | None:
    """Request `number`, with its institution and process, if the account follows its process."""
    row = session.exec(
        select(RequestRow, InstitutionRow, ProcessRow)
        .join(InstitutionRow, col(InstitutionRow.id) == col(RequestRow.institution_id))
        .join(ProcessRow, col(ProcessRow.id) == col(RequestRow.process_id))
        .where(RequestRow.id == number, followed(account_id, col(RequestRow.process_id)))
    ).first()
    return None if row is None else (row[0], row[1], row[2])
