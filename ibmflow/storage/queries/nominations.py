"""The queries on votes and who casts them: the nominations of representatives, the vote requests
still open, an institution's vote."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ibmflow.storage.tables import (
    DecisionRow,
    NominationRow,
    PersonRow,
    ProcessRow,
    RequestRow,
    VoteRow,
)

_IN_FORCE = select(NominationRow).where(
    NominationRow.process_id == sa.bindparam("pid"), col(NominationRow.revoked).is_(False)
)


def in_force(session: Session, process: ProcessRow) -> list[NominationRow]:
    """The process's nominations not revoked (for one decision or a date range, current or not)."""
    return list(session.exec(_IN_FORCE, params={"pid": process.id}))


_STANDING = (  # built once, with bound parameters (building it cost more than running it)
    select(NominationRow, PersonRow)
    .join(PersonRow, col(PersonRow.id) == col(NominationRow.representative_id))
    .where(
        col(NominationRow.member_id).in_(sa.bindparam("members", expanding=True)),
        col(NominationRow.revoked).is_(False),
        col(NominationRow.decision_id).is_(None),
    )
)


def standing_representatives(
    session: Session, member_ids: Iterable[int | None]
) -> list[tuple[NominationRow, PersonRow]]:
    """The date-range nominations (not for one decision) of these members not revoked, each with
    its representative; the caller checks the dates."""
    return [
        (nomination, person)
        for nomination, person in session.exec(_STANDING, params={"members": list(member_ids)})
    ]


def open_vote_requests(
    session: Session,
    process: ProcessRow,
    *,
    kind: str,
    institution_id: int,
    decision_status: str,
    decision_id: int | None = None,
) -> list[RequestRow]:
    """An institution's vote requests (`kind`) still sent, not answered, on the decisions in
    `decision_status` (of `decision_id` only, when given), oldest first."""
    query = (
        select(RequestRow)
        .join(DecisionRow, col(DecisionRow.id) == col(RequestRow.decision_id))
        .where(
            RequestRow.process_id == process.id,
            RequestRow.kind == kind,
            RequestRow.status == "sent",
            RequestRow.institution_id == institution_id,
            DecisionRow.status == decision_status,
        )
        .order_by(col(RequestRow.id))
    )
    if decision_id is not None:
        query = query.where(RequestRow.decision_id == decision_id)
    return list(session.exec(query))


def vote_of(session: Session, decision_id: int | None, institution_id: int) -> VoteRow | None:
    """The institution's vote on a decision, if it voted."""
    return session.exec(
        select(VoteRow).where(
            VoteRow.decision_id == decision_id, VoteRow.institution_id == institution_id
        )
    ).first()
