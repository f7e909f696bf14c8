"""Named queries of the console's search box: processes, institutions, people and a request by
number, only among the processes an account follows (an administrator: every process). Text is
matched with `LIKE` (`ILIKE` on PostgreSQL), its wildcards escaped, or, for an administrator's
search of the rosters on SQLite, through their trigram indexes alone. Each kind is one statement:
the ids found once, counted exactly, ordered alone (rows that share the order's columns by id), and
only a page's rows read."""

from __future__ import annotations

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


def _like(column: Any, text: str, dialect: str) -> Any:
    """`column` contains `text`, ignoring case. SQLite's `LIKE` ignores the case of ASCII letters
    only, and its `lower()` lowers only those: `ilike`'s `lower(x) LIKE lower(y)` matches exactly
    what `x LIKE y` does there, without lowering every row scanned (a third of the search's time)."""
    if dialect == "sqlite":
        return col(column).like(pattern(text), escape=ESCAPE)
    return col(column).ilike(pattern(text), escape=ESCAPE)


def _matching(session: Session, text: str, *columns: Any) -> Any:
    """Any of `columns` contains `text`."""
    dialect = session.connection().dialect.name
    return sa.or_(*(_like(column, text, dialect) for column in columns))


def _indexed(session: Session, text: str, index: str) -> Any | None:
    """The ids of the rows whose columns contain `text`, from `index` (a trigram index of those
    columns, migration 0013: their texts as `LIKE` compares them, so exactly the rows `_matching`
    finds); None when there is no such index or `text` is shorter than a trigram."""
    if not index or len(text) < TRIGRAM or not _has_trigrams(session.connection()):
        return None
    phrase = '"' + text.replace('"', '""') + '"'  # one FTS5 string: the text, in a row
    # lowered by the same `lower()` as the index's texts: ASCII letters only, as `LIKE` folds
    matched = sa.text(f"{index} MATCH lower(:trigram_phrase)").bindparams(trigram_phrase=phrase)
    rowid: Any = sa.literal_column("rowid").label("id")
    return sa.select(rowid).select_from(sa.table(index)).where(matched)


def _everyone(account_id: int | None, index: str) -> str:
    """The trigram index, for a search of every process (an administrator's); an account's own
    processes are read through their rosters' index by process, which bounds that search by the
    processes it follows (the trigram index would hand in every process's candidates first)."""
    return index if account_id is None else ""


def _has_trigrams(conn: sa.Connection) -> bool:
    """Whether the database has the trigram indexes (SQLite with migration 0011 applied; older
    SQLite has no trigram tokenizer, PostgreSQL none of them), remembered by each connection."""
    if conn.info.get(TRIGRAM_INDEXES):
        return True
    if conn.dialect.name != "sqlite":
        return False
    found = conn.exec_driver_sql(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'search_person'"
    ).scalar()
    conn.info[TRIGRAM_INDEXES] = bool(found)
    return bool(found)


def _page(
    session: Session,
    found: Any,
    table: Any,
    order: tuple[Any, ...],
    entities: tuple[Any, ...],
    joins: tuple[tuple[Any, Any, bool], ...],
    offset: int,
    limit: int,
) -> tuple[int, list[Any]]:
    """How many ids `found` selects (`table`'s, one column named `id`), and `limit` rows of
    `entities` from `offset`, in `order` then id: one statement. It finds the ids once (a common
    table expression, which SQLite and PostgreSQL materialize when it is read twice), counts them,
    orders the ids alone (`table` with its inner `joins`, for `order`'s columns) and reads only the
    page's rows (`table` with every one of `joins`: (table, on, outer)). A page past the end is
    counted apart; an empty first page means none."""
    ids = found.cte("found")
    keys = (*order, col(table.id))
    shown: Any = select(col(table.id)).join_from(ids, table, col(table.id) == ids.c.id)
    for joined, on, outer in joins:
        if not outer:
            shown = shown.join(joined, on)
    shown = shown.order_by(*keys).offset(offset).limit(limit).subquery("shown")
    total = select(func.count()).select_from(ids).scalar_subquery()
    query = sa.select(*entities, total).select_from(shown).join(table, col(table.id) == shown.c.id)
    for joined, on, outer in joins:
        query = query.join(joined, on, isouter=outer)
    rows = list(session.execute(query.order_by(*keys)))
    if rows:
        return int(rows[0][-1]), [tuple(row[:-1]) for row in rows]
    if not offset:
        return 0, []
    return int(session.exec(select(func.count()).select_from(found.subquery())).one()), []


def _roster_found(
    session: Session, account_id: int | None, text: str, table: Any, columns: tuple[Any, ...]
) -> Any:
    """The ids of the rows of a roster's `table` whose `columns` contain `text`, among the
    processes the account follows; an administrator's from the table's trigram index when there
    is one (it finds exactly those rows)."""
    index = _everyone(account_id, f"search_{table.__tablename__}")
    found = _indexed(session, text, index)
    if found is not None:
        return found
    where = [_matching(session, text, *columns), followed(account_id, col(table.process_id))]
    return select(col(table.id)).where(*where)


def processes(
    session: Session, account_id: int | None, text: str, offset: int, limit: int
) -> tuple[int, list[ProcessRow]]:
    """Processes whose key, title or country contains `text`, by key."""
    found = select(col(ProcessRow.id)).where(
        _matching(session, text, ProcessRow.key, ProcessRow.title, ProcessRow.country),
        followed(account_id, col(ProcessRow.id)),
    )
    order = (col(ProcessRow.key),)
    total, rows = _page(session, found, ProcessRow, order, (ProcessRow,), (), offset, limit)
    return total, [p for (p,) in rows]


def institutions(
    session: Session, account_id: int | None, text: str, offset: int, limit: int
) -> tuple[int, list[tuple[InstitutionRow, ProcessRow]]]:
    """Institutions whose name, short name or code contains `text`, with their process."""
    columns = (InstitutionRow.name, InstitutionRow.short_name, InstitutionRow.code)
    found = _roster_found(session, account_id, text, InstitutionRow, columns)
    order = (col(InstitutionRow.short_name), col(ProcessRow.key))
    entities = (InstitutionRow, ProcessRow)
    joins = ((ProcessRow, col(ProcessRow.id) == col(InstitutionRow.process_id), False),)
    total, rows = _page(session, found, InstitutionRow, order, entities, joins, offset, limit)
    return total, [(i, p) for i, p in rows]


def people(
    session: Session, account_id: int | None, text: str, offset: int, limit: int
) -> tuple[int, list[tuple[PersonRow, InstitutionRow | None, ProcessRow]]]:
    """People of a roster whose name or email contains `text`, with their institution and process."""
    found = _roster_found(session, account_id, text, PersonRow, (PersonRow.name, PersonRow.email))
    order = (col(PersonRow.name), col(ProcessRow.key))
    entities = (PersonRow, InstitutionRow, ProcessRow)
    joins = (
        (ProcessRow, col(ProcessRow.id) == col(PersonRow.process_id), False),
        (InstitutionRow, col(InstitutionRow.id) == col(PersonRow.institution_id), True),
    )
    total, rows = _page(session, found, PersonRow, order, entities, joins, offset, limit)
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
