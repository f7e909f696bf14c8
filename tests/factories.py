"""Builders of plain `Facts` for the fast tests of the pure core: the default roster, people, records."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ibmflow.definitions import Definition, load_definition
from ibmflow.facts import (
    ASSOCIATED,
    OTHER,
    PERMANENT,
    Adoption,
    Appointment,
    Chapter,
    Decision,
    Document,
    Facts,
    Institution,
    Nomination,
    Person,
    Request,
    TaskForce,
    Vote,
)

WORKFLOW_FILE = Path(__file__).resolve().parent.parent / "workflows" / "ibm_strategy.toml"

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TODAY: date = NOW.date()
PROCESS_KEY = "ibm-test"

# The institution codes of `ibmflow/defaults/roster.toml`.
CHAIR = "CHAIR"
VISA = "MFA_VISA"
BORDER_GUARD = "MOI_BORDER_GUARD"
CUSTOMS = "MOF_CUSTOMS"
VETERINARY = "MOA_VETERINARY"
PHYTOSANITARY = "MOA_PHYTOSANITARY"
HEALTH = "MOH"

DASH = "\N{EN DASH}"
INSTITUTIONS: tuple[Institution, ...] = (
    Institution(
        CHAIR,
        "Chair of the IAWG (upon agreement between all partners, possibly the Ministry of the "
        "Interior)",
        "Chair",
        PERMANENT,
    ),
    Institution(
        VISA, f"Ministry of Foreign Affairs {DASH} Visa regimes", "Visa regimes", PERMANENT
    ),
    Institution(
        BORDER_GUARD, f"Ministry of the Interior {DASH} Border Guard", "Border Guard", PERMANENT
    ),
    Institution(
        CUSTOMS, f"Ministry of Finance {DASH} Customs Directorate", "Customs Directorate", PERMANENT
    ),
    Institution(
        VETERINARY,
        f"Ministry of Agriculture {DASH} Veterinary Inspection",
        "Veterinary Inspection",
        PERMANENT,
    ),
    Institution(
        PHYTOSANITARY,
        f"Ministry of Agriculture {DASH} Phytosanitary Inspection",
        "Phytosanitary Inspection",
        PERMANENT,
    ),
    Institution(HEALTH, "Ministry of Health", "Ministry of Health", ASSOCIATED),
)
PERMANENT_CODES: tuple[str, ...] = tuple(i.code for i in INSTITUTIONS if i.category == PERMANENT)
SHORT_NAMES: dict[str, str] = {i.code: i.short_name for i in INSTITUTIONS}

# Which step opens a decision on a subject, and which step a document kind belongs to.
SUBJECT_STEP = {
    "terms_of_reference": "coordinating_bodies",
    "objectives": "objectives",
    "consolidated_report": "situation_analysis",
    "submission_for_adoption": "final_preparation",
}
DOCUMENT_STEP = {
    "appointment_decision": "coordinator_appointment",
    "terms_of_reference": "coordinating_bodies",
    "objectives": "objectives",
    "consolidated_report": "situation_analysis",
    "assembled_draft": "chapter_drafting",
    "final_document": "final_preparation",
    "adoption_act": "adoption",
}


def definition() -> Definition:
    """The real workflow definition (loaded from `workflows/ibm_strategy.toml`)."""
    return load_definition(WORKFLOW_FILE)


def other_institution(code: str, short_name: str, *, involved: bool = False) -> Institution:
    """An institution involved upon need (category "other"), not involved unless told."""
    return Institution(code, f"Ministry of {short_name}", short_name, OTHER, involved=involved)


def person(pid: int, name: str, institution: str | None = None) -> Person:
    """A person whose email is derived from their name."""
    local = name.lower().replace(" ", ".")
    domain = (institution or "coordination").lower().replace("_", "-")
    return Person(id=pid, name=name, email=f"{local}@{domain}.example", institution=institution)


COORDINATOR = person(1, "Nadia Coordinator", BORDER_GUARD)
FOCAL_POINTS: dict[str, Person] = {
    code: person(100 + n, f"Focal {SHORT_NAMES[code]}", code)
    for n, code in enumerate(SHORT_NAMES, start=1)
}
MEMBERS: dict[str, Person] = {
    code: person(200 + n, f"Member {SHORT_NAMES[code]}", code)
    for n, code in enumerate(PERMANENT_CODES, start=1)
}


def appointment(
    *, authority: str = "Prime Minister", reference: str = "Decree 12/2026"
) -> Appointment:
    """The coordinator's appointment by an authority with a decision reference."""
    return Appointment(COORDINATOR, authority, reference, appointed_on=TODAY)


def vote(
    institution: str,
    *,
    approve: bool = True,
    reason: str | None = None,
    voter: Person | None = None,
    represented: Person | None = None,
) -> Vote:
    """A vote for an institution, cast by its IAWG member (else its focal point) unless told."""
    return Vote(
        institution=institution,
        voter=voter or MEMBERS.get(institution) or FOCAL_POINTS[institution],
        approve=approve,
        cast_at=NOW,
        represented=represented,
        reason=reason,
    )


