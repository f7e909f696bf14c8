"""Use cases of IAWG decisions: open a motion, cast a vote (nominating a representative:
`services.nominations`, re-exported here)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from ibmflow.audit import AuditRecord
from ibmflow.decisions import ADOPTED, OPEN, REJECTED, describe_vote, tally
from ibmflow.errors import InvalidCommand, NotFound
from ibmflow.facts import DECISION_SUBJECTS, Facts
from ibmflow.requestkinds import VOTE
from ibmflow.services import answerers, requests
from ibmflow.services.common import due_after, iso, on_process, require_step
from ibmflow.services.context import Context
from ibmflow.services.nominations import nominate as nominate  # re-exported
from ibmflow.services.nominations import vote_addressees
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.tables import (
    DecisionRow,
    DocumentRow,
    InstitutionRow,
    ProcessRow,
    RequestRow,
    VoteRow,
)
from ibmflow.text import DECISION_TITLE, clean_optional


def open_decision(
    ctx: Context,
    key: str,
    *,
    subject: str,
    actor: str,
    title: str | None = None,
    document_id: int | None = None,
    due_days: int = 10,
) -> int:
    """Open a motion for the IAWG and send every permanent institution its vote request; a revised
    motion needs the previous one rejected or withdrawn."""
    if subject not in DECISION_SUBJECTS:
        raise InvalidCommand(
            f"unknown decision subject {subject!r}; one of {', '.join(DECISION_SUBJECTS)}."
        )
    title = clean_optional(title, DECISION_TITLE)
    with on_process(ctx, key) as (tx, process, now):
        require_step(process, doing="opening an IAWG decision")
        if document_id is not None:
            repo.owned(tx.session, process, DocumentRow, document_id)
        pending = tx.session.exec(
            select(DecisionRow).where(
                DecisionRow.process_id == process.id,
                DecisionRow.subject == subject,
                col(DecisionRow.status).in_([OPEN, ADOPTED]),
            )
        ).first()
        if pending is not None:
            raise InvalidCommand(
                f"decision #{pending.id} on {DECISION_SUBJECTS[subject]} is already "
                f"{pending.status}; a revised motion can follow a rejection.",
                process=key,
            )
        row = DecisionRow(
            process_id=process.id or 0,
            step=process.state,
            subject=subject,
            title=title or f"Adopt {DECISION_SUBJECTS[subject]}",
            document_id=document_id,
            opened_by=actor,
            opened_at=now,
        )
        tx.session.add(row)
        tx.session.flush()
        tx.audit(
            AuditRecord(
                at=now,
                actor=actor,
                action="decision.opened",
                process=key,
                entity=f"decision:{row.id}",
                after={
                    "subject": subject,
                    "title": row.title,
                    "step": row.step,
                    "document_id": document_id,
                },
            )
        )
        issue_votes(ctx, tx, process, row, now, actor=actor, due_days=due_days)
        return row.id or 0


def issue_votes(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    decision: DecisionRow,
    now: datetime,
    *,
    actor: str,
    due_days: int,
) -> list[int]:
    """Send the vote request of every permanent institution: to its IAWG member and to whoever
    the member nominated for this decision or for today."""
    facts = repo.load_facts(tx.session, process, now)
    today = now.astimezone(ZoneInfo(process.timezone)).date()
    nominations = repo.nominations(tx.session, process, facts)
    created = []
    for code in facts.permanent_codes():
        found = vote_addressees(tx, facts, nominations, decision.id or 0, code, today)
        if found is None:
            continue  # the guard names the seat without a member
        people, representing = found
        member = people[0]
        institution = repo.institution(tx.session, process, code)
        due = due_after(ctx, process, now, due_days, weekend=institution.weekend)
        request = RequestRow(
            process_id=process.id or 0,
            step=process.state,
            kind=VOTE.name,
            institution_id=institution.id or 0,
            focal_point_id=member.id,
            instructions=decision.title,
            sent_at=now,
            due_at=due,
            reply_key=secrets.token_hex(8),
            created_by=actor,
            decision_id=decision.id,
        )
        requests.send_new(
            ctx,
            tx,
            process,
            request,
            institution,
            people,
            now,
            actor=actor,
            representing=representing,
            details={"decision_id": decision.id},
        )
        created.append(request.id or 0)
    return created


@dataclass(frozen=True)
class VoteResult:
    """The decision's standing after a vote."""

    decision_id: int
    outcome: str
    line: str


def vote(
    ctx: Context,
    key: str,
    decision_id: int,
    *,
    institution: str,
    voter: str,
    approve: bool,
    actor: str,
    reason: str | None = None,
    via: str = "cli",
) -> VoteResult:
    """Record a vote received outside ibmflow (the CLI's `vote`; the console's, `via="web"`)."""
    with on_process(ctx, key) as (tx, process, now):
        return cast_in(
            ctx,
            tx,
            process,
            now,
            decision_id,
            institution=institution,
            voter=voter,
            approve=approve,
            reason=reason,
            actor=actor,
            via=via,
        )


