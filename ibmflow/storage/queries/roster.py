"""The queries on a process's roster: its people, who holds a role, the coordinator in force."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ibmflow.storage.account_tables import UserAccountRow
from ibmflow.storage.db import connection, record_columns, table_of
from ibmflow.storage.prepared import Prepared
from ibmflow.storage.shapes import PersonRecord
from ibmflow.storage.tables import (
    AppointmentRow,
    InstitutionRow,
    NominationRow,
    PersonRow,
    ProcessRow,
    RoleRow,
)

_PERSON, _ROLE, _NOMINATION = table_of(PersonRow), table_of(RoleRow), table_of(NominationRow)
_INSTITUTION, _ACCOUNT = table_of(InstitutionRow), table_of(UserAccountRow)

# Built once, with bound parameters (building a statement costs more than running it).
_PEOPLE = (
    select(PersonRow).where(PersonRow.process_id == sa.bindparam("pid")).order_by(col(PersonRow.id))
)
_PEOPLE_BY_ID = select(PersonRow).where(col(PersonRow.id).in_(sa.bindparam("ids", expanding=True)))


REPRESENTATIVES = "representatives"  # `addresses_by_role`'s key for the nominated representatives

# The addresses of the process's people by the role they hold (in force), and those of the
# representatives of its nominations not revoked: one Core statement, the addresses only.
_ADDRESSES_BY_ROLE = Prepared(
    sa.union_all(
        sa.select(_PERSON.c.email, _ROLE.c.role)
        .join(_ROLE, _ROLE.c.person_id == _PERSON.c.id)
        .where(
            _ROLE.c.process_id == sa.bindparam("pid"),
            _ROLE.c.active.is_(True),
            _PERSON.c.process_id == sa.bindparam("pid"),
        ),
        sa.select(_PERSON.c.email, sa.literal(REPRESENTATIVES, sa.String))
        .join(_NOMINATION, _NOMINATION.c.representative_id == _PERSON.c.id)
        .where(
            _NOMINATION.c.process_id == sa.bindparam("pid"),
            _NOMINATION.c.revoked.is_(False),
            _PERSON.c.process_id == sa.bindparam("pid"),
        ),
    )
)


def addresses_by_role(session: Session, process_id: int) -> dict[str, set[str]]:
    """The addresses of the process's people by the role they hold in force (roster names:
    `focal_point`...), and under REPRESENTATIVES those of the representatives of its nominations
    not revoked (one statement)."""
    if session.autoflush:  # Core statements do not autoflush: what the command added counts
        session.flush()
    found: dict[str, set[str]] = {}
    for email, role in _ADDRESSES_BY_ROLE.rows(connection(session), {"pid": process_id}):
        found.setdefault(role, set()).add(email)
    return found


def addresses_of_roles(
    session: Session, process_id: int, roles: Sequence[str], *, representatives: bool
) -> list[str]:
    """The addresses, sorted, of the process's people holding any of `roles` (roster names:
    `focal_point`...), with the representatives of its nominations not revoked if asked."""
    return pick_addresses(addresses_by_role(session, process_id), roles, representatives)


def pick_addresses(
    by_role: dict[str, set[str]], roles: Sequence[str], representatives: bool
) -> list[str]:
    """From `addresses_by_role`, the addresses, sorted, of `roles` (and the representatives)."""
    found: set[str] = set()
    for role in [*roles, REPRESENTATIVES] if representatives else roles:
        found |= by_role.get(role, set())
    return sorted(found)


# Every person of some processes with their own language, their institution's and the one their
# console account chose (Core: the few columns that choose a mail's language, for a whole batch of
# processes at once). An account's address is stored lower-cased; a person's is lower-case ASCII
# (`roster.py` checks it), so SQL's `lower` (ASCII only) finds the account as Python's would.
_LANGUAGES_OF_ROSTERS = (
    sa.select(
        _PERSON.c.process_id,
        _PERSON.c.email,
        _PERSON.c.language,
        _INSTITUTION.c.language,
        _ACCOUNT.c.language,
    )
    .select_from(
        _PERSON.outerjoin(
            _INSTITUTION,
            sa.and_(
                _INSTITUTION.c.id == _PERSON.c.institution_id,
                _INSTITUTION.c.process_id == _PERSON.c.process_id,
            ),
        ).outerjoin(
            _ACCOUNT,
            sa.and_(
                _ACCOUNT.c.email == sa.func.lower(_PERSON.c.email),
                _ACCOUNT.c.language.is_not(None),
            ),
        )
    )
    .order_by(_PERSON.c.id)
)
_LANGUAGES = _LANGUAGES_OF_ROSTERS.where(
    _PERSON.c.process_id.in_(sa.bindparam("pids", expanding=True))
)
_LANGUAGES_OF_ONE = Prepared(
    _LANGUAGES_OF_ROSTERS.where(_PERSON.c.process_id == sa.bindparam("pid"))
)


def people_languages(
    session: Session, process_ids: Sequence[int]
) -> list[tuple[int, str, str | None, str | None, str | None]]:
    """(process id, address, own language, institution's language, account's chosen language) of
    every person of these processes, in roster order."""
    if not process_ids:
        return []
    conn = connection(session)
    if len(process_ids) == 1:  # a command's own process: a statement prepared once
        rows = _LANGUAGES_OF_ONE.rows(conn, {"pid": process_ids[0]})
    else:
        rows = list(conn.execute(_LANGUAGES, {"pids": list(process_ids)}))
    return [(pid, email, own, inst, chosen) for pid, email, own, inst, chosen in rows]


def people(session: Session, process: ProcessRow) -> list[PersonRow]:
    """The process's people, in roster order."""
    return list(session.exec(_PEOPLE, params={"pid": process.id}))


