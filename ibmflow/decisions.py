"""IAWG decisions: unanimity of the permanent institutions, votes by members or their representatives."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from ibmflow.errors import InvalidCommand
from ibmflow.facts import Decision, Facts, Nomination, Person

OPEN, ADOPTED, REJECTED, WITHDRAWN = "open", "adopted", "rejected", "withdrawn"


@dataclass(frozen=True)
class Tally:
    """Where a decision stands: adopted only when every permanent institution approved."""

    outcome: str
    approved: tuple[str, ...]
    objections: tuple[tuple[str, str], ...]
    missing: tuple[str, ...]


def tally(decision: Decision, permanent: Sequence[str]) -> Tally:
    """Count a decision's votes: any objection rejects, unanimity of `permanent` adopts."""
    votes = {v.institution: v for v in decision.votes}
    approved = tuple(code for code in permanent if code in votes and votes[code].approve)
    objections = tuple(
        (code, votes[code].reason or "")
        for code in permanent
        if code in votes and not votes[code].approve
    )
    missing = tuple(code for code in permanent if code not in votes)
    if decision.withdrawn:
        outcome = WITHDRAWN
    elif objections:
        outcome = REJECTED
    elif permanent and not missing:
        outcome = ADOPTED
    else:
        outcome = OPEN
    return Tally(outcome=outcome, approved=approved, objections=objections, missing=missing)


@dataclass(frozen=True)
class Ballot:
    """Who may cast a vote for an institution: the member, or a representative on their behalf."""

    institution: str
    voter: Person
    represented: Person | None


def ballot_for(
    facts: Facts,
    decision: Decision,
    institution: str,
    voter: Person,
    nominations: Iterable[Nomination],
    today: date,
    *,
    deputy_for: Sequence[str] = (),
) -> Ballot:
    """Check that `voter` may vote for `institution` on `decision`: its IAWG member, or the
    representative the member nominated for it. A deputy (`deputy_for`: the names of those they
    deputise for) does not vote as such. Raise InvalidCommand if not."""
    permanent = facts.permanent_codes()
    if institution not in permanent:
        raise InvalidCommand(
            f"{facts.short_name(institution)} is not a permanent member of the IAWG, so it does not "
            f"vote; only {', '.join(facts.short_name(c) for c in permanent)} vote."
        )
    current = tally(decision, permanent)
    if current.outcome != OPEN:
        raise InvalidCommand(
            f"decision #{decision.id} is already {current.outcome}; "
            "open a revised motion to vote again."
        )
    if any(v.institution == institution for v in decision.votes):
        raise InvalidCommand(
            f"{facts.short_name(institution)} has already voted on decision "
            f"#{decision.id}; one vote per permanent institution."
        )
    member = facts.iawg_members.get(institution)
    if member is None:
        raise InvalidCommand(
            f"{facts.short_name(institution)} has no IAWG member yet; record the "
            "member (roster import or `ibmflow person add --role iawg_member`)."
        )
    if voter.email == member.email:
        return Ballot(institution=institution, voter=voter, represented=None)
    for nomination in nominations:
        if (
            nomination.institution == institution
            and nomination.member.email == member.email
            and nomination.representative.email == voter.email
            and nomination.covers(decision.id, today)
        ):
            return Ballot(institution=institution, voter=voter, represented=member)
    if deputy_for:
        raise InvalidCommand(
            f"{voter.email} is a deputy of {', '.join(deputy_for)}: deputies answer requests but "
            f"do not vote. The vote of {facts.short_name(institution)} is cast by its IAWG member "
            f"({member.name}) or the representative they nominate (`ibmflow nominate`)."
        )
    raise InvalidCommand(
        f"{voter.name} <{voter.email}> is neither the IAWG member for "
        f"{facts.short_name(institution)} ({member.name}) nor their representative for decision "
        f"#{decision.id}; the member can nominate them with `ibmflow nominate`."
    )


def describe_vote(facts: Facts, decision: Decision, institution: str) -> str:
    """The decision record's line for one institution's vote, naming who represented whom."""
    for vote in decision.votes:
        if vote.institution != institution:
            continue
        verdict = "approved" if vote.approve else f"objected ({vote.reason})"
        name = facts.short_name(institution)
        if vote.represented is not None:
            return (
                f"{vote.voter.name} voted for institution {name}, representing member "
                f"{vote.represented.name}: {verdict}"
            )
        return f"{vote.voter.name} voted for institution {name}: {verdict}"
    return f"{facts.short_name(institution)}: no vote yet"
