"""Casting a ballot on an IAWG decision: what recording a vote's answer does (`services.intake` takes
the answer, whatever its channel): the vote row, `vote.cast` on the audit chain, the vote request
answered, and the decision closed on unanimity or on an objection, with its result mailed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from ibmflow import i18n
from ibmflow.audit import JSONValue
from ibmflow.decisions import ADOPTED, OPEN, REJECTED, Ballot, describe_vote, tally
from ibmflow.facts import Facts
from ibmflow.i18n import _
from ibmflow.services import answering, mailings
from ibmflow.services.common import iso, require_step
from ibmflow.services.context import Context
from ibmflow.services.documents import Upload
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import answers as queries
from ibmflow.storage.tables import DecisionRow, ProcessRow, RequestRow, VoteRow


@dataclass(frozen=True)
class VoteResult:
    """The decision's standing after a vote."""

    decision_id: int
    outcome: str
    line: str
    approve: bool = True


def cast(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    request: RequestRow,
    ballot: Ballot,
    now: datetime,
    *,
    fields: Mapping[str, str | int],
    reason: str | None,
    actor: str,
    via: str,
    uploads: Sequence[Upload] = (),
    detail: dict[str, JSONValue] | None = None,
) -> VoteResult:
    """Cast the ballot the vote request's answer carries (`fields["choice"]`, checked by its kind)
    in the caller's transaction; answer the request; close the decision on unanimity or on an
    objection."""
    require_step(process, doing=_("voting"))
    approve = fields.get("choice") == "approve"
    decision_id = request.decision_id
    row = tx.session.get(DecisionRow, decision_id)
    assert row is not None and decision_id is not None
    person = ballot.voter
    tx.session.add(
        VoteRow(
            decision_id=decision_id,
            institution_id=request.institution_id,
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
    with i18n.using(None):  # the audit log is a record: in English, whoever reads it
        record = describe_vote(facts, decision, ballot.institution)
    tx.acting(actor, now, process.key).record(
        "vote.cast",
        f"decision:{decision_id}",
        on_behalf_of=ballot.represented.email if ballot.represented else None,
        reason=reason,
        after={
            "institution": ballot.institution,
            "voter": person.email,
            "approve": approve,
            "via": via,
            "record": record,
        },
    )
    answering.record(
        ctx,
        tx,
        process,
        request,
        now,
        via=via,
        actor=person.email,
        text=reason,
        fields={"approve": approve},
        uploads=uploads,
        detail=detail,
    )
    result = tally(decision, facts.permanent_codes())
    if result.outcome in (ADOPTED, REJECTED):
        _close(ctx, tx, process, row, result.outcome, result.objections, facts, actor, now)
    return VoteResult(decision_id, result.outcome, line, approve)


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
    row.status, row.closed_at = outcome, now
    tx.session.add(row)
    tx.acting(actor, now, process.key).record(
        f"decision.{outcome}",
        f"decision:{row.id}",
        before={"status": OPEN},
        after={
            "status": outcome,
            "closed_at": iso(now),
            "objections": [list(o) for o in objections],
        },
    )
    for pending in queries.open_vote_requests(tx.session, row.id or 0):
        pending.status, pending.closed_reason = "closed", f"decision {outcome}"
        tx.session.add(pending)
    decision = next(d for d in facts.decisions if d.id == row.id)
    # The mail goes to readers of several languages: each line is worded as each mail is rendered.
    votes = [i18n.Lazy(describe_vote, facts, decision, c) for c in facts.permanent_codes()]
    to = mailings.addresses_for_roles(
        tx, process, ["coordinator", "chair", "iawg_members", "representatives"]
    )
    mailings.announce(
        ctx,
        tx,
        process,
        "decision_result",
        to,
        {
            "decision": {"id": row.id, "title": row.title, "outcome": outcome},
            "votes": votes,
            "objections": [f"{facts.short_name(c)}: {r}" for c, r in objections],
        },
        now,
    )
