"""IAWG decisions: unanimity of the six permanent institutions, and who may cast an institution's vote."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from factories import (
    BORDER_GUARD,
    CHAIR,
    CUSTOMS,
    FOCAL_POINTS,
    HEALTH,
    MEMBERS,
    PERMANENT_CODES,
    TODAY,
    VETERINARY,
    VISA,
    approvals,
    decision,
    full_facts,
    nomination,
    person,
    unanimous,
    vote,
)
from hypothesis import given
from hypothesis import strategies as st

from ibmflow.decisions import (
    ADOPTED,
    OPEN,
    REJECTED,
    WITHDRAWN,
    Ballot,
    ballot_for,
    describe_vote,
    tally,
)
from ibmflow.errors import InvalidCommand
from ibmflow.facts import Decision, Nomination, Person

TOR = "terms_of_reference"
REP = person(300, "Rania Representative", CUSTOMS)
FACTS = full_facts()


def cast(
    d: Decision,
    institution: str,
    voter: Person,
    nominations: tuple[Nomination, ...] = (),
    *,
    day_offset: int = 0,
) -> Ballot:
    """Ask whether `voter` may vote for `institution` on `d`, on TODAY plus `day_offset` days."""
    return ballot_for(FACTS, d, institution, voter, nominations, TODAY + timedelta(days=day_offset))


# --- tally: unanimity ------------------------------------------------------------------------


def test_all_six_approvals_adopt() -> None:
    result = tally(unanimous(1, TOR), PERMANENT_CODES)
    assert result.outcome == ADOPTED
    assert result.approved == PERMANENT_CODES
    assert result.objections == ()
    assert result.missing == ()


def test_one_objection_rejects_at_once_even_with_votes_missing() -> None:
    d = decision(1, TOR, {CHAIR: True, CUSTOMS: "tariff chapter missing"})
    result = tally(d, PERMANENT_CODES)
    assert result.outcome == REJECTED
    assert result.approved == (CHAIR,)
    assert result.objections == ((CUSTOMS, "tariff chapter missing"),)
    assert result.missing == (VISA, BORDER_GUARD, VETERINARY, "MOA_PHYTOSANITARY")


def test_one_objection_among_five_approvals_rejects() -> None:
    d = decision(1, TOR, {**approvals(), VETERINARY: "no lab capacity"})
    assert tally(d, PERMANENT_CODES).outcome == REJECTED


def test_missing_votes_leave_the_decision_open_and_are_listed() -> None:
    d = decision(1, TOR, approvals(CHAIR, VISA, BORDER_GUARD, "MOA_PHYTOSANITARY"))
    result = tally(d, PERMANENT_CODES)
    assert result.outcome == OPEN
    assert result.missing == (CUSTOMS, VETERINARY)


def test_a_decision_without_votes_is_open_and_awaits_everyone() -> None:
    result = tally(decision(1, TOR), PERMANENT_CODES)
    assert result.outcome == OPEN
    assert result.missing == PERMANENT_CODES


def test_a_withdrawn_decision_is_withdrawn_whatever_its_votes() -> None:
    assert (
        tally(decision(1, TOR, approvals(), withdrawn=True), PERMANENT_CODES).outcome == WITHDRAWN
    )
    d = decision(2, TOR, {CUSTOMS: "no"}, withdrawn=True)
    assert tally(d, PERMANENT_CODES).outcome == WITHDRAWN


def test_an_associated_institutions_vote_is_not_counted() -> None:
    d = decision(1, TOR, {**approvals(*PERMANENT_CODES[:5]), HEALTH: "no health chapter"})
    result = tally(d, PERMANENT_CODES)
    assert result.outcome == OPEN
    assert result.objections == ()
    assert result.missing == ("MOA_PHYTOSANITARY",)


@given(st.lists(st.sampled_from(["approve", "object", "absent"]), min_size=6, max_size=6))
def test_unanimity_property(choices: list[str]) -> None:
    """For any votes over the six: adopted iff all approve, rejected iff any objects, else open."""
    votes = tuple(
        vote(code, approve=choice == "approve", reason=None if choice == "approve" else "no")
        for code, choice in zip(PERMANENT_CODES, choices, strict=True)
        if choice != "absent"
    )
    d = dataclasses.replace(decision(1, TOR), votes=votes)
    result = tally(d, PERMANENT_CODES)
    if all(c == "approve" for c in choices):
        assert result.outcome == ADOPTED
    elif "object" in choices:
        assert result.outcome == REJECTED
    else:
        assert result.outcome == OPEN
    # Every permanent institution is in exactly one of approved / objected / missing.
    objected = tuple(code for code, _ in result.objections)
    assert sorted(result.approved + objected + result.missing) == sorted(PERMANENT_CODES)
    assert result.missing == tuple(
        code for code, c in zip(PERMANENT_CODES, choices, strict=True) if c == "absent"
    )


# --- ballot_for: who may vote ----------------------------------------------------------------


def test_the_member_votes_for_their_institution() -> None:
    assert cast(decision(5, TOR), CUSTOMS, MEMBERS[CUSTOMS]) == Ballot(
        institution=CUSTOMS, voter=MEMBERS[CUSTOMS], represented=None
    )


def test_the_associated_ministry_of_health_cannot_vote() -> None:
    with pytest.raises(InvalidCommand) as exc:
        cast(decision(5, TOR), HEALTH, FOCAL_POINTS[HEALTH])
    assert str(exc.value) == (
        "Ministry of Health is not a permanent member of the IAWG, so it does not vote; only Chair, "
        "Visa regimes, Border Guard, Customs Directorate, Veterinary Inspection, Phytosanitary "
        "Inspection vote."
    )


def test_a_representative_nominated_for_this_decision_votes_for_the_members_institution() -> None:
    d = decision(5, TOR, approvals(CHAIR))
    ballot = cast(d, CUSTOMS, REP, (nomination(1, CUSTOMS, REP, decision_id=5),))
    assert ballot == Ballot(institution=CUSTOMS, voter=REP, represented=MEMBERS[CUSTOMS])
    voted = dataclasses.replace(
        d, votes=(*d.votes, vote(CUSTOMS, voter=ballot.voter, represented=ballot.represented))
    )
    assert describe_vote(FACTS, voted, CUSTOMS) == (
        "Rania Representative voted for institution Customs Directorate, representing member "
        "Member Customs Directorate: approved"
    )


def test_describe_vote_of_a_member_an_objection_and_no_vote() -> None:
    d = decision(5, TOR, {CHAIR: True, CUSTOMS: "tariff chapter missing"})
    assert describe_vote(FACTS, d, CHAIR) == "Member Chair voted for institution Chair: approved"
    assert describe_vote(FACTS, d, CUSTOMS) == (
        "Member Customs Directorate voted for institution Customs Directorate: "
        "objected (tariff chapter missing)"
    )
    assert describe_vote(FACTS, d, VISA) == "Visa regimes: no vote yet"


@pytest.mark.parametrize(
    ("valid_from", "valid_until"),
    [(-1, 1), (0, 0), (None, 0), (0, None), (-30, None)],
    ids=["around-today", "today-only", "until-today", "from-today", "open-ended"],
)
def test_a_date_range_nomination_covering_the_day_is_accepted(
    valid_from: int | None, valid_until: int | None
) -> None:
    nom = nomination(
        1,
        CUSTOMS,
        REP,
        valid_from=None if valid_from is None else TODAY + timedelta(days=valid_from),
        valid_until=None if valid_until is None else TODAY + timedelta(days=valid_until),
    )
    ballot = cast(decision(5, TOR), CUSTOMS, REP, (nom,))
    assert ballot.represented == MEMBERS[CUSTOMS]


def _refusal(nominations: tuple[Nomination, ...], *, day_offset: int = 0) -> str:
    with pytest.raises(InvalidCommand) as exc:
        cast(decision(5, TOR), CUSTOMS, REP, nominations, day_offset=day_offset)
    return str(exc.value)


NOT_ALLOWED = (
    "Rania Representative <rania.representative@mof-customs.example> is neither the IAWG member "
    "for Customs Directorate (Member Customs Directorate) nor their representative for decision "
    "#5; the member can nominate them with `ibmflow nominate`."
)


def test_a_voter_without_nomination_is_refused_and_told_how_to_be_nominated() -> None:
    assert _refusal(()) == NOT_ALLOWED


def test_a_nomination_for_another_decision_is_refused() -> None:
    assert _refusal((nomination(1, CUSTOMS, REP, decision_id=4),)) == NOT_ALLOWED


@pytest.mark.parametrize(
    ("valid_from", "valid_until"),
    [(1, 10), (-10, -1)],
    ids=["starts-tomorrow", "ended-yesterday"],
)
def test_a_date_range_not_covering_the_day_is_refused(valid_from: int, valid_until: int) -> None:
    nom = nomination(
        1,
        CUSTOMS,
        REP,
        valid_from=TODAY + timedelta(days=valid_from),
        valid_until=TODAY + timedelta(days=valid_until),
    )
    assert _refusal((nom,)) == NOT_ALLOWED


def test_a_revoked_nomination_is_refused() -> None:
    assert _refusal((nomination(1, CUSTOMS, REP, decision_id=5, revoked=True),)) == NOT_ALLOWED
    assert _refusal((nomination(2, CUSTOMS, REP, revoked=True),)) == NOT_ALLOWED


def test_a_representative_of_another_institution_is_refused() -> None:
    """Nominated by the Veterinary member, the representative cannot vote for Customs."""
    assert _refusal((nomination(1, VETERINARY, REP, decision_id=5),)) == NOT_ALLOWED


def test_a_nomination_by_a_former_member_is_refused() -> None:
    former = person(299, "Former Member", CUSTOMS)
    nom = dataclasses.replace(nomination(1, CUSTOMS, REP, decision_id=5), member=former)
    assert _refusal((nom,)) == NOT_ALLOWED


def test_another_institutions_member_cannot_vote_for_customs() -> None:
    with pytest.raises(InvalidCommand, match="is neither the IAWG member for Customs Directorate"):
        cast(decision(5, TOR), CUSTOMS, MEMBERS[VETERINARY])


def test_a_second_vote_for_the_same_institution_is_refused() -> None:
    d = decision(5, TOR, approvals(CUSTOMS))
    for voter, noms in (
        (MEMBERS[CUSTOMS], ()),
        (REP, (nomination(1, CUSTOMS, REP, decision_id=5),)),
    ):
        with pytest.raises(InvalidCommand) as exc:
            cast(d, CUSTOMS, voter, noms)
        assert str(exc.value) == (
            "Customs Directorate has already voted on decision #5; one vote per permanent "
            "institution."
        )


@pytest.mark.parametrize(
    ("closed", "outcome"),
    [
        (unanimous(5, TOR), "adopted"),
        (decision(5, TOR, {VISA: "no"}), "rejected"),
        (decision(5, TOR, withdrawn=True), "withdrawn"),
    ],
    ids=["adopted", "rejected", "withdrawn"],
)
def test_voting_on_a_closed_decision_is_refused(closed: Decision, outcome: str) -> None:
    with pytest.raises(InvalidCommand) as exc:
        cast(closed, CUSTOMS, MEMBERS[CUSTOMS])
    assert str(exc.value) == (
        f"decision #5 is already {outcome}; open a revised motion to vote again."
    )


def test_an_institution_with_no_iawg_member_is_refused() -> None:
    members = {k: v for k, v in MEMBERS.items() if k != CUSTOMS}
    f = dataclasses.replace(FACTS, iawg_members=members)
    with pytest.raises(InvalidCommand) as exc:
        ballot_for(f, decision(5, TOR), CUSTOMS, REP, (), TODAY)
    assert str(exc.value).startswith(
        "Customs Directorate has no IAWG member yet; record the member"
    )
