"""The queries on a process's roster: its people, who holds a role, the coordinator in force."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ibmflow.storage.tables import AppointmentRow, PersonRow, ProcessRow, RoleRow

# Built once, with bound parameters (building a statement costs more than running it).
_PEOPLE = (
    select(PersonRow).where(PersonRow.process_id == sa.bindparam("pid")).order_by(col(PersonRow.id))
)
_PEOPLE_BY_ID = select(PersonRow).where(col(PersonRow.id).in_(sa.bindparam("ids", expanding=True)))
_COORDINATOR = (  # the person of the latest appointment
    select(PersonRow)
    .join(AppointmentRow, col(AppointmentRow.person_id) == col(PersonRow.id))
    .where(AppointmentRow.process_id == sa.bindparam("pid"))
    .order_by(col(AppointmentRow.id).desc())
    .limit(1)
)


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


def holders(
    session: Session, process: ProcessRow, role: str, institution_id: int
) -> list[PersonRow]:
    """The people holding `role` (in force) for one institution, in the order they got it."""
    return list(
        session.exec(
            select(PersonRow)
            .join(RoleRow, col(RoleRow.person_id) == col(PersonRow.id))
            .where(
                RoleRow.process_id == process.id,
                RoleRow.role == role,
                col(RoleRow.active).is_(True),
                RoleRow.institution_id == institution_id,
            )
            .order_by(col(RoleRow.id))
        )
    )


def coordinator(session: Session, process: ProcessRow) -> PersonRow | None:
    """The coordinator of the latest appointment, or None before the first."""
    return session.exec(_COORDINATOR, params={"pid": process.id}).first()


def on_a_roster(session: Session, email: str, process_id: int | None = None) -> bool:
    """Whether someone with this address is on the roster of a process (of `process_id` if given)."""
    query = select(PersonRow.id).where(PersonRow.email == email)
    if process_id is not None:
        query = query.where(PersonRow.process_id == process_id)
    return session.exec(query.limit(1)).first() is not None
