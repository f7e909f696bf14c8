"""What clears each unmet exit guard: the actions a coordinator (or chair) can take about a blocker.

Pure: a guard's name, its arguments and the facts in, the remedies out. The web console shows each
blocker's sentences with the forms of its remedies; `permission` says who may use them. Labels are
in the reader's language (`remedies` is called per reader, inside `i18n.using`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ibmflow.decisions import OPEN, tally
from ibmflow.facts import Facts
from ibmflow.i18n import _


@dataclass(frozen=True)
class Remedy:
    """One action that helps clear a blocker, and what to fill in beforehand."""

    action: str
    permission: str
    label: str
    params: Mapping[str, Any] = field(default_factory=dict)


def _requests(kinds: list[str], scope: str) -> tuple[Remedy, ...]:
    return (
        *(
            Remedy(
                "request",
                "request",
                _("Send the missing requests"),
                {"kind": kind, "scope": scope},
            )
            for kind in kinds
        ),
        Remedy("waive", "request", _("Waive a pending request, with a reason"), {"kinds": kinds}),
    )


def _decision(subject: str, facts: Facts) -> tuple[Remedy, ...]:
    decision = facts.latest_decision(subject)
    if decision is not None and tally(decision, facts.permanent_codes()).outcome == OPEN:
        missing = tally(decision, facts.permanent_codes()).missing
        return (
            Remedy(
                "vote",
                "vote",
                _("Record a vote cast at a meeting or on paper"),
                {"decision": decision.id, "institutions": list(missing)},
            ),
            Remedy("nominate", "nominate", _("Record a member's representative"), {}),
        )
    label = _("Open a revised motion") if decision is not None else _("Open an IAWG decision")
    return (Remedy("decision", "decide", label, {"subject": subject}),)


def remedies(guard: str, args: Mapping[str, Any], facts: Facts) -> tuple[Remedy, ...]:
    """The actions that help meet `guard` with `args`, given what is recorded."""
    if guard == "coordinator_appointed":
        return (Remedy("appoint", "appoint", _("Record the coordinator's appointment")),)
    if guard == "focal_points_named":
        return (Remedy("person", "roster", _("Add a focal point"), {"role": "focal_point"}),)
    if guard == "focal_points_acknowledged":
        return _requests(["acknowledge_contact"], str(args.get("scope", "permanent")))
    if guard == "iawg_members_named":
        return (Remedy("person", "roster", _("Add an IAWG member"), {"role": "iawg_member"}),)
    if guard == "task_forces_named":
        return (Remedy("task_force", "record", _("Name a task force")),)
    if guard == "document_attached":
        return (Remedy("document", "document", _("Attach the document"), {"kind": args["kind"]}),)
    if guard == "decision_adopted":
        return _decision(str(args["subject"]), facts)
    if guard == "requests_answered":
        return _requests(list(args["kinds"]), str(args.get("scope", "involved")))
    if guard == "chapters_drafted":
        return (
            Remedy("chapter", "record", _("Add a chapter and its lead")),
            Remedy("chapter_lead", "record", _("Give a chapter its lead")),
            Remedy("chapter_draft", "record", _("Submit a chapter's draft")),
        )
    if guard == "consultation_closed":
        return (
            *_requests(["consultation_comments"], "all"),
            Remedy("close_consultation", "record", _("Close the round after its deadline")),
        )
    if guard == "adoption_recorded":
        return (Remedy("adoption", "record", _("Record the adoption")),)
    return ()
