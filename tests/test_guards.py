"""Exit guards of every step of the IBM strategy workflow, on plain facts: what blocks, in which words."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from factories import (
    BORDER_GUARD,
    CHAIR,
    CUSTOMS,
    FOCAL_POINTS,
    HEALTH,
    INSTITUTIONS,
    MEMBERS,
    NOW,
    PERMANENT_CODES,
    PHYTOSANITARY,
    VETERINARY,
    VISA,
    appointment,
    approvals,
    decision,
    definition,
    document,
    facts,
    full_facts,
    other_institution,
    person,
    request,
    unanimous,
)
from test_definitions import IBM_STEPS

from ibmflow.definitions import GuardSpec
from ibmflow.engine import engine_for
from ibmflow.facts import (
    DOCUMENT_KINDS,
    Chapter,
    ConsultationClosure,
    Facts,
    TaskForce,
)
from ibmflow.guards import REGISTRY, check_guard_args, evaluate
from ibmflow.requestkinds import LABELS as REQUEST_KINDS
from ibmflow.roster import default_roster

DEFINITION = definition()
ENGINE = engine_for(DEFINITION)
STEPS = [s.id for s in DEFINITION.steps]

PERMANENT_NAMES = (
    "Chair, Visa regimes, Border Guard, Customs Directorate, Veterinary Inspection, "
    "Phytosanitary Inspection"
)
INVOLVED_NAMES = f"{PERMANENT_NAMES}, Ministry of Health"
OR_CLOSE = (
    "Or, once the consultation deadline has passed, close the round with the list of "
    "non-respondents."
)


def check(name: str, f: Facts, **args: Any) -> list[str]:
    """The blockers of one guard with the given arguments."""
    return evaluate([(name, args)], f)


def without_documents(kind: str) -> Callable[[Facts], Facts]:
    return lambda f: dataclasses.replace(
        f, documents=tuple(d for d in f.documents if d.kind != kind)
    )


def without_decisions(subject: str) -> Callable[[Facts], Facts]:
    return lambda f: dataclasses.replace(
        f, decisions=tuple(d for d in f.decisions if d.subject != subject)
    )


def without_requests(*kinds: str, codes: tuple[str, ...] | None = None) -> Callable[[Facts], Facts]:
    def drop(f: Facts) -> Facts:
        return dataclasses.replace(
            f,
            requests=tuple(
                r
                for r in f.requests
                if not (r.kind in kinds and (codes is None or r.institution in codes))
            ),
        )

    return drop


def without_focal_points(*codes: str) -> Callable[[Facts], Facts]:
    return lambda f: dataclasses.replace(
        f, focal_points={k: v for k, v in f.focal_points.items() if k not in codes}
    )


def without_member(code: str) -> Callable[[Facts], Facts]:
    return lambda f: dataclasses.replace(
        f, iawg_members={k: v for k, v in f.iawg_members.items() if k != code}
    )


def replacing(**changes: Any) -> Callable[[Facts], Facts]:
    return lambda f: dataclasses.replace(f, **changes)


def _key(spec: GuardSpec) -> tuple[str, tuple[tuple[str, str], ...]]:
    return spec.name, tuple(sorted((k, repr(v)) for k, v in spec.args.items()))


# For each guard of the real definition: how to remove just the fact it needs, and its exact sentences.
REMOVALS: dict[
    tuple[str, tuple[tuple[str, str], ...]], tuple[Callable[[Facts], Facts], list[str]]
] = {
    _key(GuardSpec("coordinator_appointed")): (
        replacing(coordinator=None),
        [
            "No national coordinator is recorded yet: record the appointment with the appointing "
            "authority and the decision reference."
        ],
    ),
    _key(GuardSpec("focal_points_named", {"scope": "permanent"})): (
        without_focal_points(CUSTOMS, VETERINARY),
        [
            "2 of 6 permanent institutions have no focal point: Customs Directorate, "
            "Veterinary Inspection."
        ],
    ),
    _key(GuardSpec("focal_points_acknowledged", {"scope": "permanent"})): (
        without_requests("acknowledge_contact", codes=(CUSTOMS,)),
        [
            "1 of 6 focal points has not acknowledged the contact request: "
            "Focal Customs Directorate (Customs Directorate)."
        ],
    ),
    _key(GuardSpec("iawg_members_named")): (
        without_member(PHYTOSANITARY),
        ["1 of 6 permanent institutions has no IAWG member: Phytosanitary Inspection."],
    ),
    _key(GuardSpec("task_forces_named", {"minimum": 1})): (
        replacing(task_forces=()),
        ["The implementing body has 0 task forces; name at least 1."],
    ),
    **{
        _key(GuardSpec("document_attached", {"kind": kind})): (
            without_documents(kind),
            [f"No {label} is attached yet."],
        )
        for kind, label in {
            "terms_of_reference": "Terms of Reference",
            "objectives": "objectives document",
            "consolidated_report": "consolidated situation analysis report",
            "assembled_draft": "assembled draft strategy",
            "final_document": "final strategy document",
        }.items()
    },
    **{
        _key(GuardSpec("decision_adopted", {"subject": subject})): (
            without_decisions(subject),
            [f"The IAWG has not decided on {label}: open a decision and collect the votes."],
        )
        for subject, label in {
            "terms_of_reference": "the Terms of Reference",
            "objectives": "the main objectives",
            "consolidated_report": "the consolidated situation analysis report",
            "submission_for_adoption": "submitting the final strategy for adoption",
        }.items()
    },
    _key(
        GuardSpec(
            "requests_answered",
            {"kinds": ["self_assessment", "activity_inventory"], "scope": "involved"},
        )
    ): (
        without_requests("self_assessment", "activity_inventory", codes=(HEALTH,)),
        [
            "1 of 7 involved institutions has not answered the self-assessment request: "
            "Ministry of Health.",
            "1 of 7 involved institutions has not answered the inventory of ongoing and planned "
            "activities request: Ministry of Health.",
        ],
    ),
    _key(GuardSpec("chapters_drafted")): (
        replacing(chapters=()),
        ["No strategy chapters are defined yet: add the chapters and their leads."],
    ),
    _key(GuardSpec("consultation_closed")): (
        without_requests("consultation_comments", codes=(VISA, HEALTH)),
        [
            "2 of 7 institutions have not answered the consultation comments request: "
            "Visa regimes, Ministry of Health.",
            OR_CLOSE,
        ],
    ),
    _key(GuardSpec("adoption_recorded")): (
        replacing(adoption=None),
        [
            "The adoption of the strategy is not recorded yet: record the adopting authority, "
            "the decision reference and the date."
        ],
    ),
}

STEP_GUARDS = [
    pytest.param(
        step.id, spec, id=f"{step.id}-{spec.name}-{'-'.join(map(str, spec.args.values()))}"
    )
    for step in DEFINITION.steps
    for spec in step.guards
]


def test_the_workflow_has_the_nine_key_steps_in_order() -> None:
    """The definition declares the deck's nine steps, then the final `adopted` state."""
    assert list(IBM_STEPS) == STEPS
    assert [s.id for s in DEFINITION.states if s.final] == ["adopted"]


