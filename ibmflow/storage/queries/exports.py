"""Named queries of the exports people work with: a process's requests (of one kind, or all) with
their answers, their institution and the person they went to, in one query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from ibmflow.storage.db import table_of
from ibmflow.storage.tables import InstitutionRow, PersonRow, RequestRow

_REQ, _INST, _PERSON = table_of(RequestRow), table_of(InstitutionRow), table_of(PersonRow)


@dataclass(frozen=True)
class RequestLine:
    """A request and its answer, with its institution and its person (None: it went to the
    institution)."""

    id: int
    kind: str
    status: str
    sent_at: datetime
    due_at: datetime | None
    answered_at: datetime | None
    answered_by: str | None
    answer_text: str | None
    answer_fields: dict[str, Any] | None
    institution_code: str
    institution_name: str
    institution_weekend: str
    person_name: str | None
    person_email: str | None


_LINES = (
    sa.select(
        _REQ.c.id,
        _REQ.c.kind,
        _REQ.c.status,
        _REQ.c.sent_at,
        _REQ.c.due_at,
        _REQ.c.answered_at,
        _REQ.c.answered_by,
        _REQ.c.answer_text,
        _REQ.c.answer_fields,
        _INST.c.code,
        _INST.c.name,
        _INST.c.weekend,
        _PERSON.c.name,
        _PERSON.c.email,
    )
    .join(_INST, _INST.c.id == _REQ.c.institution_id)
    .outerjoin(_PERSON, _PERSON.c.id == _REQ.c.focal_point_id)
    .order_by(_REQ.c.id)
)


def requests_with_people(
    session: Session, process_id: int, kind: str | None = None
) -> list[RequestLine]:
    """A process's requests (of `kind` when given) in the order they were made."""
    query = _LINES.where(_REQ.c.process_id == process_id)
    if kind is not None:
        query = query.where(_REQ.c.kind == kind)
    return [RequestLine(*tuple(row)) for row in session.connection().execute(query)]
