"""Answering a request through its link: what the answer page shows, and handing the answer sent
from it to the one intake (`services.intake`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ibmflow.errors import LinkRefused, NotAnswerer
from ibmflow.i18n import _
from ibmflow.requestkinds import KINDS
from ibmflow.services import intake, mailings
from ibmflow.services.common import definition_for
from ibmflow.services.context import Context
from ibmflow.services.documents import Upload
from ibmflow.services.record_views import status_label
from ibmflow.services.requests import FINISHED, token_hash
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import answers as queries
from ibmflow.storage.tables import (
    DecisionRow,
    InstitutionRow,
    LinkTokenRow,
    PersonRow,
    ProcessRow,
    RequestRow,
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
    due_at: datetime | None = None  # with `zone`, for the page to write in its reader's language
    zone: str = "UTC"

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
        raise LinkRefused(_("This link is not valid."), reason="unknown")
    link = queries.link_by_hash(tx.session, token_hash(token))
    if link is None:
        raise LinkRefused(
            _("This link is not valid. Check that it was copied whole from the mail."),
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
            _(
                "This request has already been answered; thank you. Write to the "
                "coordinator if something must be corrected."
            ),
            reason="used",
        )
    if request.status == "closed":
        raise LinkRefused(
            _(
                "This request is closed (%(why)s); no answer is needed any more.",
                why=request.closed_reason or _("no longer open"),
            ),
            reason="closed",
        )
    if request.status in FINISHED:
        raise LinkRefused(
            _(
                "This request was %(status)s by the coordinator; no answer is needed any more.",
                status=status_label(request.status),
            ),
            reason="closed",
        )
    if now > link.expires_at:
        raise LinkRefused(
            _(
                "This link has expired. Reply to the mail instead, or ask the "
                "coordinator for a new link."
            ),
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
            member = queries.member_of(tx.session, process, request.institution_id)
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
            step_title=str(mailings.step_title(ctx, tx, process, request.step)),
            instructions=definition_for(ctx, tx.session, process).instructions(
                request.step, request.kind, request.instructions
            ),
            due_local=mailings.local_time(process, request.due_at),
            fields=spec.fields,
            text_required=spec.text_required,
            decision_title=decision.title if decision else None,
            representing=representing,
            token_hash=link.token_hash,
            due_at=request.due_at,
            zone=process.timezone,
        )


def answer_by_link(
    ctx: Context,
    token: str,
    *,
    text: str | None,
    fields: Mapping[str, str],
    uploads: Sequence[Upload] = (),
) -> int:
    """Record the answer sent through a link (a ballot's `choice` among its fields, its reason as
    the text) by the one intake, and consume the link; return the request id.

    Raises LinkRefused (nothing recorded) for an unknown, expired, used or closed link, or one
    whose person may no longer answer, and InvalidCommand listing every problem with the answer.
    """
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        link, request, process = _resolve(tx, token, now, lock=True)
        person = tx.session.get(PersonRow, link.person_id) if link.person_id else None
        if person is None:
            raise LinkRefused(_("This link is not valid."), reason="unknown")
        answer = intake.Answer(
            via="link",
            actor=person.email,
            answerer=person.email,
            text=text,
            fields=fields,
            uploads=uploads,
            detail={"link": link.id},
        )
        try:
            return intake.receive(ctx, tx, process, request, answer, now).request_id
        except NotAnswerer as exc:
            raise LinkRefused(
                _("This link no longer lets you answer: %(why)s", why=exc.message),
                reason="closed",
            ) from None
