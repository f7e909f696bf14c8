"""Named queries of the console's search box: processes, institutions, people and a request by
number, only among the processes an account follows (an administrator: every process). Text is
matched with `LIKE` (`ILIKE` on PostgreSQL), its wildcards escaped; each table is read a page at a
time, with its exact total counted on the table alone (its joins add no row and remove none)."""

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


def _matching(session: Session, text: str, *columns: Any, index: str = "") -> Any:
    """Any of `columns` contains `text`; with `index` (a trigram index of those columns, migration
    0011) the rows checked are first narrowed to its candidates, when it exists and `text` has a
    trigram: the same rows, found without reading every row of the table."""
    conn = session.connection()
    contains = sa.or_(*(_like(column, text, conn.dialect.name) for column in columns))
    if not index or len(text) < TRIGRAM or not _has_trigrams(conn):
        return contains
    row_id = columns[0].class_.id
    candidates: Any = sa.select(sa.literal_column("rowid")).select_from(sa.table(index))
    phrase = '"' + text.replace('"', '""') + '"'  # one FTS5 string: the text, in a row
    matched = sa.text(f"{index} MATCH :trigram_phrase").bindparams(trigram_phrase=phrase)
    return sa.and_(col(row_id).in_(candidates.where(matched)), contains)


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
    session: Session, table: Any, where: list[Any], query: Any, offset: int, limit: int
) -> tuple[int, list[Any]]:
    """How many rows of `table` pass `where` (counted on the table alone), and `limit` rows of
    `query` (the same rows with their joins) from `offset`."""
    total = session.exec(select(func.count()).select_from(table).where(*where)).one()
    if not total:
        return 0, []
    return int(total), list(session.exec(query.where(*where).offset(offset).limit(limit)))


def processes(
    session: Session, account_id: int | None, text: str, offset: int, limit: int
) -> tuple[int, list[ProcessRow]]:
    """Processes whose key, title or country contains `text`, by key."""
    where = [
        _matching(session, text, ProcessRow.key, ProcessRow.title, ProcessRow.country),
        followed(account_id, col(ProcessRow.id)),
    ]
    query = select(ProcessRow).order_by(col(ProcessRow.key))
    return _page(session, ProcessRow, where, query, offset, limit)


def institutions(
    session: Session, account_id: int | None, text: str, offset: int, limit: int
) -> tuple[int, list[tuple[InstitutionRow, ProcessRow]]]:
    """Institutions whose name, short name or code contains `text`, with their process."""
    where = [
        _matching(
            session,
            text,
            InstitutionRow.name,
            InstitutionRow.short_name,
            InstitutionRow.code,
            index=_everyone(account_id, "search_institution"),
        ),
        followed(account_id, col(InstitutionRow.process_id)),
    ]
    query = (
        select(InstitutionRow, ProcessRow)
        .join(ProcessRow, col(ProcessRow.id) == col(InstitutionRow.process_id))
        .order_by(col(InstitutionRow.short_name), col(ProcessRow.key))
    )
    total, rows = _page(session, InstitutionRow, where, query, offset, limit)
    return total, [(i, p) for i, p in rows]


def people(
    session: Session, account_id: int | None, text: str, offset: int, limit: int
) -> tuple[int, list[tuple[PersonRow, InstitutionRow | None, ProcessRow]]]:
    """People of a roster whose name or email contains `text`, with their institution and process."""
    where = [
        _matching(
            session,
            text,
            PersonRow.name,
            PersonRow.email,
            index=_everyone(account_id, "search_person"),
        ),
        followed(account_id, col(PersonRow.process_id)),
    ]
    query = (
        select(PersonRow, InstitutionRow, ProcessRow)
        .join(ProcessRow, col(ProcessRow.id) == col(PersonRow.process_id))
        .outerjoin(InstitutionRow, col(InstitutionRow.id) == col(PersonRow.institution_id))
        .order_by(col(PersonRow.name), col(ProcessRow.key))
    )
    total, rows = _page(session, PersonRow, where, query, offset, limit)
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
