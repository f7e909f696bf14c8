"""Use cases of IAWG decisions: open a motion, nominate a representative, cast a vote."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from ibmflow.audit import AuditRecord
from ibmflow.decisions import ADOPTED, OPEN, REJECTED, ballot_for, describe_vote, tally
from ibmflow.errors import InvalidCommand, NotFound
from ibmflow.facts import DECISION_SUBJECTS, Person
from ibmflow.services.common import iso, on_process, require_step
from ibmflow.services.context import Context
from ibmflow.storage import repository as repo
from ibmflow.storage.tables import DecisionRow, NominationRow, VoteRow


def open_decision(
    ctx: Context,
    key: str,
    *,
    subject: str,
    actor: str,
    title: str | None = None,
    document_id: int | None = None,
) -> int:
    """Open a motion for the IAWG; a revised motion needs the previous one rejected or withdrawn."""
    if subject not in DECISION_SUBJECTS:
        raise InvalidCommand(
            f"unknown decision subject {subject!r}; one of {', '.join(DECISION_SUBJECTS)}."
        )
    with on_process(ctx, key) as (tx, process, now):
        require_step(process, doing="opening an IAWG decision")
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
        return row.id or 0


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
            "a nomination is for one decision (--decision) or a date range "
            "(--from, optionally --until)."
        )
    if valid_from and valid_until and valid_until < valid_from:
        raise InvalidCommand(f"the range ends ({valid_until}) before it starts ({valid_from}).")
    with on_process(ctx, key) as (tx, process, now):
        member_row = repo.person(tx.session, process, member)
        rep_row = repo.person(tx.session, process, representative)
        if member_row.id == rep_row.id:
            raise InvalidCommand("a member cannot be their own representative.")
        roles = [
            r
            for r in repo.active_roles(tx.session, process, "iawg_member")
            if r.person_id == member_row.id
        ]
        if not roles:
            raise InvalidCommand(
                f"{member_row.name} <{member_row.email}> is not an IAWG member; only "
                "members nominate representatives.",
                process=key,
            )
        if decision_id is not None and tx.session.get(DecisionRow, decision_id) is None:
            raise NotFound(f"no decision #{decision_id} in {key}.")
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
        tx.audit(
            AuditRecord(
                at=now,
                actor=actor,
                action="representative.nominated",
                process=key,
                entity=f"nomination:{row.id}",
                after={
                    "member": member_row.email,
                    "representative": rep_row.email,
                    "decision_id": decision_id,
                    "valid_from": valid_from.isoformat() if valid_from else None,
                    "valid_until": valid_until.isoformat() if valid_until else None,
                },
            )
        )
        return row.id or 0


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
) -> VoteResult:
    """Cast one institution's vote (by its member or their representative); close the decision
    when unanimity is reached or an objection is made."""
    if not approve and not (reason and reason.strip()):
        raise InvalidCommand("an objection needs a reason; give it with --reason.")
    with on_process(ctx, key) as (tx, process, now):
        require_step(process, doing="voting")
        row = tx.session.get(DecisionRow, decision_id)
        if row is None or row.process_id != process.id:
            raise NotFound(f"no decision #{decision_id} in {key}; `ibmflow decision list {key}`.")
        facts = repo.load_facts(tx.session, process, now)
        decision = next(d for d in facts.decisions if d.id == decision_id)
        voter_row = repo.person(tx.session, process, voter)
        person = Person(id=voter_row.id or 0, name=voter_row.name, email=voter_row.email)
        today = now.astimezone(ZoneInfo(process.timezone)).date()
        ballot = ballot_for(
            facts,
            decision,
            institution.upper(),
            person,
            repo.nominations(tx.session, process, facts),
            today,
        )
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
                    "record": line,
                },
            )
        )
        result = tally(decision, facts.permanent_codes())
        if result.outcome in (ADOPTED, REJECTED):
            row.status, row.closed_at = result.outcome, now
            tx.session.add(row)
            tx.audit(
                AuditRecord(
                    at=now,
                    actor=actor,
                    action=f"decision.{result.outcome}",
                    process=key,
                    entity=f"decision:{decision_id}",
                    before={"status": OPEN},
                    after={
                        "status": result.outcome,
                        "closed_at": iso(now),
                        "objections": [list(o) for o in result.objections],
                    },
                )
            )
        return VoteResult(decision_id=decision_id, outcome=result.outcome, line=line)


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
