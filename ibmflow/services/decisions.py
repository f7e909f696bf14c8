"""Use cases of IAWG decisions: open a motion, record a vote received outside ibmflow (through the one
intake, `services.intake`; casting the ballot: `services.ballots`), list them (nominating a
representative: `services.nominations`, re-exported here)."""

from __future__ import annotations

import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

from ibmflow.decisions import describe_vote, outcome_label, tally
from ibmflow.errors import InvalidCommand, NotFound
from ibmflow.facts import DECISION_SUBJECTS
from ibmflow.i18n import _
from ibmflow.requestkinds import VOTE
from ibmflow.services import intake, requests
from ibmflow.services.ballots import VoteResult
from ibmflow.services.common import due_after, iso, on_process, require_step
from ibmflow.services.context import Context
from ibmflow.services.nominations import nominate as nominate  # re-exported
from ibmflow.services.nominations import vote_addressees
from ibmflow.services.record_views import DecisionView
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import answers as queries
from ibmflow.storage.tables import DecisionRow, DocumentRow, ProcessRow, RequestRow
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
            _(
                "unknown decision subject %(subject)r; one of %(subjects)s.",
                subject=subject,
                subjects=", ".join(DECISION_SUBJECTS),
            )
        )
    title = clean_optional(title, DECISION_TITLE)
    with on_process(ctx, key) as (tx, process, now):
        require_step(process, doing=_("opening an IAWG decision"))
        if document_id is not None:
            repo.owned(tx.session, process, DocumentRow, document_id)
        pending = queries.decision_pending(tx.session, process, subject)
        if pending is not None:
            raise InvalidCommand(
                _(
                    "decision #%(id)s on %(subject)s is already %(status)s; a "
                    "revised motion can follow a rejection.",
                    id=pending.id,
                    subject=_(DECISION_SUBJECTS[subject]),
                    status=outcome_label(pending.status),
                ),
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
        tx.acting(actor, now, key).record(
            "decision.opened",
            f"decision:{row.id}",
            after={
                "subject": subject,
                "title": row.title,
                "step": row.step,
                "document_id": document_id,
            },
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
    """Record a vote received outside ibmflow (the CLI's `vote`; the console's, `via="web"`): the
    answer to the institution's vote request, taken by the one intake. An institution that was
    sent no vote request (it had no member when the decision opened) has one recorded now."""
    with on_process(ctx, key) as (tx, process, now):
        decision = tx.session.get(DecisionRow, decision_id)
        if decision is None or decision.process_id != process.id:
            raise NotFound(
                _(
                    "no decision #%(decision_id)s in %(key)s; `ibmflow decision list %(key)s`.",
                    decision_id=decision_id,
                    key=key,
                )
            )
        inst = repo.institution(tx.session, process, institution)
        request = queries.vote_request(tx.session, decision_id, inst.id or 0)
        if request is None:
            request = RequestRow(
                process_id=process.id or 0,
                step=process.state,
                kind=VOTE.name,
                institution_id=inst.id or 0,
                instructions=decision.title,
                sent_at=now,
                created_by=actor,
                decision_id=decision_id,
            )
            tx.session.add(request)
            tx.session.flush()
        answer = intake.Answer(
            via=via,
            actor=actor,
            answerer=voter,
            fields={VOTE.fields[0].name: "approve" if approve else "object"},
            text=reason,
        )
        received = intake.receive(ctx, tx, process, request, answer, now)
        assert received.vote is not None
        return received.vote


def list_decisions(ctx: Context, key: str) -> list[DecisionView]:
    """Every decision of a process, with its votes and who represented whom."""
    with ctx.db.reading() as session:
        process = repo.get_process(session, key)
        facts = repo.load_facts(session, process, ctx.clock.now())
        return [
            DecisionView(
                id=d.id,
                subject=d.subject,
                title=d.title,
                step=d.step,
                opened_at=iso(d.opened_at),
                outcome=tally(d, facts.permanent_codes()).outcome,
                votes=tuple(describe_vote(facts, d, c) for c in facts.permanent_codes()),
            )
            for d in facts.decisions
        ]