def test_factory_institutions_match_the_default_roster() -> None:
    """The factories' institutions are exactly the seeded roster (codes, names, short names)."""
    roster = default_roster()
    assert [(i.code, i.name, i.short_name, i.category, i.involved) for i in INSTITUTIONS] == [
        (i.code, i.name, i.short_name, i.category, i.involved) for i in roster.institutions
    ]


@pytest.mark.parametrize("step", STEPS)
def test_full_facts_meet_every_exit_guard_of_the_step(step: str) -> None:
    """With every fact recorded, no step is blocked."""
    assert DEFINITION.state(step).guards, f"{step} declares no exit guard"
    assert ENGINE.blockers(step, full_facts()) == []


@pytest.mark.parametrize("step", STEPS)
def test_nothing_recorded_blocks_every_step(step: str) -> None:
    """With nothing recorded, every step has at least one blocker."""
    assert ENGINE.blockers(step, facts()) != []


@pytest.mark.parametrize(("step", "spec"), STEP_GUARDS)
def test_removing_the_fact_a_guard_needs_blocks_the_step_with_its_sentences(
    step: str, spec: GuardSpec
) -> None:
    """Each guard, deprived of its fact, blocks its step with exactly its own sentences."""
    remove, expected = REMOVALS[_key(spec)]
    assert ENGINE.blockers(step, remove(full_facts())) == expected


