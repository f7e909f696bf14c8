"""What a sweep's batch reads once for all its rungs, as records (`storage.shapes`) rather than ORM
objects: the requests, their institutions and the people their links went to. A batch reads a few
hundred of each and never writes them back, but for a request's first Message-ID
(`request_mail.mail_request`)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session

from ibmflow.storage.db import record_columns, table_of
from ibmflow.storage.shapes import InstitutionRecord, PersonRecord, RequestRecord
from ibmflow.storage.tables import InstitutionRow, LinkTokenRow, PersonRow, RequestRow

_REQUEST, _INSTITUTION = table_of(RequestRow), table_of(InstitutionRow)
_PERSON, _LINK = table_of(PersonRow), table_of(LinkTokenRow)


# Built once, with the ids as an expanding parameter.
_REQUESTS = sa.select(*record_columns(_REQUEST, RequestRecord)).where(
    _REQUEST.c.id.in_(sa.bindparam("ids", expanding=True))
)
_INSTITUTIONS = sa.select(*record_columns(_INSTITUTION, InstitutionRecord)).where(
    _INSTITUTION.c.id.in_(sa.bindparam("ids", expanding=True))
)
_ADDRESSEES = (
    sa.select(_LINK.c.request_id, *record_columns(_PERSON, PersonRecord))
    .join(_PERSON, _PERSON.c.id == _LINK.c.person_id)
    .where(_LINK.c.request_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(_LINK.c.id)
)


def requests(session: Session, ids: Iterable[int]) -> dict[int, RequestRecord]:
    """The requests with these ids, by id."""
    rows = session.connection().execute(_REQUESTS, {"ids": sorted(set(ids))}).all()
    return {row.id: RequestRecord(*row) for row in rows}


def institutions(session: Session, ids: Iterable[int]) -> dict[int, InstitutionRecord]:
    """The institutions with these ids, by id."""
    rows = session.connection().execute(_INSTITUTIONS, {"ids": sorted(set(ids))}).all()
    return {row.id: InstitutionRecord(*row) for row in rows}


def addressees(session: Session, request_ids: Iterable[int]) -> dict[int, list[PersonRecord]]:
    """The people each request's links went to (its mails), each once, in the order they got it."""
    out: dict[int, list[PersonRecord]] = {}
    people: dict[int, PersonRecord] = {}  # one record per person, whatever their requests
    seen: set[tuple[int, int]] = set()
    rows = session.connection().execute(_ADDRESSEES, {"ids": sorted(set(request_ids))}).all()
    for request_id, *person in rows:
        person_id = person[0]
        if (request_id, person_id) not in seen:
            seen.add((request_id, person_id))
            if person_id not in people:
                people[person_id] = PersonRecord(*person)
            out.setdefault(request_id, []).append(people[person_id])
    return out