def people_by_id(session: Session, ids: Iterable[int]) -> dict[int, PersonRow]:
    """The people with these ids, by id (unknown ids are left out)."""
    wanted = list(ids)
    if not wanted:
        return {}
    rows = session.exec(_PEOPLE_BY_ID, params={"ids": wanted})
    return {p.id or 0: p for p in rows}


_HOLDERS = (
    select(PersonRow)
    .join(RoleRow, col(RoleRow.person_id) == col(PersonRow.id))
    .where(
        RoleRow.process_id == sa.bindparam("pid"),
        RoleRow.role == sa.bindparam("role"),
        col(RoleRow.active).is_(True),
        RoleRow.institution_id == sa.bindparam("institution"),
    )
    .order_by(col(RoleRow.id))
)


def holders(
    session: Session, process: ProcessRow, role: str, institution_id: int
) -> list[PersonRow]:
    """The people holding `role` (in force) for one institution, in the order they got it."""
    params = {"pid": process.id, "role": role, "institution": institution_id}
    return list(session.exec(_HOLDERS, params=params))


# Every role in force with its holder, in the order the roles were given (the holders as records:
# a sweep's batch reads those of a hundred processes).
_HOLDER_COLUMNS = (*record_columns(_PERSON, PersonRecord), _ROLE.c.role, _ROLE.c.institution_id)
_ROLE_HOLDERS = (
    sa.select(*_HOLDER_COLUMNS)
    .join(_ROLE, _ROLE.c.person_id == _PERSON.c.id)
    .where(_ROLE.c.process_id == sa.bindparam("pid"), _ROLE.c.active.is_(True))
    .order_by(_ROLE.c.id)
)
_ROLE_HOLDERS_OF = (  # the same, for several processes at once
    sa.select(*_HOLDER_COLUMNS, _ROLE.c.process_id)
    .join(_ROLE, _ROLE.c.person_id == _PERSON.c.id)
    .where(_ROLE.c.process_id.in_(sa.bindparam("pids", expanding=True)), _ROLE.c.active.is_(True))
    .order_by(_ROLE.c.id)
)
_PERSON_FIELDS = len(fields(PersonRecord))


def role_holders(session: Session, process_id: int) -> list[tuple[PersonRecord, str, int | None]]:
    """Every role in force in the process: (its holder, the role, the institution it is for), in
    the order the roles were given."""
    rows = connection(session).execute(_ROLE_HOLDERS, {"pid": process_id}).all()
    return [_holding(row) for row in rows]


def role_holders_of(
    session: Session, process_ids: Sequence[int]
) -> dict[int, list[tuple[PersonRecord, str, int | None]]]:
    """`role_holders` of each of these processes, with one statement (every id gets a list)."""
    found: dict[int, list[tuple[PersonRecord, str, int | None]]] = {pid: [] for pid in process_ids}
    if process_ids:
        params = {"pids": list(process_ids)}
        for row in connection(session).execute(_ROLE_HOLDERS_OF, params).all():
            found[row[-1]].append(_holding(row))  # the role's process, last
    return found


def _holding(row: Sequence[Any]) -> tuple[PersonRecord, str, int | None]:
    n = _PERSON_FIELDS
    return PersonRecord(*row[:n]), row[n], row[n + 1]


_APPOINTMENT = table_of(AppointmentRow)
_APPOINTED = (  # the name and address of each appointment's person, oldest appointment first
    sa.select(_APPOINTMENT.c.process_id, _PERSON.c.name, _PERSON.c.email)
    .join(_PERSON, _PERSON.c.id == _APPOINTMENT.c.person_id)
    .order_by(_APPOINTMENT.c.id)
)
_COORDINATORS = _APPOINTED.where(
    _APPOINTMENT.c.process_id.in_(sa.bindparam("pids", expanding=True))
)
_COORDINATOR_OF_ONE = Prepared(_APPOINTED.where(_APPOINTMENT.c.process_id == sa.bindparam("pid")))


def coordinators(session: Session, process_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """The name and address of the coordinator of the latest appointment of each of these
    processes (Core, one statement); a process without an appointment is left out."""
    if not process_ids:
        return {}
    conn = connection(session)
    if len(process_ids) == 1:  # a command's own process: a statement prepared once
        rows = _COORDINATOR_OF_ONE.rows(conn, {"pid": process_ids[0]})
    else:
        rows = list(conn.execute(_COORDINATORS, {"pids": list(process_ids)}))
    return {pid: (name, email) for pid, name, email in rows}  # the latest appointment wins


def on_a_roster(session: Session, email: str, process_id: int | None = None) -> bool:
    """Whether someone with this address is on the roster of a process (of `process_id` if given)."""
    query = select(PersonRow.id).where(PersonRow.email == email)
    if process_id is not None:
        query = query.where(PersonRow.process_id == process_id)
    return session.exec(query.limit(1)).first() is not None