def test_every_guard_of_the_definition_is_covered() -> None:
    """The table of removals covers every guard the definition uses, and every registered guard."""
    used = {_key(spec) for s in DEFINITION.steps for spec in s.guards}
    assert used == set(REMOVALS)
    assert {name for name, _ in used} == set(REGISTRY)


# --- coordinator_appointed -------------------------------------------------------------------


def test_coordinator_missing_blocks() -> None:
    assert check("coordinator_appointed", facts()) == [
        "No national coordinator is recorded yet: record the appointment with the appointing "
        "authority and the decision reference."
    ]


@pytest.mark.parametrize(
    "appt",
    [
        appointment(reference=""),
        appointment(reference="   "),
        appointment(authority=""),
        appointment(authority=" ", reference=" "),
    ],
    ids=["no-reference", "blank-reference", "no-authority", "neither"],
)
def test_appointment_lacking_authority_or_reference_blocks(appt: Any) -> None:
    assert check("coordinator_appointed", facts(coordinator=appt)) == [
        "The coordinator's appointment lacks the appointing authority or the decision reference."
    ]


def test_recorded_appointment_meets_the_guard() -> None:
    assert check("coordinator_appointed", facts(coordinator=appointment())) == []


# --- focal_points_named ----------------------------------------------------------------------


def test_focal_points_missing_are_named_and_counted() -> None:
    """The deck's example: Customs and Veterinary have no focal point."""
    f = without_focal_points(CUSTOMS, VETERINARY)(full_facts())
    assert check("focal_points_named", f, scope="permanent") == [
        "2 of 6 permanent institutions have no focal point: Customs Directorate, "
        "Veterinary Inspection."
    ]


def test_an_empty_list_of_focal_points_counts_as_none() -> None:
    f = full_facts(focal_points={**full_facts().focal_points, CUSTOMS: ()})
    assert check("focal_points_named", f) == [
        "1 of 6 permanent institutions has no focal point: Customs Directorate."
    ]


def test_focal_points_scope_defaults_to_permanent_and_ignores_associated() -> None:
    """Without a scope argument, only the six permanent institutions need a focal point."""
    f = without_focal_points(HEALTH)(full_facts())
    assert check("focal_points_named", f) == []
    assert check("focal_points_named", f, scope="permanent") == []


def test_focal_points_with_wider_scopes_count_associated_and_others() -> None:
    tourism = other_institution("TOURISM", "Tourism")
    f = without_focal_points(HEALTH)(full_facts(institutions=(*INSTITUTIONS, tourism)))
    assert check("focal_points_named", f, scope="involved") == [
        "1 of 7 involved institutions has no focal point: Ministry of Health."
    ]
    assert check("focal_points_named", f, scope="all") == [
        "2 of 8 institutions have no focal point: Ministry of Health, Tourism."
    ]


def test_no_focal_point_at_all_names_every_permanent_institution() -> None:
    assert check("focal_points_named", facts()) == [
        f"6 of 6 permanent institutions have no focal point: {PERMANENT_NAMES}."
    ]


# --- focal_points_acknowledged ---------------------------------------------------------------


def _acks(status_of: Mapping[str, str]) -> Facts:
    """Full facts whose contact requests have the given status per institution (else answered)."""
    reqs = tuple(r for r in full_facts().requests if r.kind != "acknowledge_contact")
    acks = tuple(
        request(
            60 + n, "acknowledge_contact", code, status_of.get(code, "answered"), step="stakeholder"
        )
        for n, code in enumerate(FOCAL_POINTS)
    )
    return full_facts(requests=reqs + acks)


def test_answered_acknowledgements_meet_the_guard() -> None:
    assert check("focal_points_acknowledged", _acks({}), scope="permanent") == []


def test_waived_acknowledgement_counts() -> None:
    f = _acks({CUSTOMS: "waived", CHAIR: "waived"})
    assert check("focal_points_acknowledged", f, scope="permanent") == []


