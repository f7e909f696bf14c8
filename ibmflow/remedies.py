"""What clears each unmet exit guard: the actions a coordinator (or chair) can take about a blocker.

Pure: a guard's name, its arguments and the facts in, the remedies out. The web console shows each
blocker's sentences with the forms of its remedies; `permission` says who may use them. Labels are
in the reader's language (`remedies` is called per reader, inside `i18n.using`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ibmflow.decisions import OPEN, tally
from ibmflow.facts import PERMANENT, Facts
from ibmflow.i18n import _, ngettext
from ibmflow.requestkinds import label as kind_label


@dataclass(frozen=True)
class Remedy:
    """One action that helps clear a blocker, and what to fill in beforehand."""

    action: str
    permission: str
    label: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Waiting:
    """An institution a blocker waits for: the request it has not answered (None: none was sent),
    and when that request was due."""

    institution: str  # its code
    kind: str
    request_id: int | None
    due_at: datetime | None


# The guards that wait for answers to requests: the kinds they wait for and the scope of the
# institutions that must answer, from the guard's arguments.
WAITS_FOR: dict[str, Callable[[Mapping[str, Any]], tuple[list[str], str]]] = {
    "focal_points_acknowledged": lambda a: (
        ["acknowledge_contact"],
        str(a.get("scope", PERMANENT)),
    ),
    "requests_answered": lambda a: (list(a["kinds"]), str(a.get("scope", "involved"))),
    "consultation_closed": lambda a: (["consultation_comments"], "all"),
}
_DONE = ("answered", "waived")


def waiting(guard: str, args: Mapping[str, Any], facts: Facts) -> tuple[Waiting, ...]:
    """The institutions a guard waits for (none for a guard that waits for no request)."""
    if guard not in WAITS_FOR:
        return ()
    return _waiting(*WAITS_FOR[guard](args), facts)


def _waiting(kinds: list[str], scope: str, facts: Facts) -> tuple[Waiting, ...]:
    """The institutions in `scope` that have not answered (nor been excused from) a request of
    each kind: each with its open request due first, or none; the longest overdue first, those
    without a request last."""
    out: list[Waiting] = []
    for kind in kinds:
        mine = [r for r in facts.requests if r.kind == kind]
        done = {r.institution for r in mine if r.status in _DONE}
        for institution in facts.in_scope(scope):
            if institution.code in done:
                continue
            pending = sorted(
                (r for r in mine if r.institution == institution.code and r.status == "sent"),
                key=lambda r: (r.due_at is None, r.due_at or facts.now, r.id),
            )
            first = pending[0] if pending else None
            out.append(
                Waiting(
                    institution.code,
                    kind,
                    first.id if first else None,
                    first.due_at if first else None,
                )
            )
    return tuple(
        sorted(out, key=lambda w: (w.request_id is None, w.due_at is None, w.due_at or facts.now))
    )


def _requests(kinds: list[str], scope: str, facts: Facts) -> tuple[Remedy, ...]:
    """Send the kind's request to the institutions without one (only when there are some), remind
    or give more time to those late (a link to the late requests), waive one."""
    found = _waiting(kinds, scope, facts)
    out: list[Remedy] = []
    for kind in kinds:
        unsent = [w.institution for w in found if w.kind == kind and w.request_id is None]
        if unsent:
            out.append(
                Remedy(
                    "request",
                    "request",
                    ngettext(
                        "Send a request (%(kind)s) to the %(num)s institution without one",
                        "Send a request (%(kind)s) to the %(num)s institutions without one",
                        len(unsent),
                        kind=kind_label(kind),
                    ),
                    {"kind": kind, "scope": scope, "institutions": unsent},
                )
            )
    pending = [w for w in found if w.request_id is not None]
    late = [w for w in pending if w.due_at is not None and w.due_at < facts.now]
    if late:
        out.append(
            Remedy(
                "late",
                "request",
                ngettext(
                    "Remind or give more time to the %(num)s late request",
                    "Remind or give more time to the %(num)s late requests",
                    len(late),
                ),
                {"kinds": kinds},
            )
        )
    if pending:
        out.append(
            Remedy(
                "waive", "request", _("Waive a pending request, with a reason"), {"kinds": kinds}
            )
        )
    return tuple(out)


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
        return _requests(["acknowledge_contact"], str(args.get("scope", PERMANENT)), facts)
    if guard == "iawg_members_named":
        return (Remedy("person", "roster", _("Add an IAWG member"), {"role": "iawg_member"}),)
    if guard == "task_forces_named":
        return (Remedy("task_force", "record", _("Name a task force")),)
    if guard == "document_attached":
        return (Remedy("document", "document", _("Attach the document"), {"kind": args["kind"]}),)
    if guard == "decision_adopted":
        return _decision(str(args["subject"]), facts)
    if guard == "requests_answered":
        return _requests(list(args["kinds"]), str(args.get("scope", "involved")), facts)
    if guard == "chapters_drafted":
        return (
            Remedy("chapter", "record", _("Add a chapter and its lead")),
            Remedy("chapter_lead", "record", _("Give a chapter its lead")),
            Remedy("chapter_draft", "record", _("Submit a chapter's draft")),
        )
    if guard == "consultation_closed":
        return (
            *_requests(["consultation_comments"], "all", facts),
            Remedy("close_consultation", "record", _("Close the round after its deadline")),
        )
    if guard == "adoption_recorded":
        return (Remedy("adoption", "record", _("Record the adoption")),)
    return ()
