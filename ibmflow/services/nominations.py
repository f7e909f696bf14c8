"""Representatives: an IAWG member nominates someone to vote for them, for one decision or a date
range; whom an institution's vote request goes to; and the vote request a representative nominated
while a decision is open is sent at once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from ibmflow.decisions import OPEN
from ibmflow.errors import InvalidCommand
from ibmflow.facts import Facts, Nomination
from ibmflow.i18n import _
from ibmflow.requestkinds import VOTE
from ibmflow.services.common import on_process
from ibmflow.services.context import Context
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import chase, nominations
from ibmflow.storage.tables import (
    DecisionRow,
    InstitutionRow,
    NominationRow,
    PersonRow,
    ProcessRow,
)


def vote_addressees(
    tx: Tx,
    facts: Facts,
    nominations: Sequence[Nomination],
    decision_id: int,
    code: str,
    today: date,
) -> tuple[list[PersonRow], dict[int, PersonRow]] | None:
    """Whom an institution's vote request goes to: its IAWG member first, then the representatives
    the member nominated for the decision or for `today` (with whom each represents); None when the
    seat has no member."""
    member = facts.iawg_members.get(code)
    if member is None:
        return None
    member_row = tx.session.get(PersonRow, member.id)
    assert member_row is not None
    people = [member_row]
    representing: dict[int, PersonRow] = {}
    for n in nominations:
        if (
            n.institution == code
            and n.member.email == member.email
            and n.covers(decision_id, today)
        ):
            rep = tx.session.get(PersonRow, n.representative.id)
            if rep is not None and rep.id not in {p.id for p in people}:
                people.append(rep)
                representing[rep.id or 0] = member_row
    return people, representing


def nominate(
    ctx: Context,
    key: str,
    *,
    member: str,
    representative: str,
    actor: str,
    decision_id: int | None = None,
    valid_from: date | None = None,
    valid_until: date | None = None,
) -> int:
    """Record a member's representative, for one decision or for a date range."""
    if decision_id is None and valid_from is None:
        raise InvalidCommand(
            _(
                "a nomination is for one decision (--decision) or a date range (--from, "
                "optionally --until)."
            )
        )
    if valid_from and valid_until and valid_until < valid_from:
        raise InvalidCommand(
            _(
                "the range ends (%(valid_until)s) before it starts (%(valid_from)s).",
                valid_until=valid_until,
                valid_from=valid_from,
            )
        )
    with on_process(ctx, key) as (tx, process, now):
        member_row = repo.person(tx.session, process, member)
        rep_row = repo.person(tx.session, process, representative)
        if member_row.id == rep_row.id:
            raise InvalidCommand(_("a member cannot be their own representative."))
        roles = [
            r
            for r in repo.active_roles(tx.session, process, "iawg_member")
            if r.person_id == member_row.id
        ]
        if not roles:
            raise InvalidCommand(
                _(
                    "%(name)s <%(email)s> is not an IAWG member; only members nominate "
                    "representatives.",
                    name=member_row.name,
                    email=member_row.email,
                ),
                process=key,
            )
        if decision_id is not None:
            repo.owned(tx.session, process, DecisionRow, decision_id)
        row = NominationRow(
            process_id=process.id or 0,
            member_id=member_row.id or 0,
            representative_id=rep_row.id or 0,
            institution_id=roles[0].institution_id or 0,
            decision_id=decision_id,
            valid_from=valid_from,
            valid_until=valid_until,
            created_at=now,
        )
        tx.session.add(row)
        tx.session.flush()
        tx.acting(actor, now, key).record(
            "representative.nominated",
            f"nomination:{row.id}",
            after={
                "member": member_row.email,
                "representative": rep_row.email,
                "decision_id": decision_id,
                "valid_from": valid_from.isoformat() if valid_from else None,
                "valid_until": valid_until.isoformat() if valid_until else None,
            },
        )
        _send_vote_requests(ctx, tx, process, row, member_row, rep_row, now, actor)
        return row.id or 0


def _send_vote_requests(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    nomination: NominationRow,
    member: PersonRow,
    representative: PersonRow,
    now: datetime,
    actor: str,
) -> None:
    """A representative nominated while decisions are open gets, at once, the pending vote request
    of each open decision the nomination covers (a link of their own, audited, through the outbox)."""
    from ibmflow.services import requests

    today = now.astimezone(ZoneInfo(process.timezone)).date()
    if nomination.valid_from is not None and today < nomination.valid_from:
        return
    if nomination.valid_until is not None and today > nomination.valid_until:
        return
    pending = nominations.open_vote_requests(
        tx.session,
        process,
        kind=VOTE.name,
        institution_id=nomination.institution_id,
        decision_status=OPEN,
        decision_id=nomination.decision_id,
    )
    institution = tx.session.get(InstitutionRow, nomination.institution_id)
    assert institution is not None
    for request in pending:
        if chase.has_link(tx.session, request.id, representative.id):
            continue
        requests.mail_request(
            ctx,
            tx,
            process,
            request,
            institution,
            [representative],
            now,
            representing={representative.id or 0: member},
        )
        requests.audit_sent(
            tx,
            process,
            request,
            institution,
            [representative],
            now,
            actor=actor,
            details={
                "decision_id": request.decision_id,
                "representing": member.email,
                "nomination": nomination.id,
            },
        )