@pytest.mark.parametrize("status", ["sent", "reminded", "overdue", "escalated", "withdrawn"])
def test_pending_acknowledgements_name_the_people(status: str) -> None:
    f = _acks({BORDER_GUARD: status, CUSTOMS: status})
    assert check("focal_points_acknowledged", f, scope="permanent") == [
        "2 of 6 focal points have not acknowledged the contact request: "
        "Focal Border Guard (Border Guard), Focal Customs Directorate (Customs Directorate)."
    ]


def test_a_focal_point_without_any_contact_request_is_pending() -> None:
    f = without_requests("acknowledge_contact", codes=(VISA,))(full_facts())
    assert check("focal_points_acknowledged", f) == [
        "1 of 6 focal points has not acknowledged the contact request: "
        "Focal Visa regimes (Visa regimes)."
    ]


def test_every_focal_point_of_an_institution_must_acknowledge() -> None:
    """A second focal point of Customs who has not acknowledged is named, though Customs' first did."""
    deputy = person(150, "Omar Deputy", CUSTOMS)
    fps = {**full_facts().focal_points, CUSTOMS: (FOCAL_POINTS[CUSTOMS], deputy)}
    f = full_facts(focal_points=fps)
    assert check("focal_points_acknowledged", f) == [
        "1 of 7 focal points has not acknowledged the contact request: "
        "Omar Deputy (Customs Directorate)."
    ]
    answered = request(151, "acknowledge_contact", CUSTOMS, focal_point=deputy)
    assert (
        check(
            "focal_points_acknowledged",
            full_facts(focal_points=fps, requests=(*f.requests, answered)),
        )
        == []
    )


def test_an_answer_of_another_kind_is_not_an_acknowledgement() -> None:
    f = without_requests("acknowledge_contact", codes=(VISA,))(full_facts())
    f = dataclasses.replace(f, requests=(*f.requests, request(70, "self_assessment", VISA)))
    assert len(check("focal_points_acknowledged", f)) == 1


def test_associated_focal_points_need_not_acknowledge_in_permanent_scope() -> None:
    f = _acks({HEALTH: "sent"})
    assert check("focal_points_acknowledged", f, scope="permanent") == []
    assert check("focal_points_acknowledged", f, scope="involved") == [
        "1 of 7 focal points has not acknowledged the contact request: "
        "Focal Ministry of Health (Ministry of Health)."
    ]


# --- iawg_members_named ----------------------------------------------------------------------


def test_iawg_members_missing_are_named() -> None:
    f = without_member(VISA)(without_member(PHYTOSANITARY)(full_facts()))
    assert check("iawg_members_named", f) == [
        "2 of 6 permanent institutions have no IAWG member: Visa regimes, Phytosanitary Inspection."
    ]


def test_iawg_members_for_every_permanent_institution_meet_the_guard() -> None:
    """The associated Ministry of Health has no seat and is not asked for one."""
    assert HEALTH not in MEMBERS
    assert check("iawg_members_named", full_facts()) == []


# --- task_forces_named -----------------------------------------------------------------------


def test_no_task_force_blocks() -> None:
    assert check("task_forces_named", facts(), minimum=1) == [
        "The implementing body has 0 task forces; name at least 1."
    ]


def test_task_forces_below_the_minimum_block() -> None:
    f = full_facts(task_forces=(TaskForce(1, "Legal"), TaskForce(2, "Risk analysis")))
    assert check("task_forces_named", f, minimum=3) == [
        "The implementing body has 2 task forces; name at least 3."
    ]
    assert check("task_forces_named", f, minimum=2) == []


def test_task_forces_minimum_defaults_to_one() -> None:
    assert check("task_forces_named", facts()) == [
        "The implementing body has 0 task forces; name at least 1."
    ]
    assert check("task_forces_named", facts(task_forces=(TaskForce(1, "Legal"),))) == []


# --- document_attached -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(DOCUMENT_KINDS))
def test_document_of_each_kind_is_required_and_sufficient(kind: str) -> None:
    assert check("document_attached", facts(), kind=kind) == [
        f"No {DOCUMENT_KINDS[kind]} is attached yet."
    ]
    assert check("document_attached", facts(documents=(document(1, kind),)), kind=kind) == []


