"""IAWG decisions: unanimity of the permanent institutions, votes by members or their representatives."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from ibmflow.errors import InvalidCommand
from ibmflow.facts import Decision, Facts, Nomination, Person
from ibmflow.i18n import _, pgettext

OPEN, ADOPTED, REJECTED, WITHDRAWN = "open", "adopted", "rejected", "withdrawn"


def outcome_label(outcome: str) -> str:
    """A decision's outcome in the reader's language ("adopted", "adoptée"; in English the code
    itself); an unknown code as it is."""
    labels = {
        OPEN: pgettext("decision outcome", "open"),
        ADOPTED: pgettext("decision outcome", "adopted"),
        REJECTED: pgettext("decision outcome", "rejected"),
        WITHDRAWN: pgettext("decision outcome", "withdrawn"),
    }
    return labels.get(outcome, outcome)


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
            _(
                "%(institution)s is not a permanent member of the IAWG, so it does not vote; only "
                "%(voters)s vote.",
                institution=facts.short_name(institution),
                voters=", ".join(facts.short_name(c) for c in permanent),
            )
        )
    current = tally(decision, permanent)
    if current.outcome != OPEN:
        raise InvalidCommand(
            _(
                "decision #%(id)s is already %(outcome)s; open a revised motion to vote again.",
                id=decision.id,
                outcome=outcome_label(current.outcome),
            )
        )
    if any(v.institution == institution for v in decision.votes):
        raise InvalidCommand(
            _(
                "%(institution)s has already voted on decision #%(id)s; one vote per permanent "
                "institution.",
                institution=facts.short_name(institution),
                id=decision.id,
            )
        )
    member = facts.iawg_members.get(institution)
    if member is None:
        raise InvalidCommand(
            _(
                "%(institution)s has no IAWG member yet; record the member (roster import or "
                "`ibmflow person add --role iawg_member`).",
                institution=facts.short_name(institution),
            )
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
            _(
                "%(email)s is a deputy of %(names)s: deputies answer requests but do not vote. "
                "The vote of %(institution)s is cast by its IAWG member (%(member)s) or the "
                "representative they nominate (`ibmflow nominate`).",
                email=voter.email,
                names=", ".join(deputy_for),
                institution=facts.short_name(institution),
                member=member.name,
            )
        )
    raise InvalidCommand(
        _(
            "%(name)s <%(email)s> is neither the IAWG member for %(institution)s (%(member)s) nor "
            "their representative for decision #%(id)s; the member can nominate them with "
            "`ibmflow nominate`.",
            name=voter.name,
            email=voter.email,
            institution=facts.short_name(institution),
            member=member.name,
            id=decision.id,
        )
    )


def describe_vote(facts: Facts, decision: Decision, institution: str) -> str:
    """The decision record's line for one institution's vote, naming who represented whom, in the
    reader's language (the audit log records it in English: call it outside `i18n.using`)."""
    for vote in decision.votes:
        if vote.institution != institution:
            continue
        verdict = _("approved") if vote.approve else _("objected (%(reason)s)", reason=vote.reason)
        name = facts.short_name(institution)
        if vote.represented is not None:
            return _(
                "%(voter)s voted for institution %(institution)s, representing member "
                "%(member)s: %(verdict)s",
                voter=vote.voter.name,
                institution=name,
                member=vote.represented.name,
                verdict=verdict,
            )
        return _(
            "%(voter)s voted for institution %(institution)s: %(verdict)s",
            voter=vote.voter.name,
            institution=name,
            verdict=verdict,
        )
    return _("%(institution)s: no vote yet", institution=facts.short_name(institution))
