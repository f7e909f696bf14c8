"""Named reads and writes of the requests a command sends: the roster they go to, the requests that
already cover it, the requests and their link tokens with one statement per batch.

The reads are Core statements built once; what they return, and the requests a round stores, are
slotted records (`storage.shapes`), in no session: a step that opens requests reads its institutions
and focal points, and mails and plans its new requests, without ORM objects (whose every attribute
read goes through the ORM's instrumentation).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session

from ibmflow.storage.db import connection, record_columns, table_of
from ibmflow.storage.prepared import Prepared, constants
from ibmflow.storage.shapes import PersonRecord, RequestRecord, RosterInstitution
from ibmflow.storage.tables import (
    InstitutionRow,
    LinkTokenRow,
    PersonRow,
    RequestRow,
    RoleRow,
)

_TOKENS, _REQUESTS = table_of(LinkTokenRow), table_of(RequestRow)
_INSTITUTION, _PERSON, _ROLE = table_of(InstitutionRow), table_of(PersonRow), table_of(RoleRow)
_REQUEST_COLUMNS = [c.name for c in _REQUESTS.columns if c.name != "id"]
_INSERT_REQUESTS = sa.insert(_REQUESTS).returning(_REQUESTS.c.id, sort_by_parameter_order=True)
# SQLite numbers the rows of one multi-row INSERT one after the other, in the order of its VALUES
# (each gets the largest rowid so far plus one, under the write lock of BEGIN IMMEDIATE); SQLAlchemy
# cannot tell which RETURNING row is which there and would send one INSERT per request instead.
_INSERT_REQUESTS_SQLITE = Prepared(sa.insert(_REQUESTS).returning(_REQUESTS.c.id))
_SET_MESSAGE_ID = Prepared(
    sa.update(_REQUESTS)
    .where(_REQUESTS.c.id == sa.bindparam("rid"))
    .values(message_id=sa.bindparam("mid"))
)
_INSERT_TOKENS = Prepared(sa.insert(_TOKENS))

# A new request's columns that the sender does not give, as the table class defaults them.
REQUEST_DEFAULTS: dict[str, Any] = {
    name: RequestRow.model_fields[name].get_default(call_default_factory=True)
    for name in _REQUEST_COLUMNS
    if not RequestRow.model_fields[name].is_required()
}

_PID: sa.BindParameter[int] = sa.bindparam("pid")
_INSTITUTIONS = Prepared(
    sa.select(*record_columns(_INSTITUTION, RosterInstitution))
    .where(_INSTITUTION.c.process_id == _PID)
    .order_by(_INSTITUTION.c.id)
)
_FOCAL_POINTS = Prepared(  # every focal point in force with the institution they speak for
    sa.select(_ROLE.c.institution_id, *record_columns(_PERSON, PersonRecord))
    .join(_PERSON, _PERSON.c.id == _ROLE.c.person_id)
    .where(
        _ROLE.c.process_id == _PID,
        _ROLE.c.role == "focal_point",
        _ROLE.c.active.is_(True),
    )
    .order_by(_ROLE.c.id)
)


def _covering(kinds: tuple[str, ...], statuses: tuple[str, ...]) -> Prepared:
    """The select of `covering` for these kinds and statuses, written into its SQL (`constants`):
    a request kind and a status are names of the code (`requestkinds`, the request statuses), so
    there are a handful of such statements, each prepared once."""
    query = _COVERING.get((kinds, statuses))
    if query is None:
        query = _COVERING[kinds, statuses] = Prepared(
            sa.select(
                _REQUESTS.c.kind, _REQUESTS.c.institution_id, _REQUESTS.c.focal_point_id
            ).where(
                _REQUESTS.c.process_id == _PID,
                _REQUESTS.c.step == sa.bindparam("step"),
                _REQUESTS.c.kind.in_(constants(*kinds)),
                _REQUESTS.c.status.in_(constants(*statuses)),
            )
        )
    return query


_COVERING: dict[tuple[tuple[str, ...], tuple[str, ...]], Prepared] = {}


def institutions(session: Session, process_id: int) -> list[RosterInstitution]:
    """The process's institutions in roster order (Core; records)."""
    session.flush()  # Core statements do not autoflush: an institution added in this command counts
    rows = _INSTITUTIONS.rows(connection(session), {"pid": process_id})
    return [RosterInstitution(*row) for row in rows]