def test_a_document_of_another_kind_does_not_count() -> None:
    f = facts(documents=(document(1, "objectives"), document(2, "other")))
    assert check("document_attached", f, kind="terms_of_reference") == [
        "No Terms of Reference is attached yet."
    ]


# --- decision_adopted ------------------------------------------------------------------------

TOR = "terms_of_reference"


def _decided(*decisions: Any) -> list[str]:
    return check("decision_adopted", full_facts(decisions=tuple(decisions)), subject=TOR)


def test_no_decision_on_the_subject_blocks() -> None:
    assert _decided() == [
        "The IAWG has not decided on the Terms of Reference: open a decision and collect the votes."
    ]


def test_a_decision_on_another_subject_does_not_count() -> None:
    assert _decided(unanimous(1, "objectives")) == [
        "The IAWG has not decided on the Terms of Reference: open a decision and collect the votes."
    ]


def test_open_decision_names_the_institutions_that_have_not_voted() -> None:
    votes = approvals(CHAIR, VISA, BORDER_GUARD, PHYTOSANITARY)
    assert _decided(decision(7, TOR, votes)) == [
        "The IAWG decision #7 on the Terms of Reference awaits 2 of 6 permanent institutions: "
        "Customs Directorate, Veterinary Inspection."
    ]


def test_open_decision_without_votes_awaits_all_six() -> None:
    assert _decided(decision(7, TOR)) == [
        f"The IAWG decision #7 on the Terms of Reference awaits 6 of 6 permanent institutions: "
        f"{PERMANENT_NAMES}."
    ]


def test_rejected_decision_names_the_objection_and_its_reason() -> None:
    votes: dict[str, bool | str] = {**approvals(CHAIR, VISA), CUSTOMS: "tariff chapter missing"}
    assert _decided(decision(7, TOR, votes)) == [
        "The IAWG decision #7 on the Terms of Reference was rejected "
        "(Customs Directorate: tariff chapter missing); open a revised motion."
    ]


def test_rejected_decision_lists_every_objection_in_roster_order() -> None:
    votes: dict[str, bool | str] = {VETERINARY: "no lab capacity", VISA: "visa chapter vague"}
    assert _decided(decision(7, TOR, votes)) == [
        "The IAWG decision #7 on the Terms of Reference was rejected "
        "(Visa regimes: visa chapter vague; Veterinary Inspection: no lab capacity); "
        "open a revised motion."
    ]


def test_unanimous_decision_meets_the_guard() -> None:
    assert _decided(unanimous(7, TOR)) == []


def test_the_associated_ministrys_vote_neither_adopts_nor_rejects() -> None:
    """Only the six permanent institutions vote; a stray Ministry of Health vote is not counted."""
    stray: dict[str, bool | str] = {HEALTH: "no health chapter"}
    missing_one = decision(7, TOR, {**approvals(*PERMANENT_CODES[:-1]), **stray})
    assert _decided(missing_one) == [
        "The IAWG decision #7 on the Terms of Reference awaits 1 of 6 permanent institutions: "
        "Phytosanitary Inspection."
    ]
    assert _decided(decision(8, TOR, {**approvals(), **stray})) == []


def test_withdrawn_decisions_are_ignored() -> None:
    assert _decided(decision(7, TOR, approvals(), withdrawn=True)) == [
        "The IAWG has not decided on the Terms of Reference: open a decision and collect the votes."
    ]
    later_withdrawn = decision(
        8, TOR, {CUSTOMS: "no"}, opened_at=NOW.replace(hour=12), withdrawn=True
    )
    assert _decided(unanimous(7, TOR), later_withdrawn) == []


def test_a_revised_motion_adopted_after_a_rejected_one_meets_the_guard() -> None:
    rejected = decision(7, TOR, {CUSTOMS: "tariff chapter missing"})
    revised = unanimous(8, TOR, opened_at=NOW.replace(hour=15))
    assert _decided(rejected, revised) == []
    assert _decided(revised, rejected) == []  # order of the records does not matter


