"""Answering a request through its link: what the answer page shows, and recording the answer.

A vote request's answer is a vote (`services.decisions`), so this module sits above both `requests`
and `decisions`; neither imports it, which keeps the two free of a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from ibmflow.errors import InvalidCommand, LinkRefused
from ibmflow.requestkinds import KINDS, check_fields
from ibmflow.services import answerers, mailings
from ibmflow.services.context import Context
from ibmflow.services.decisions import vote_on_request
from ibmflow.services.documents import Upload, upload_problems
from ibmflow.services.requests import FINISHED, record, token_hash
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.tables import (
    DecisionRow,
    InstitutionRow,
    LinkTokenRow,
    PersonRow,
    ProcessRow,
    RequestRow,
    RoleRow,
)


@dataclass(frozen=True)
class LinkView:
    """What an answer link shows: the request, for whom, and the form it needs."""

    request_id: int
    process_key: str
    process_title: str
    institution: str
    person_name: str
    kind: str
    kind_label: str
    step_title: str
    instructions: str
    due_local: str
    fields: tuple[Any, ...]
    text_required: bool
    decision_title: str | None
    representing: str | None
    token_hash: str

    @property
    def is_vote(self) -> bool:
        """Whether the link casts a ballot rather than answers a request."""
        return KINDS[self.kind].is_vote


def _resolve(
    tx: Tx, token: str, now: datetime, *, lock: bool = False
) -> tuple[LinkTokenRow, RequestRow, ProcessRow]:
    """The link, its request and process; with `lock`, the process row is locked first (as every
    command on a process does) and the rows re-read, so two answers at once record one."""
    if not token or len(token) > 200:
        raise LinkRefused("This link is not valid.", reason="unknown")
    link = tx.session.exec(
        select(LinkTokenRow).where(LinkTokenRow.token_hash == token_hash(token))
    ).one_or_none()
    if link is None:
        raise LinkRefused(
            "This link is not valid. Check that it was copied whole from the mail.",
            reason="unknown",
        )
    request = tx.session.get(RequestRow, link.request_id)
    assert request is not None
    process = tx.session.get(ProcessRow, request.process_id)
    assert process is not None
    if lock:
        process = repo.get_process(tx.session, process.key, lock=True)
        tx.session.refresh(link)
        tx.session.refresh(request)
    if request.status == "answered" or link.used_at is not None:
        raise LinkRefused(
            "This request has already been answered; thank you. Write to the "
            "coordinator if something must be corrected.",
            reason="used",
        )
    if request.status == "closed":
        raise LinkRefused(
            f"This request is closed ({request.closed_reason or 'no longer open'}); no answer is "
            "needed any more.",
            reason="closed",
        )
    if request.status in FINISHED:
        raise LinkRefused(
            f"This request was {request.status} by the coordinator; no answer is needed any more.",
            reason="closed",
        )
    if now > link.expires_at:
        raise LinkRefused(
            "This link has expired. Reply to the mail instead, or ask the "
            "coordinator for a new link.",
            reason="expired",
        )
    return link, request, process


def view_link(ctx: Context, token: str) -> LinkView:
    """The request behind a link, for the answer page (looking never consumes the link)."""
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        link, request, process = _resolve(tx, token, now)
        institution = tx.session.get(InstitutionRow, request.institution_id)
        person = tx.session.get(PersonRow, link.person_id) if link.person_id else None
        decision = tx.session.get(DecisionRow, request.decision_id) if request.decision_id else None
        representing = None
        if decision is not None and person is not None:
            member = _member_of(tx, process, request.institution_id)
            if member is not None and member.id != person.id:
                representing = member.name
        assert institution is not None
        spec = KINDS[request.kind]
        return LinkView(
            request_id=request.id or 0,
            process_key=process.key,
            process_title=process.title,
            institution=institution.name,
            person_name=person.name if person else "",
            kind=request.kind,
            kind_label=spec.label,
            step_title=mailings.step_title(ctx, tx, process, request.step),
            instructions=request.instructions,
            due_local=mailings.local_time(process, request.due_at),
            fields=spec.fields,
            text_required=spec.text_required,
            decision_title=decision.title if decision else None,
            representing=representing,
            token_hash=link.token_hash,
        )


def _member_of(tx: Tx, process: ProcessRow, institution_id: int) -> PersonRow | None:
    role = tx.session.exec(
        select(RoleRow).where(
            RoleRow.process_id == process.id,
            RoleRow.role == "iawg_member",
            col(RoleRow.active).is_(True),
            RoleRow.institution_id == institution_id,
        )
    ).first()
    return tx.session.get(PersonRow, role.person_id) if role else None


def answer_by_link(
    ctx: Context,
    token: str,
    *,
    text: str | None,
    fields: dict[str, str],
    uploads: Sequence[Upload] = (),
    approve: bool | None = None,
    reason: str | None = None,
) -> int:
    """Record the answer sent through a link and consume the link; return the request id.

    Raises LinkRefused (nothing recorded) for an unknown, expired, used or closed link, and
    InvalidCommand listing every problem with the answer itself.
    """
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        link, request, process = _resolve(tx, token, now, lock=True)
        person = tx.session.get(PersonRow, link.person_id) if link.person_id else None
        if person is None:
            raise LinkRefused("This link is not valid.", reason="unknown")
        if KINDS[request.kind].is_vote:
            if approve is None:
                raise InvalidCommand("Choose approve or object.")
            vote_on_request(
                ctx,
                tx,
                process,
                request,
                now,
                voter=person.email,
                approve=approve,
                reason=reason,
                actor=person.email,
                via="link",
            )
            return request.id or 0
        try:
            answerers.may_answer(tx, process, request, person.email, now)
        except InvalidCommand as exc:
            raise LinkRefused(
                f"This link no longer lets you answer: {exc.message}", reason="closed"
            ) from None
        clean, problems = check_fields(request.kind, fields)
        if KINDS[request.kind].text_required and not (text and text.strip()):
            problems.append('Your comments: please write them, or write "no comments".')
        problems.extend(upload_problems(ctx, uploads))
        if problems:
            raise InvalidCommand(" ".join(problems))
        record(
            ctx,
            tx,
            process,
            request,
            now,
            via="link",
            actor=person.email,
            text=(text or "").strip() or None,
            fields=dict(clean),
            uploads=uploads,
            detail={"link": link.id},
        )
        return request.id or 0
