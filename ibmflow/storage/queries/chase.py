"""The queries of the chaser: the rungs due and their claims, what a batch of rungs reads once for
all of them, the rows a batch writes together, the rungs of one subject and the links of a request.

The claim and the ring take their locks here (`FOR UPDATE SKIP LOCKED` on PostgreSQL); the services
decide when, `services.chase` says why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ibmflow.storage.db import connection, record_columns, table_of
from ibmflow.storage.prepared import Prepared
from ibmflow.storage.queries.outbox import written
from ibmflow.storage.shapes import PersonRecord
from ibmflow.storage.tables import (
    ChaseMailRow,
    InstitutionRow,
    LinkTokenRow,
    NominationRow,
    OutboxRow,
    PersonRow,
    ProcessRow,
    RequestRow,
    RungRow,
    StepRecord,
)

_RUNG, _PROCESS, _CHASE_MAIL = table_of(RungRow), table_of(ProcessRow), table_of(ChaseMailRow)
_PENDING = "pending"  # a rung not yet rung (`services.deadlines.PENDING`, the column's default)


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        _RUNG.c.status == _PENDING,
        _RUNG.c.fire_at <= now,
        sa.or_(_RUNG.c.claimed_until.is_(None), _RUNG.c.claimed_until < now),
    )


def due_rungs_query(now: datetime, limit: int, *, skip_locked: bool) -> sa.Select[Any]:
    """The ids of the pending rungs due at `now` that no live claim holds, oldest first."""
    query = (
        sa.select(_RUNG.c.id).where(_due(now)).order_by(_RUNG.c.fire_at, _RUNG.c.id).limit(limit)
    )
    return query.with_for_update(skip_locked=True) if skip_locked else query


def any_due(conn: sa.Connection, now: datetime) -> bool:
    """Whether a rung is due at `now` (one indexed read, no lock)."""
    return conn.execute(due_rungs_query(now, 1, skip_locked=False)).first() is not None


def due_rung_ids(session: Session, now: datetime) -> list[int]:
    """Every rung due at `now` that no live claim holds, oldest first (no lock)."""
    query = due_rungs_query(now, 1_000_000, skip_locked=False)
    return list(connection(session).execute(query).scalars())


def claim(
    session: Session, now: datetime, worker: str, size: int, until: datetime, *, skip_locked: bool
) -> list[int]:
    """Claim for `worker` until `until` every due rung of the processes of the `size` oldest due
    rungs; their ids. With `skip_locked` (PostgreSQL), the rungs and processes another worker is
    claiming or ringing are left to it, whole: the oldest due rungs are taken among the others."""
    conn = connection(session)
    first = (
        sa.select(_RUNG.c.process_id)
        .where(_due(now))
        .order_by(_RUNG.c.fire_at, _RUNG.c.id)
        .limit(size)
    )
    if skip_locked:  # each rung row with its process's, skipped if either is locked
        first = first.join(_PROCESS, _PROCESS.c.id == _RUNG.c.process_id).with_for_update(
            of=[_RUNG, _PROCESS], skip_locked=True
        )
    process_ids = sorted(set(conn.execute(first).scalars().all()))
    if not process_ids:
        return []
    rows = conn.execute(
        sa.update(_RUNG)
        .where(_RUNG.c.process_id.in_(process_ids), _due(now))
        .values(claimed_by=worker, claimed_until=until)
        .returning(_RUNG.c.id)
    )
    return sorted(rows.scalars().all())


@dataclass(slots=True, eq=False)
class RungRecord:
    """A rung's row as a sweep's batch reads and changes it, without the ORM: read with one Core
    select (`pending_rungs`), changed in memory, written back with one `UPDATE` for the whole
    batch (`update_rungs`); a rung the batch adds is inserted with `insert_added`."""

    id: int | None
    key: str
    process_id: int
    request_id: int | None
    step_record_id: int | None
    rung: str
    due_on: date
    fire_at: datetime
    status: str
    claimed_by: str | None
    claimed_until: datetime | None
    done_at: datetime | None
    outcome: str | None


_RECORD_COLUMNS = [_RUNG.c[f.name] for f in fields(RungRecord)]
# What a batch may change in a rung it read: written back for every rung of the batch.
_CHANGED = ("due_on", "fire_at", "status", "claimed_by", "claimed_until", "done_at", "outcome")


def pending_rungs(
    session: Session, ids: Sequence[int], *, claimed_by: str | None, lock: bool
) -> list[RungRecord]:
    """The rungs of `ids` still pending (and still claimed by `claimed_by`, when given), locked
    `FOR UPDATE` when `lock`."""
    query = _PENDING_RUNGS[claimed_by is not None, lock]
    params: dict[str, Any] = {"ids": list(ids)}
    if claimed_by is not None:
        params["worker"] = claimed_by
    return [RungRecord(*row) for row in connection(session).execute(query, params).all()]


def _pending_rungs(claimed: bool, lock: bool) -> sa.Select[Any]:
    query = sa.select(*_RECORD_COLUMNS).where(
        _RUNG.c.id.in_(sa.bindparam("ids", expanding=True)), _RUNG.c.status == _PENDING
    )
    if claimed:
        query = query.where(_RUNG.c.claimed_by == sa.bindparam("worker"))
    return query.with_for_update() if lock else query


# Built once with bound parameters, for each (claimed by a worker, locked).
_PENDING_RUNGS = {(c, lk): _pending_rungs(c, lk) for c in (False, True) for lk in (False, True)}
_RUNG_BY_KEY = sa.select(*_RECORD_COLUMNS).where(_RUNG.c.key == sa.bindparam("key"))
_UPDATE_RUNG = sa.update(_RUNG).where(_RUNG.c.id == sa.bindparam("rung_id"))
_UPDATE_RUNGS = sa.update(_RUNG).where(_RUNG.c.id.in_(sa.bindparam("rung_ids", expanding=True)))
_IN_CHUNK = 500  # ids in one statement, well under SQLite's limit of bound values


def rung_record(session: Session, key: str) -> RungRecord:
    """The rung with this key (it must exist), as a record."""
    return RungRecord(*connection(session).execute(_RUNG_BY_KEY, {"key": key}).one())


def update_rungs(session: Session, rungs: Sequence[RungRecord]) -> None:
    """Write back what a batch may have changed in these rungs (read as records). Most of a
    batch's rungs end alike (sent at the same moment to as many people, superseded by the same
    rung): one `UPDATE ... WHERE id IN (...)` for each set of values that several share, then one
    `UPDATE ... WHERE id = ?` executed for all of the others."""
    alike: dict[tuple[Any, ...], list[int]] = {}
    for rung in rungs:
        alike.setdefault(tuple(getattr(rung, name) for name in _CHANGED), []).append(rung.id or 0)
    conn, single = connection(session), []
    for values, ids in alike.items():
        if len(ids) == 1:
            single.append({"rung_id": ids[0], **dict(zip(_CHANGED, values, strict=True))})
            continue
        for start in range(0, len(ids), _IN_CHUNK):
            params = {"rung_ids": ids[start : start + _IN_CHUNK]}
            conn.execute(_UPDATE_RUNGS, {**params, **dict(zip(_CHANGED, values, strict=True))})
    if single:
        conn.execute(_UPDATE_RUNG, single)


def insert_added(session: Session, rungs: Sequence[RungRecord]) -> None:
    """Insert these new rungs (their ids unset) with one statement, in their order, and give each
    its id."""
    if not rungs:
        return
    columns = [f.name for f in fields(RungRecord) if f.name != "id"]
    rows = connection(session).execute(
        sa.insert(_RUNG).returning(_RUNG.c.id, sort_by_parameter_order=True),
        [{name: getattr(r, name) for name in columns} for r in rungs],
    )
    for rung, (rung_id,) in zip(rungs, rows, strict=True):
        rung.id = rung_id


def rungs_of(
    session: Session, *, request_id: int | None = None, stay_id: int | None = None
) -> list[RungRow]:
    """The rungs of one request, or of one stay in a step, whatever their status."""
    column = RungRow.request_id if request_id is not None else RungRow.step_record_id
    subject = request_id if request_id is not None else stay_id
    return list(session.exec(select(RungRow).where(col(column) == subject)))


def rungs_of_requests(session: Session, request_ids: Iterable[int]) -> list[RungRow]:
    """The rungs of these requests, whatever their status (one query for all of them)."""
    ids = list(request_ids)
    return list(session.exec(select(RungRow).where(col(RungRow.request_id).in_(ids))))


_INSERT_RUNGS = Prepared(sa.insert(_RUNG))


def insert_rungs(session: Session, values: Sequence[dict[str, Any]]) -> None:
    """Plan these rungs, one statement for all of them."""
    if values:
        _INSERT_RUNGS.write_many(connection(session), values)


def record_chase_mails(session: Session, carried: Iterable[tuple[int, int, str]]) -> None:
    """Record which mail (Message-ID) carried which rung to which person: (rung id, person id,
    message id), one statement for all of them."""
    rows = [
        {"rung_id": rung_id, "person_id": person_id, "message_id": message_id}
        for rung_id, person_id, message_id in carried
    ]
    if rows:
        connection(session).execute(sa.insert(_CHASE_MAIL), rows)


def mails_by_message_id(session: Session, message_ids: Iterable[str]) -> dict[str, OutboxRow]:
    """The outbox rows of the mails that carried rungs, by Message-ID (one query)."""
    ids = list(message_ids)
    rows = written(session).exec(select(OutboxRow).where(col(OutboxRow.message_id).in_(ids)))
    return {row.message_id: row for row in rows}


# What a batch of rungs reads once for all of them -----------------------------------------------


def processes_locked(session: Session, ids: Iterable[int]) -> dict[int, ProcessRow]:
    """The processes with these ids, locked in id order (as every command locks one)."""
    rows = session.exec(
        select(ProcessRow)
        .where(col(ProcessRow.id).in_(sorted(set(ids))))
        .order_by(col(ProcessRow.id))
        .with_for_update()
    )
    return {p.id or 0: p for p in rows}


def requests_by_id(session: Session, ids: Iterable[int]) -> dict[int, RequestRow]:
    """The requests with these ids, by id."""
    rows = session.exec(select(RequestRow).where(col(RequestRow.id).in_(list(ids))))
    return {q.id or 0: q for q in rows}


def stays_by_id(session: Session, ids: Iterable[int]) -> dict[int, StepRecord]:
    """The stays in a step with these ids, by id."""
    rows = session.exec(select(StepRecord).where(col(StepRecord.id).in_(list(ids))))
    return {s.id or 0: s for s in rows}


def institutions_by_id(session: Session, ids: Iterable[int]) -> dict[int, InstitutionRow]:
    """The institutions with these ids, by id."""
    rows = session.exec(select(InstitutionRow).where(col(InstitutionRow.id).in_(set(ids))))
    return {i.id or 0: i for i in rows}


_RUNGS_OF_SUBJECTS = sa.select(_RUNG.c.key, _RUNG.c.request_id, _RUNG.c.rung, _RUNG.c.status).where(
    sa.or_(
        _RUNG.c.request_id.in_(sa.bindparam("requests", expanding=True)),
        _RUNG.c.step_record_id.in_(sa.bindparam("stays", expanding=True)),
    )
)


def rungs_of_subjects(
    session: Session, request_ids: Iterable[int], stay_ids: Iterable[int]
) -> Sequence[tuple[str, int | None, str, str]]:
    """(key, request id, rung name, status) of every rung of these requests and stays (Core
    tuples: a batch reads about four rungs a request)."""
    params = {"requests": list(request_ids), "stays": list(stay_ids)}
    return connection(session).execute(_RUNGS_OF_SUBJECTS, params).all()


class Standing(NamedTuple):
    """A representative's date-range nomination: its id, its dates, the representative."""

    id: int
    valid_from: date | None
    valid_until: date | None
    person: PersonRecord