def focal_points(session: Session, process_id: int) -> dict[int, list[PersonRecord]]:
    """The focal points in force of every institution of the process, by institution id, in the
    order they were named (Core, one statement; records, one per person)."""
    session.flush()
    out: dict[int, list[PersonRecord]] = {}
    people: dict[int, PersonRecord] = {}
    for row in _FOCAL_POINTS.rows(connection(session), {"pid": process_id}):  # in role order
        person = people.get(row[1])  # row[1]: the person's id
        if person is None:
            person = people[row[1]] = PersonRecord(*row[1:])
        out.setdefault(row[0] or 0, []).append(person)
    return out


def covering(
    session: Session, process_id: int, step: str, kinds: Collection[str], statuses: Sequence[str]
) -> set[tuple[str, int, int | None]]:
    """(kind, institution id, focal point id) of the requests of `kinds` in `step` that are in one of
    `statuses` (one statement)."""
    query = _covering(tuple(sorted(kinds)), tuple(statuses))
    return {
        (kind, institution_id, focal_point_id)
        for kind, institution_id, focal_point_id in query.rows(
            connection(session), {"pid": process_id, "step": step}
        )
    }


def add_new_requests(session: Session, values: Sequence[Mapping[str, Any]]) -> list[RequestRecord]:
    """Store new requests (each its columns but the id; `REQUEST_DEFAULTS` fill the others) with one
    statement, in the session's transaction; return them with their ids, as records."""
    if not values:
        return []
    session.flush()  # what they refer to (a person or institution just added...) is written first
    full = [{**REQUEST_DEFAULTS, **v} for v in values]
    ids = _insert(session, full)
    return [
        RequestRecord(**{name: v[name] for name in _RECORD_FIELDS}, id=new_id)
        for v, new_id in zip(full, ids, strict=True)
    ]


# A new request's columns that its record holds (all of them but the id, which the insert gives).
_RECORD_FIELDS = [f.name for f in dataclasses.fields(RequestRecord) if f.name != "id"]


def add_requests(session: Session, rows: Sequence[RequestRow]) -> None:
    """Store these new requests with one statement, in the session's transaction: each gets its
    id and is then detached as if loaded (adding it to a session flushes its later changes as
    updates)."""
    if not rows:
        return
    session.flush()  # what they refer to (a decision just opened...) is written first
    values = [{name: getattr(row, name) for name in _REQUEST_COLUMNS} for row in rows]
    for row, new_id in zip(rows, _insert(session, values), strict=True):
        row.id = new_id
        make_transient_to_detached(row)


def _insert(session: Session, values: list[dict[str, Any]]) -> list[int]:
    conn = connection(session)
    if conn.dialect.name == "sqlite":
        return sorted(_INSERT_REQUESTS_SQLITE.insert_many(conn, values))
    return list(conn.execute(_INSERT_REQUESTS, values).scalars())


def set_message_ids(session: Session, message_ids: Mapping[int, str]) -> None:
    """Store the Message-ID of each of these requests (by id), one statement for all."""
    if message_ids:
        params = [{"rid": rid, "mid": mid} for rid, mid in message_ids.items()]
        _SET_MESSAGE_ID.write_many(connection(session), params)


def add_link_tokens(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write these link tokens (every column but the id given) with one statement, in the
    session's transaction."""
    if rows:
        _INSERT_TOKENS.write_many(connection(session), rows)
