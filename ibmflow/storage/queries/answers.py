"""Named queries of requests and their answers: links, pending requests, addressees, vote requests,
received mails. The use cases that take answers ask for these by name."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ibmflow.decisions import ADOPTED, OPEN
from ibmflow.storage.queries.outbox import written
from ibmflow.storage.tables import (
    DecisionRow,
    EarlierAnswerRow,
    InboundMessageRow,
    LinkTokenRow,
    OutboxRow,
    PersonRow,
    ProcessRow,
    RequestRow,
    RoleRow,
)


def link_by_hash(session: Session, token_hash: str) -> LinkTokenRow | None:
    """The answer link whose token has this SHA-256, if any."""
    return session.exec(
        select(LinkTokenRow).where(LinkTokenRow.token_hash == token_hash)
    ).one_or_none()


def unused_links(session: Session, request_id: int) -> Sequence[LinkTokenRow]:
    """The links of a request not used yet."""
    return session.exec(
        select(LinkTokenRow).where(
            LinkTokenRow.request_id == request_id, col(LinkTokenRow.used_at).is_(None)
        )
    ).all()


def linked_people(session: Session, request_id: int) -> set[int]:
    """The ids of the people a request was mailed to (each has a link of their own)."""
    return {
        pid
        for pid in session.exec(
            select(LinkTokenRow.person_id).where(LinkTokenRow.request_id == request_id)
        )
        if pid is not None
    }


def people(session: Session, ids: set[int]) -> Sequence[PersonRow]:
    """The people with these ids."""
    return session.exec(select(PersonRow).where(col(PersonRow.id).in_(ids))).all() if ids else []


def pending(
    session: Session, process: ProcessRow, kind: str, institution_id: int | None = None
) -> Sequence[RequestRow]:
    """The open requests of `kind` in a process (of one institution when given), oldest first."""
    query = select(RequestRow).where(
        RequestRow.process_id == process.id,
        RequestRow.kind == kind,
        RequestRow.status == "sent",
    )
    if institution_id is not None:
        query = query.where(RequestRow.institution_id == institution_id)
    return session.exec(query.order_by(col(RequestRow.id))).all()


def vote_request(session: Session, decision_id: int, institution_id: int) -> RequestRow | None:
    """An institution's vote request on a decision: the open one, else the latest."""
    rows = session.exec(
        select(RequestRow)
        .where(RequestRow.decision_id == decision_id, RequestRow.institution_id == institution_id)
        .order_by(col(RequestRow.id).desc())
    ).all()
    return next((r for r in rows if r.status == "sent"), rows[0] if rows else None)


def open_vote_requests(session: Session, decision_id: int) -> Sequence[RequestRow]:
    """The vote requests of a decision still open."""
    return session.exec(
        select(RequestRow).where(RequestRow.decision_id == decision_id, RequestRow.status == "sent")
    ).all()


def member_of(session: Session, process: ProcessRow, institution_id: int) -> PersonRow | None:
    """The IAWG member of an institution, if it has one."""
    role = session.exec(
        select(RoleRow).where(
            RoleRow.process_id == process.id,
            RoleRow.role == "iawg_member",
            col(RoleRow.active).is_(True),
            RoleRow.institution_id == institution_id,
        )
    ).first()
    return session.get(PersonRow, role.person_id) if role else None


# The reads of every request sent, built once with bound parameters.
_FOCAL_POINTS = (
    select(RoleRow.institution_id, PersonRow)
    .join(PersonRow, col(PersonRow.id) == col(RoleRow.person_id))
    .where(
        RoleRow.process_id == sa.bindparam("pid"),
        RoleRow.role == "focal_point",
        col(RoleRow.active).is_(True),
    )
    .order_by(col(RoleRow.id))
)
_COVERING = select(RequestRow).where(
    RequestRow.process_id == sa.bindparam("pid"),
    RequestRow.kind == sa.bindparam("kind"),
    RequestRow.step == sa.bindparam("step"),
    col(RequestRow.status).in_(sa.bindparam("statuses", expanding=True)),
)


def focal_points(session: Session, process: ProcessRow) -> dict[int, list[PersonRow]]:
    """The focal points of every institution of the process, by institution id (one query)."""
    rows = session.exec(_FOCAL_POINTS, params={"pid": process.id}).all()
    out: dict[int, list[PersonRow]] = {}
    for institution_id, person in rows:
        out.setdefault(institution_id or 0, []).append(person)
    return out


def covering(
    session: Session, process: ProcessRow, kind: str, statuses: Sequence[str]
) -> Sequence[RequestRow]:
    """The requests of `kind` in the current step in one of `statuses`."""
    params = {"pid": process.id, "kind": kind, "step": process.state, "statuses": list(statuses)}
    return session.exec(_COVERING, params=params).all()


def requests_of(session: Session, process: ProcessRow) -> Sequence[RequestRow]:
    """Every request of a process, oldest first."""
    return session.exec(
        select(RequestRow).where(RequestRow.process_id == process.id).order_by(col(RequestRow.id))
    ).all()


def emails_of(session: Session, process: ProcessRow) -> dict[int | None, str]:
    """The email of every person of a process, by id."""
    return {
        p.id: p.email
        for p in session.exec(select(PersonRow).where(PersonRow.process_id == process.id))
    }


def earlier_answers(session: Session, request_ids: list[int]) -> Sequence[EarlierAnswerRow]:
    """The earlier answers of some requests, oldest first."""
    if not request_ids:
        return []
    return session.exec(
        select(EarlierAnswerRow)
        .where(col(EarlierAnswerRow.request_id).in_(request_ids))
        .order_by(col(EarlierAnswerRow.id))
    ).all()


def inbound_by_digest(session: Session, sha256: str) -> InboundMessageRow | None:
    """The received mail with these exact bytes, if it came before."""
    return session.exec(
        select(InboundMessageRow).where(InboundMessageRow.raw_sha256 == sha256)
    ).first()


def request_by_reply_key(session: Session, key: str) -> RequestRow | None:
    """The request whose reply address carries `+key`."""
    return session.exec(select(RequestRow).where(RequestRow.reply_key == key)).first()


def mails_by_message_id(session: Session, ids: Sequence[str]) -> Sequence[OutboxRow]:
    """The mails ibmflow sent with these Message-IDs."""
    if not ids:
        return []
    query = select(OutboxRow).where(col(OutboxRow.message_id).in_(list(ids)))
    return written(session).exec(query).all()


def inbound(
    session: Session, *, process: ProcessRow | None = None, status: str | None = None
) -> Sequence[InboundMessageRow]:
    """The received mails, of one process and in one status when given, oldest first."""
    query = select(InboundMessageRow)
    if process is not None:
        query = query.where(InboundMessageRow.process_id == process.id)
    if status is not None:
        query = query.where(InboundMessageRow.status == status)
    return session.exec(query.order_by(col(InboundMessageRow.id))).all()


def decision_pending(session: Session, process: ProcessRow, subject: str) -> DecisionRow | None:
    """A decision on `subject` still open or already adopted (a revised motion must wait)."""
    return session.exec(
        select(DecisionRow).where(
            DecisionRow.process_id == process.id,
            DecisionRow.subject == subject,
            col(DecisionRow.status).in_([OPEN, ADOPTED]),
        )
    ).first()