_NOMINATION, _PERSON = table_of(NominationRow), table_of(PersonRow)
_STANDING = (  # date-range nominations not revoked, with their representatives, oldest first
    sa.select(
        _NOMINATION.c.member_id,
        _NOMINATION.c.id,
        _NOMINATION.c.valid_from,
        _NOMINATION.c.valid_until,
        *record_columns(_PERSON, PersonRecord),
    )
    .join(_PERSON, _PERSON.c.id == _NOMINATION.c.representative_id)
    .where(
        _NOMINATION.c.member_id.in_(sa.bindparam("members", expanding=True)),
        _NOMINATION.c.revoked.is_(False),
        _NOMINATION.c.decision_id.is_(None),
    )
    .order_by(_NOMINATION.c.id)
)


def standing_representatives(
    session: Session, member_ids: Iterable[int]
) -> dict[int, list[Standing]]:
    """The date-range nominations (not for one decision) of these members not revoked, by member,
    each as (its id, valid from, valid until, representative), oldest first: the caller checks the
    dates (`nominations.standing_representatives` for many members at once)."""
    found: dict[int, list[Standing]] = {}
    ids = sorted(set(member_ids))
    if ids:
        for member_id, nomination_id, since, until, *person in connection(session).execute(
            _STANDING, {"members": ids}
        ):
            standing = Standing(nomination_id, since, until, PersonRecord(*person))
            found.setdefault(member_id, []).append(standing)
    return found


# The links of a request ---------------------------------------------------------------------------


def unused_links(session: Session, request_id: int) -> list[LinkTokenRow]:
    """The request's answer links not used yet."""
    return list(
        session.exec(
            select(LinkTokenRow).where(
                LinkTokenRow.request_id == request_id, col(LinkTokenRow.used_at).is_(None)
            )
        )
    )


def link_emails(session: Session, request_id: int | None) -> list[str]:
    """The addresses the request's links went to, each once, in the order they were sent."""
    return list(
        dict.fromkeys(
            session.exec(
                select(PersonRow.email)
                .join(LinkTokenRow, col(LinkTokenRow.person_id) == col(PersonRow.id))
                .where(LinkTokenRow.request_id == request_id)
                .order_by(col(LinkTokenRow.id))
            )
        )
    )


def has_link(session: Session, request_id: int | None, person_id: int | None) -> bool:
    """Whether the person was already sent a link for the request."""
    found = session.exec(
        select(LinkTokenRow.id).where(
            LinkTokenRow.request_id == request_id, LinkTokenRow.person_id == person_id
        )
    ).first()
    return found is not None