def cast_in(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    now: datetime,
    decision_id: int,
    *,
    institution: str,
    voter: str,
    approve: bool,
    actor: str,
    reason: str | None,
    via: str,
) -> VoteResult:
    """Cast one institution's vote (by its member or their representative) in the caller's
    transaction; answer the vote request; close the decision on unanimity or on an objection."""
    if not approve and not (reason and reason.strip()):
        raise InvalidCommand(
            "an objection needs a reason: say why the institution objects (on the command line: --reason)."
        )
    require_step(process, doing="voting")
    key = process.key
    row = tx.session.get(DecisionRow, decision_id)
    if row is None or row.process_id != process.id:
        raise NotFound(f"no decision #{decision_id} in {key}; `ibmflow decision list {key}`.")
    ballot = answerers.ballot(tx, process, decision_id, institution, voter, now)
    person = ballot.voter
    inst = repo.institution(tx.session, process, ballot.institution)
    tx.session.add(
        VoteRow(
            decision_id=decision_id,
            institution_id=inst.id or 0,
            voter_id=person.id,
            represented_id=ballot.represented.id if ballot.represented else None,
            approve=approve,
            reason=reason,
            cast_at=now,
        )
    )
    tx.session.flush()
    facts = repo.load_facts(tx.session, process, now)
    decision = next(d for d in facts.decisions if d.id == decision_id)
    line = describe_vote(facts, decision, ballot.institution)
    tx.audit(
        AuditRecord(
            at=now,
            actor=actor,
            action="vote.cast",
            process=key,
            entity=f"decision:{decision_id}",
            on_behalf_of=ballot.represented.email if ballot.represented else None,
            reason=reason,
            after={
                "institution": ballot.institution,
                "voter": person.email,
                "approve": approve,
                "via": via,
                "record": line,
            },
        )
    )
    _answer_vote_request(
        ctx, tx, process, row, inst.id or 0, person.email, approve, reason, via, now
    )
    result = tally(decision, facts.permanent_codes())
    if result.outcome in (ADOPTED, REJECTED):
        _close(ctx, tx, process, row, result.outcome, result.objections, facts, actor, now)
    return VoteResult(decision_id=decision_id, outcome=result.outcome, line=line)


def vote_on_request(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    request: RequestRow,
    now: datetime,
    *,
    voter: str,
    approve: bool,
    reason: str | None,
    actor: str,
    via: str,
) -> VoteResult:
    """The vote a vote request's addressee casts by link or by reply, for the request's institution."""
    institution = tx.session.get(InstitutionRow, request.institution_id)
    assert institution is not None and request.decision_id is not None
    return cast_in(
        ctx,
        tx,
        process,
        now,
        request.decision_id,
        institution=institution.code,
        voter=voter,
        approve=approve,
        reason=reason,
        actor=actor,
        via=via,
    )


def _answer_vote_request(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    decision: DecisionRow,
    institution_id: int,
    voter: str,
    approve: bool,
    reason: str | None,
    via: str,
    now: datetime,
) -> None:
    request = tx.session.exec(
        select(RequestRow).where(
            RequestRow.decision_id == decision.id,
            RequestRow.institution_id == institution_id,
            RequestRow.status == "sent",
        )
    ).first()
    if request is not None:
        requests.record(
            ctx,
            tx,
            process,
            request,
            now,
            via=via,
            actor=voter,
            text=reason,
            fields={"approve": approve},
        )


def _close(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    row: DecisionRow,
    outcome: str,
    objections: tuple[tuple[str, str], ...],
    facts: Facts,
    actor: str,
    now: datetime,
) -> None:
    from ibmflow.services import mailings

    row.status, row.closed_at = outcome, now
    tx.session.add(row)
    tx.audit(
        AuditRecord(
            at=now,
            actor=actor,
            action=f"decision.{outcome}",
            process=process.key,
            entity=f"decision:{row.id}",
            before={"status": OPEN},
            after={
                "status": outcome,
                "closed_at": iso(now),
                "objections": [list(o) for o in objections],
            },
        )
    )
    for pending in tx.session.exec(
        select(RequestRow).where(RequestRow.decision_id == row.id, RequestRow.status == "sent")
    ):
        pending.status, pending.closed_reason = "closed", f"decision {outcome}"
        tx.session.add(pending)
    decision = next(d for d in facts.decisions if d.id == row.id)
    to = mailings.addresses_for_roles(
        tx, process, ["coordinator", "chair", "iawg_members", "representatives"]
    )
    if to:
        mailings.send(
            ctx,
            tx,
            process,
            "decision_result",
            to,
            {
                "decision": {"id": row.id, "title": row.title, "outcome": outcome},
                "votes": [describe_vote(facts, decision, c) for c in facts.permanent_codes()],
                "objections": [f"{facts.short_name(c)}: {r}" for c, r in objections],
            },
            now,
        )


def list_decisions(ctx: Context, key: str) -> list[dict[str, object]]:
    """Every decision of a process, with its votes and who represented whom."""
    with ctx.db.reading() as session:
        process = repo.get_process(session, key)
        facts = repo.load_facts(session, process, ctx.clock.now())
        out: list[dict[str, object]] = []
        for d in facts.decisions:
            result = tally(d, facts.permanent_codes())
            out.append(
                {
                    "id": d.id,
                    "subject": d.subject,
                    "title": d.title,
                    "step": d.step,
                    "opened_at": iso(d.opened_at),
                    "outcome": result.outcome,
                    "votes": [describe_vote(facts, d, c) for c in facts.permanent_codes()],
                }
            )
        return out
