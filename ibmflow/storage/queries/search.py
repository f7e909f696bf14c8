"""Named queries of the console's search box: processes, institutions, people and a request by
number, only among the processes an account follows (an administrator: every process). Text is
matched with `LIKE` (`ILIKE` on PostgreSQL), its wildcards escaped; each table is read a page at a
time, with its exact total counted on the table alone (its joins add no row and remove none), or,
for an administrator's search of the rosters on SQLite, on their trigram indexes alone."""

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
    return sa.select(sa.literal_column("rowid")).select_from(sa.table(index)).where(matched)


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


def _count(table: Any, where: list[Any]) -> Any:
    """The rows of `table` that pass `where`, counted on the table alone (the page's joins add
    no row and remove none)."""
    return select(func.count()).select_from(table).where(*where)


def _page(
    session: Session, counting: Any, where: list[Any], query: Any, offset: int, limit: int
) -> tuple[int, list[Any]]:
    """How many rows there are (`counting`), and `limit` rows of `query` that pass `where`,
    from `offset`."""
    total = session.exec(counting).one()
    if not total:
        return 0, []
    return int(total), list(session.exec(query.where(*where).offset(offset).limit(limit)))


def _roster_page(
    session: Session,
    account_id: int | None,
    text: str,
    table: Any,
    columns: tuple[Any, ...],
    query: Any,
    offset: int,
    limit: int,
) -> tuple[int, list[Any]]:
    """`_page` of the rows of a roster's `table` whose `columns` contain `text`, among the
    processes the account follows; an administrator's through the table's trigram index when
    there is one (counted on the index alone: it finds exactly those rows)."""
    index = _everyone(account_id, f"search_{table.__tablename__}")
    found = _indexed(session, text, index)
    if found is not None:
        counting: Any = select(func.count()).select_from(found.subquery())
        where = [col(table.id).in_(found)]
    else:
        where = [_matching(session, text, *columns), followed(account_id, col(table.process_id))]
        counting = _count(table, where)
    return _page(session, counting, where, query, offset, limit)


def processes(
    session: Session, account_id: int | None, text: str, offset: int, limit: int
) -> tuple[int, list[ProcessRow]]:
    """Processes whose key, title or country contains `text`, by key."""
    where = [
        _matching(session, text, ProcessRow.key, ProcessRow.title, ProcessRow.country),
        followed(account_id, col(ProcessRow.id)),
    ]
    query = select(ProcessRow).order_by(col(ProcessRow.key))
    return _page(session, _count(ProcessRow, where), where, query, offset, limit)


def institutions(
    session: Session, account_id: int | None, text: str, offset: int, limit: int
) -> tuple[int, list[tuple[InstitutionRow, ProcessRow]]]:
    """Institutions whose name, short name or code contains `text`, with their process."""
    columns = (InstitutionRow.name, InstitutionRow.short_name, InstitutionRow.code)
    query = (
        select(InstitutionRow, ProcessRow)
        .join(ProcessRow, col(ProcessRow.id) == col(InstitutionRow.process_id))
        .order_by(col(InstitutionRow.short_name), col(ProcessRow.key))
    )
    total, rows = _roster_page(
        session, account_id, text, InstitutionRow, columns, query, offset, limit
    )
    return total, [(i, p) for i, p in rows]


def people(
    session: Session, account_id: int | None, text: str, offset: int, limit: int
) -> tuple[int, list[tuple[PersonRow, InstitutionRow | None, ProcessRow]]]:
    """People of a roster whose name or email contains `text`, with their institution and process."""
    query = (
        select(PersonRow, InstitutionRow, ProcessRow)
        .join(ProcessRow, col(ProcessRow.id) == col(PersonRow.process_id))
        .outerjoin(InstitutionRow, col(InstitutionRow.id) == col(PersonRow.institution_id))
        .order_by(col(PersonRow.name), col(ProcessRow.key))
    )
    columns = (PersonRow.name, PersonRow.email)
    total, rows = _roster_page(session, account_id, text, PersonRow, columns, query, offset, limit)
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
