"""What a sweep's batch reads once for all its rungs, as slotted records rather than ORM objects:
the requests, their institutions and the people their links went to (`storage.shapes` says what
the mails read of them). A batch reads a few hundred of each and never writes them back, but for a
request's first Message-ID (`request_mail.mail_request`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from ibmflow.storage.db import table_of
from ibmflow.storage.tables import InstitutionRow, LinkTokenRow, PersonRow, RequestRow

_REQUEST, _INSTITUTION = table_of(RequestRow), table_of(InstitutionRow)
_PERSON, _LINK = table_of(PersonRow), table_of(LinkTokenRow)


@dataclass(slots=True, eq=False)
class RequestRecord:
    """A request's columns that a batch reads (`shapes.Request`)."""

    id: int
    process_id: int
    step: str
    kind: str
    institution_id: int
    focal_point_id: int | None
    status: str
    instructions: str
    sent_at: datetime
    due_at: datetime | None
    decision_id: int | None
    reply_key: str | None
    message_id: str | None


@dataclass(slots=True, frozen=True)
class InstitutionRecord:
    """An institution's columns that a batch reads (`shapes.Institution`)."""

    id: int
    code: str
    name: str
    short_name: str
    weekend: str
    language: str | None


@dataclass(slots=True, frozen=True)
class PersonRecord:
    """A person's columns that a batch reads (`shapes.Person`)."""

    id: int
    process_id: int
    name: str
    email: str
    institution_id: int | None
    language: str | None


def _columns(table: sa.Table, record: type) -> list[sa.Column[Any]]:
    return [table.c[f.name] for f in fields(record)]


# Built once, with the ids as an expanding parameter.
_REQUESTS = sa.select(*_columns(_REQUEST, RequestRecord)).where(
    _REQUEST.c.id.in_(sa.bindparam("ids", expanding=True))
)
_INSTITUTIONS = sa.select(*_columns(_INSTITUTION, InstitutionRecord)).where(
    _INSTITUTION.c.id.in_(sa.bindparam("ids", expanding=True))
)
_ADDRESSEES = (
    sa.select(_LINK.c.request_id, *_columns(_PERSON, PersonRecord))
    .join(_PERSON, _PERSON.c.id == _LINK.c.person_id)
    .where(_LINK.c.request_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(_LINK.c.id)
)


def requests(session: Session, ids: Iterable[int]) -> dict[int, RequestRecord]:
    """The requests with these ids, by id."""
    rows = session.connection().execute(_REQUESTS, {"ids": sorted(set(ids))})
    return {row.id: RequestRecord(*row) for row in rows}


def institutions(session: Session, ids: Iterable[int]) -> dict[int, InstitutionRecord]:
    """The institutions with these ids, by id."""
    rows = session.connection().execute(_INSTITUTIONS, {"ids": sorted(set(ids))})
    return {row.id: InstitutionRecord(*row) for row in rows}


def addressees(session: Session, request_ids: Iterable[int]) -> dict[int, list[PersonRecord]]:
    """The people each request's links went to (its mails), each once, in the order they got it."""
    out: dict[int, list[PersonRecord]] = {}
    people: dict[int, PersonRecord] = {}  # one record per person, whatever their requests
    seen: set[tuple[int, int]] = set()
    rows = session.connection().execute(_ADDRESSEES, {"ids": sorted(set(request_ids))})
    for request_id, *person in rows:
        person_id = person[0]
        if (request_id, person_id) not in seen:
            seen.add((request_id, person_id))
            if person_id not in people:
                people[person_id] = PersonRecord(*person)
            out.setdefault(request_id, []).append(people[person_id])
    return out