def test_the_latest_decision_counts_even_when_an_earlier_one_was_adopted() -> None:
    adopted = unanimous(7, TOR)
    pending = decision(8, TOR, approvals(CHAIR), opened_at=NOW.replace(hour=15))
    assert _decided(adopted, pending) == [
        "The IAWG decision #8 on the Terms of Reference awaits 5 of 6 permanent institutions: "
        "Visa regimes, Border Guard, Customs Directorate, Veterinary Inspection, "
        "Phytosanitary Inspection."
    ]


def test_decisions_opened_at_the_same_time_are_ordered_by_id() -> None:
    assert _decided(decision(9, TOR, {CUSTOMS: "no"}), unanimous(8, TOR)) == [
        "The IAWG decision #9 on the Terms of Reference was rejected (Customs Directorate: no); "
        "open a revised motion."
    ]


# --- requests_answered -----------------------------------------------------------------------

SITUATION = {"kinds": ["self_assessment", "activity_inventory"], "scope": "involved"}


def _answers(institutions: tuple[Any, ...], status_of: Mapping[str, str]) -> Facts:
    """Self-assessment and inventory requests for every institution, answered unless told."""
    reqs = tuple(
        request(100 + 10 * n + k, kind, inst.code, status_of.get(inst.code, "answered"))
        for n, inst in enumerate(institutions)
        for k, kind in enumerate(("self_assessment", "activity_inventory"))
    )
    return full_facts(institutions=institutions, requests=reqs)


def test_every_involved_institution_answered_meets_the_guard() -> None:
    assert check("requests_answered", _answers(INSTITUTIONS, {}), **SITUATION) == []


def test_the_associated_ministry_of_health_is_involved() -> None:
    f = without_requests("self_assessment", codes=(HEALTH,))(_answers(INSTITUTIONS, {}))
    assert check("requests_answered", f, **SITUATION) == [
        "1 of 7 involved institutions has not answered the self-assessment request: "
        "Ministry of Health."
    ]


def test_other_institutions_not_involved_are_excluded() -> None:
    tourism = other_institution("TOURISM", "Tourism")
    f = _answers(INSTITUTIONS, {})
    f = dataclasses.replace(f, institutions=(*INSTITUTIONS, tourism))
    assert check("requests_answered", f, **SITUATION) == []


def test_an_other_institution_marked_involved_is_included() -> None:
    justice = other_institution("MOJ", "Justice", involved=True)
    f = dataclasses.replace(_answers(INSTITUTIONS, {}), institutions=(*INSTITUTIONS, justice))
    assert check("requests_answered", f, **SITUATION) == [
        "1 of 8 involved institutions has not answered the self-assessment request: Justice.",
        "1 of 8 involved institutions has not answered the inventory of ongoing and planned "
        "activities request: Justice.",
    ]


def test_waived_requests_count_as_answered() -> None:
    f = _answers(INSTITUTIONS, {CUSTOMS: "waived", HEALTH: "waived"})
    assert check("requests_answered", f, **SITUATION) == []


@pytest.mark.parametrize("status", ["sent", "reminded", "overdue", "escalated", "withdrawn"])
def test_unanswered_requests_name_the_institutions_per_kind(status: str) -> None:
    f = _answers(INSTITUTIONS, {VISA: status, HEALTH: status})
    assert check("requests_answered", f, **SITUATION) == [
        "2 of 7 involved institutions have not answered the self-assessment request: "
        "Visa regimes, Ministry of Health.",
        "2 of 7 involved institutions have not answered the inventory of ongoing and planned "
        "activities request: Visa regimes, Ministry of Health.",
    ]


def test_no_request_at_all_names_every_involved_institution() -> None:
    assert check("requests_answered", facts(), kinds=["self_assessment"], scope="involved") == [
        f"7 of 7 involved institutions have not answered the self-assessment request: "
        f"{INVOLVED_NAMES}."
    ]


def test_an_answer_of_another_kind_does_not_count() -> None:
    f = without_requests("activity_inventory", codes=(CHAIR,))(_answers(INSTITUTIONS, {}))
    f = dataclasses.replace(f, requests=(*f.requests, request(99, "consultation_comments", CHAIR)))
    assert check("requests_answered", f, **SITUATION) == [
        "1 of 7 involved institutions has not answered the inventory of ongoing and planned "
        "activities request: Chair."
    ]


