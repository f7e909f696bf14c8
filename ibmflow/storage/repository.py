"""Loading a process and the objects of its roster for the commands, and the writes of a transition.

The writes of a transition are SQLAlchemy Core statements built once at import: they hydrate, track
and flush no ORM objects. The facts the guards read are in `storage.facts_reader` (re-exported here);
the named queries of each area in `storage.queries`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from ibmflow.errors import NotFound
from ibmflow.i18n import _
from ibmflow.storage.db import connection, loaded, table_of
from ibmflow.storage.facts_reader import load_facts as load_facts
from ibmflow.storage.facts_reader import nominations as nominations
from ibmflow.storage.prepared import Prepared
from ibmflow.storage.tables import (
    DecisionRow,
    DocumentRow,
    InstitutionRow,
    PersonRow,
    ProcessRow,
    RequestRow,
    RoleRow,
    StepRecord,
)

_PROCESS, _STEP = table_of(ProcessRow), table_of(StepRecord)
_STEP_OPEN = _STEP.alias("open_stay")

_PROCESS_BY_KEY = select(ProcessRow).where(ProcessRow.key == sa.bindparam("key"))
_PROCESS_BY_KEY_LOCKED = _PROCESS_BY_KEY.with_for_update()


def get_process(session: Session, key: str, *, lock: bool = False) -> ProcessRow:
    """The process with this key; `lock` takes a row lock (PostgreSQL) for the transaction."""
    query = _PROCESS_BY_KEY_LOCKED if lock else _PROCESS_BY_KEY
    row = session.exec(query, params={"key": key.strip().upper()}).one_or_none()
    if row is None:
        raise NotFound(
            _("no process %(key)r; `ibmflow process list` shows the processes.", key=key),
            process=key,
        )
    return row


_PROCESS_ROW_LOCKED = Prepared(
    sa.select(*_PROCESS.c).where(_PROCESS.c.key == sa.bindparam("key")).with_for_update()
)


def process_for_transition(session: Session, key: str) -> ProcessRow:
    """`get_process(..., lock=True)` for a transition, read by Core: the row is locked the same way
    but comes in no session (detached, as if loaded), so the ORM has nothing to track or flush.
    Its writes go through `move_process`, which shows them on it."""
    session.flush()  # a Core read: what the command wrote before is seen (as an ORM query would)
    row = _PROCESS_ROW_LOCKED.first(connection(session), {"key": key.strip().upper()})
    if row is None:
        raise NotFound(
            _("no process %(key)r; `ibmflow process list` shows the processes.", key=key),
            process=key,
        )
    return loaded(ProcessRow, row._asdict())


def process_keys(session: Session) -> dict[int, str]:
    """The key of every process by its id, in the order they were started."""
    rows = session.exec(select(ProcessRow.id, ProcessRow.key).order_by(col(ProcessRow.id)))
    return {pid or 0: key for pid, key in rows}


_Owned = TypeVar("_Owned", DecisionRow, DocumentRow, RequestRow)


def _not_owned(model: type[_Owned], object_id: int, key: str) -> str:
    if model is DecisionRow:
        return _(
            "no decision #%(id)s in %(key)s; `ibmflow decision list %(key)s` shows them.",
            id=object_id,
            key=key,
        )
    if model is DocumentRow:
        return _(
            "no document #%(id)s in %(key)s; `ibmflow status %(key)s` shows them.",
            id=object_id,
            key=key,
        )
    return _(
        "no request #%(id)s in %(key)s; `ibmflow request list %(key)s` shows them.",
        id=object_id,
        key=key,
    )


def owned(session: Session, process: ProcessRow, model: type[_Owned], object_id: int) -> _Owned:
    """Object `object_id` of `model` if it belongs to `process`; NotFound otherwise (an id typed
    into a form or a command must never reach another process's object)."""
    row = session.get(model, object_id)
    if row is None or row.process_id != process.id:
        raise NotFound(_not_owned(model, object_id, process.key), process=process.key)
    return row


# The reads of every command, built once (with bound parameters): building a statement and its
# cache key costs more than running it.
_PID: sa.BindParameter[int] = sa.bindparam("pid")
_CURRENT_STAY = (
    select(StepRecord)
    .where(StepRecord.process_id == _PID, col(StepRecord.left_at).is_(None))
    .order_by(col(StepRecord.id).desc())
)
_INSTITUTIONS = (
    select(InstitutionRow).where(InstitutionRow.process_id == _PID).order_by(col(InstitutionRow.id))
)
_INSTITUTION = select(InstitutionRow).where(
    InstitutionRow.process_id == _PID, InstitutionRow.code == sa.bindparam("code")
)
_PERSON = select(PersonRow).where(
    PersonRow.process_id == _PID, PersonRow.email == sa.bindparam("email")
)
_ACTIVE_ROLES = select(RoleRow).where(RoleRow.process_id == _PID, RoleRow.active == True)  # noqa: E712
_ALL_ACTIVE_ROLES = _ACTIVE_ROLES.order_by(col(RoleRow.id))
_ACTIVE_ROLES_OF = _ACTIVE_ROLES.where(RoleRow.role == sa.bindparam("role")).order_by(
    col(RoleRow.id)
)


def current_step_record(session: Session, process: ProcessRow) -> StepRecord | None:
    """The open stay in the current step (None when the process is suspended or finished)."""
    return session.exec(_CURRENT_STAY, params={"pid": process.id}).first()


def step_records(session: Session, process: ProcessRow) -> list[StepRecord]:
    """Every stay in every step, oldest first."""
    return list(
        session.exec(
            select(StepRecord)
            .where(StepRecord.process_id == process.id)
            .order_by(col(StepRecord.id))
        )
    )


def institutions(session: Session, process: ProcessRow) -> list[InstitutionRow]:
    """The process's institutions, in roster order."""
    return list(session.exec(_INSTITUTIONS, params={"pid": process.id}))


def institution(session: Session, process: ProcessRow, code: str) -> InstitutionRow:
    """One institution by code."""
    row = session.exec(_INSTITUTION, params={"pid": process.id, "code": code.upper()}).one_or_none()
    if row is None:
        known = ", ".join(i.code for i in institutions(session, process))
        raise NotFound(
            _(
                "no institution %(code)r in process %(key)s; known: %(known)s.",
                code=code,
                key=process.key,
                known=known,
            ),
            process=process.key,
        )
    return row


def person(session: Session, process: ProcessRow, email: str) -> PersonRow:
    """One person by email."""
    row = person_or_none(session, process, email)
    if row is None:
        raise NotFound(
            _(
                "nobody with email %(email)r in process %(key)s; add them with `ibmflow person "
                "add` or a roster import.",
                email=email,
                key=process.key,
            ),
            process=process.key,
        )
    return row


def person_or_none(session: Session, process: ProcessRow, email: str) -> PersonRow | None:
    """One person by email, or None."""
    params = {"pid": process.id, "email": email.strip().lower()}
    return session.exec(_PERSON, params=params).one_or_none()


def active_roles(session: Session, process: ProcessRow, role: str | None = None) -> list[RoleRow]:
    """The roles in force, optionally of one kind."""
    if role is None:
        return list(session.exec(_ALL_ACTIVE_ROLES, params={"pid": process.id}))
    return list(session.exec(_ACTIVE_ROLES_OF, params={"pid": process.id, "role": role}))


# The writes of a transition, as Core statements (no ORM objects to track and flush).
_MOVE_PROCESS = Prepared(
    sa.update(_PROCESS).where(
        _PROCESS.c.id == sa.bindparam("pid"), _PROCESS.c.version == sa.bindparam("seen")
    )
)
_OPEN_STAY_ID = (
    sa.select(sa.func.max(_STEP_OPEN.c.id))
    .where(_STEP_OPEN.c.process_id == sa.bindparam("pid"), _STEP_OPEN.c.left_at.is_(None))
    .scalar_subquery()
)
_LEAVE_STAY = Prepared(sa.update(_STEP).where(_STEP.c.id == _OPEN_STAY_ID))
_ENTER_STAY = Prepared(sa.insert(_STEP))


def move_process(
    session: Session,
    process: ProcessRow,
    *,
    seen: int,
    state: str,
    now: datetime,
    suspended_from: str | None,
) -> bool:
    """Move the process to `state` if it is still at version `seen` (the optimistic lock); False
    when another command changed it first (nothing written). `process` shows the new values."""
    values = {
        "state": state,
        "version": seen + 1,
        "updated_at": now,
        "suspended_from": suspended_from,
    }
    touched = _MOVE_PROCESS.write(connection(session), {"pid": process.id, "seen": seen, **values})
    if touched != 1:
        return False
    for name, value in values.items():  # as written, so the row is not flushed again
        set_committed_value(process, name, value)
    return True


def leave_step(session: Session, process: ProcessRow, *, now: datetime, trigger: str) -> None:
    """Close the open stay in the current step (the one `current_step_record` returns), if any."""
    _LEAVE_STAY.write(connection(session), {"pid": process.id, "left_at": now, "left_by": trigger})


def enter_step(
    session: Session,
    process: ProcessRow,
    step: str,
    *,
    now: datetime,
    target_days: int | None,
    due_at: datetime | None,
) -> int:
    """Open a stay in `step`; return the stay's id."""
    return _ENTER_STAY.insert(
        connection(session),
        {
            "process_id": process.id or 0,
            "step": step,
            "entered_at": now,
            "target_days": target_days,
            "due_at": due_at,
            "left_at": None,
            "left_by": None,
        },
    )