def decision(
    did: int,
    subject: str,
    votes: Mapping[str, bool | str] | None = None,
    *,
    opened_at: datetime = NOW,
    withdrawn: bool = False,
) -> Decision:
    """A decision with votes given as {code: True (approve) or "reason" (objection)}."""
    cast = tuple(
        vote(code) if v is True else vote(code, approve=False, reason=str(v))
        for code, v in (votes or {}).items()
    )
    return Decision(
        id=did,
        subject=subject,
        title=f"Motion on {subject}",
        step=SUBJECT_STEP.get(subject, "coordinating_bodies"),
        opened_at=opened_at,
        votes=cast,
        withdrawn=withdrawn,
    )


def approvals(*codes: str) -> dict[str, bool | str]:
    """Approving votes for the given institutions (all six permanent ones when none are given)."""
    return dict.fromkeys(codes or PERMANENT_CODES, True)


def unanimous(did: int, subject: str, *, opened_at: datetime = NOW) -> Decision:
    """A decision every permanent institution approved."""
    return decision(did, subject, approvals(), opened_at=opened_at)


def nomination(
    nid: int,
    institution: str,
    representative: Person,
    *,
    decision_id: int | None = None,
    valid_from: date | None = None,
    valid_until: date | None = None,
    revoked: bool = False,
) -> Nomination:
    """A representative nominated by the institution's IAWG member."""
    return Nomination(
        id=nid,
        member=MEMBERS[institution],
        representative=representative,
        institution=institution,
        decision_id=decision_id,
        valid_from=valid_from,
        valid_until=valid_until,
        revoked=revoked,
    )


def document(did: int, kind: str, step: str | None = None) -> Document:
    """An attached document of a kind."""
    return Document(
        id=did,
        kind=kind,
        step=step or DOCUMENT_STEP.get(kind, "coordinating_bodies"),
        filename=f"{kind}.pdf",
        sha256=f"{did:064x}",
        size=1024,
        uploaded_by=COORDINATOR.email,
        uploaded_at=NOW,
    )


def request(
    rid: int,
    kind: str,
    institution: str,
    status: str = "answered",
    *,
    focal_point: Person | None = None,
    step: str = "situation_analysis",
) -> Request:
    """A request to an institution's focal point (its default focal point unless told)."""
    return Request(
        id=rid,
        kind=kind,
        step=step,
        institution=institution,
        status=status,
        focal_point=focal_point or FOCAL_POINTS.get(institution),
        due_at=NOW + timedelta(days=10),
        answered_at=NOW if status == "answered" else None,
    )


def requests_for(
    kind: str, codes: tuple[str, ...], status: str = "answered", *, first_id: int, step: str
) -> tuple[Request, ...]:
    """One request of a kind per institution, all in the same status."""
    return tuple(
        request(first_id + n, kind, code, status, step=step) for n, code in enumerate(codes)
    )


ALL_CODES: tuple[str, ...] = tuple(SHORT_NAMES)


def facts(**overrides: Any) -> Facts:
    """Facts of a process with the default roster and nothing recorded yet, plus `overrides`."""
    base = Facts(process_key=PROCESS_KEY, now=NOW, step_entered_at=NOW, institutions=INSTITUTIONS)
    return dataclasses.replace(base, **overrides)


def full_facts(**overrides: Any) -> Facts:
    """Facts meeting every exit guard of every step, plus `overrides`."""
    reqs = (
        *requests_for(
            "acknowledge_contact", ALL_CODES, first_id=10, step="stakeholder_identification"
        ),
        *requests_for("self_assessment", ALL_CODES, first_id=20, step="situation_analysis"),
        *requests_for("activity_inventory", ALL_CODES, first_id=30, step="situation_analysis"),
        *requests_for("consultation_comments", ALL_CODES, first_id=40, step="consultation"),
    )
    base = facts(
        coordinator=appointment(),
        focal_points={code: (fp,) for code, fp in FOCAL_POINTS.items()},
        iawg_members=dict(MEMBERS),
        task_forces=(TaskForce(1, "Legal framework", lead=BORDER_GUARD),),
        documents=(
            *(document(n, kind) for n, kind in enumerate(DOCUMENT_STEP, start=1)),
            document(50, "chapter_draft", "chapter_drafting"),
        ),
        decisions=tuple(unanimous(n, subject) for n, subject in enumerate(SUBJECT_STEP, start=1)),
        requests=reqs,
        chapters=(
            Chapter(1, "Border control", lead=BORDER_GUARD, draft_document_id=50, submitted_at=NOW),
            Chapter(2, "Customs", lead="Legal framework", draft_document_id=50, submitted_at=NOW),
        ),
        adoption=Adoption("Council of Ministers", "Decision 7/2026", adopted_on=TODAY),
    )
    return dataclasses.replace(base, **overrides)