def test_requests_scope_defaults_to_involved() -> None:
    assert check("requests_answered", facts(), kinds=["self_assessment"]) == check(
        "requests_answered", facts(), kinds=["self_assessment"], scope="involved"
    )


# --- chapters_drafted ------------------------------------------------------------------------


def test_no_chapters_block() -> None:
    assert check("chapters_drafted", facts()) == [
        "No strategy chapters are defined yet: add the chapters and their leads."
    ]


def test_chapters_without_lead_are_named() -> None:
    chapters = (
        Chapter(1, "Border control", lead=None, draft_document_id=50, submitted_at=NOW),
        Chapter(2, "Customs", lead="", draft_document_id=50, submitted_at=NOW),
        Chapter(3, "Veterinary", lead=VETERINARY, draft_document_id=50, submitted_at=NOW),
    )
    assert check("chapters_drafted", full_facts(chapters=chapters)) == [
        "2 of 3 chapters have no lead: Border control, Customs."
    ]


def test_chapters_without_draft_are_named() -> None:
    chapters = (
        Chapter(1, "Border control", lead=BORDER_GUARD, draft_document_id=50, submitted_at=NOW),
        Chapter(2, "Customs", lead=CUSTOMS),
    )
    assert check("chapters_drafted", full_facts(chapters=chapters)) == [
        "1 of 2 chapters has no submitted draft: Customs."
    ]


def test_chapters_without_lead_and_draft_give_both_sentences() -> None:
    chapters = (Chapter(1, "Border control"), Chapter(2, "Customs", lead=CUSTOMS))
    assert check("chapters_drafted", full_facts(chapters=chapters)) == [
        "1 of 2 chapters has no lead: Border control.",
        "2 of 2 chapters have no submitted draft: Border control, Customs.",
    ]


# --- consultation_closed ---------------------------------------------------------------------

TOURISM = other_institution("TOURISM", "Tourism")
JUSTICE = other_institution("MOJ", "Justice", involved=True)


def _consulted(unanswered: tuple[str, ...]) -> Facts:
    """Consultation requests to all nine institutions, answered except by `unanswered`."""
    institutions = (*INSTITUTIONS, TOURISM, JUSTICE)
    reqs = tuple(
        request(
            200 + n,
            "consultation_comments",
            inst.code,
            "overdue" if inst.code in unanswered else "answered",
            step="consultation",
        )
        for n, inst in enumerate(institutions)
    )
    return full_facts(institutions=institutions, requests=reqs)


def test_every_institution_answered_the_consultation() -> None:
    assert check("consultation_closed", _consulted(())) == []


def test_consultation_names_non_answering_institutions_of_all_categories() -> None:
    """Permanent, associated and other institutions (even not 'involved') are all consulted."""
    f = _consulted((CUSTOMS, HEALTH, "TOURISM"))
    assert check("consultation_closed", f) == [
        "3 of 9 institutions have not answered the consultation comments request: "
        "Customs Directorate, Ministry of Health, Tourism.",
        OR_CLOSE,
    ]


def test_waived_consultation_requests_count() -> None:
    f = _consulted(())
    f = dataclasses.replace(
        f,
        requests=tuple(
            dataclasses.replace(r, status="waived") if r.institution == "TOURISM" else r
            for r in f.requests
        ),
    )
    assert check("consultation_closed", f) == []


def test_a_recorded_closure_meets_the_guard_despite_non_respondents() -> None:
    closure = ConsultationClosure(
        NOW, non_respondents=(CUSTOMS, "TOURISM"), reason="deadline passed"
    )
    f = dataclasses.replace(_consulted((CUSTOMS, "TOURISM")), consultation_closure=closure)
    assert check("consultation_closed", f) == []
    assert check("consultation_closed", facts(consultation_closure=closure)) == []


# --- adoption_recorded -----------------------------------------------------------------------


def test_adoption_not_recorded_blocks() -> None:
    assert check("adoption_recorded", facts()) == [
        "The adoption of the strategy is not recorded yet: record the adopting authority, "
        "the decision reference and the date."
    ]


def test_recorded_adoption_meets_the_guard() -> None:
    assert check("adoption_recorded", full_facts()) == []


# --- check_guard_args ------------------------------------------------------------------------


def test_the_definitions_guard_arguments_are_valid() -> None:
    for step in DEFINITION.steps:
        for spec in step.guards:
            assert check_guard_args(spec.name, spec.args) == [], (step.id, spec.name)


@pytest.mark.parametrize(
    ("name", "args", "problems"),
    [
        pytest.param(
            "coordinator_appointed",
            {"scope": "permanent"},
            ["unknown argument 'scope'; it takes no arguments"],
            id="unknown-arg-no-params",
        ),
        pytest.param(
            "task_forces_named",
            {"minimun": 2},
            ["unknown argument 'minimun'; it takes minimum"],
            id="unknown-arg",
        ),
        pytest.param(
            "requests_answered",
            {"kinds": ["self_assessment"], "scop": "all"},
            ["unknown argument 'scop'; it takes kinds, scope"],
            id="unknown-arg-lists-params",
        ),
        pytest.param("document_attached", {}, ["missing argument 'kind'"], id="missing"),
        pytest.param(
            "requests_answered", {"scope": "all"}, ["missing argument 'kinds'"], id="missing-list"
        ),
        pytest.param(
            "task_forces_named",
            {"minimum": "2"},
            ["argument 'minimum' must be int, found '2'"],
            id="str-for-int",
        ),
        pytest.param(
            "task_forces_named",
            {"minimum": 1.5},
            ["argument 'minimum' must be int, found 1.5"],
            id="float-for-int",
        ),
        pytest.param(
            "task_forces_named",
            {"minimum": True},
            ["argument 'minimum' must be int, found True"],
            id="bool-for-int",
        ),
        pytest.param(
            "focal_points_named",
            {"scope": 1},
            ["argument 'scope' must be str, found 1"],
            id="int-for-str",
        ),
        pytest.param(
            "focal_points_named",
            {"scope": "everyone"},
            ["argument 'scope' is 'everyone'; expected one of permanent, involved, all"],
            id="not-in-choices",
        ),
        pytest.param(
            "document_attached",
            {"kind": "memo"},
            [f"argument 'kind' is 'memo'; expected one of {', '.join(DOCUMENT_KINDS)}"],
            id="kind-not-in-choices",
        ),
        pytest.param(
            "requests_answered",
            {"kinds": "self_assessment"},
            ["argument 'kinds' must be a non-empty list, found 'self_assessment'"],
            id="not-a-list",
        ),
        pytest.param(
            "requests_answered",
            {"kinds": []},
            ["argument 'kinds' must be a non-empty list, found []"],
            id="empty-list",
        ),
        pytest.param(
            "requests_answered",
            {"kinds": [1, "self_assessment", "gossip", False]},
            [
                "argument 'kinds' must be str, found 1",
                f"argument 'kinds' is 'gossip'; expected one of {', '.join(REQUEST_KINDS)}",
                "argument 'kinds' must be str, found False",
            ],
            id="list-of-wrong-items",
        ),
        pytest.param(
            "document_attached",
            {"kind": "memo", "extra": 1},
            [
                "unknown argument 'extra'; it takes kind",
                f"argument 'kind' is 'memo'; expected one of {', '.join(DOCUMENT_KINDS)}",
            ],
            id="all-problems-at-once",
        ),
    ],
)
def test_wrong_guard_arguments_are_each_reported(
    name: str, args: dict[str, Any], problems: list[str]
) -> None:
    assert check_guard_args(name, args) == problems


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("coordinator_appointed", {}),
        ("focal_points_named", {}),
        ("focal_points_acknowledged", {"scope": "all"}),
        ("task_forces_named", {"minimum": 0}),
        ("document_attached", {"kind": "other"}),
        ("decision_adopted", {"subject": "objectives"}),
        ("requests_answered", {"kinds": ["self_assessment", "vote"], "scope": "permanent"}),
    ],
)
def test_fitting_guard_arguments_raise_no_problem(name: str, args: dict[str, Any]) -> None:
    assert check_guard_args(name, args) == []
