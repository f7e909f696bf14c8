"""The recorded facts of one process, as the guards see them: plain frozen records, no I/O."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from ibmflow.i18n import N_

PERMANENT, ASSOCIATED, OTHER = "permanent", "associated", "other"

# Kinds of documents the guards and commands know about (labels in English, marked with N_:
# translate them where they are shown, `_(DOCUMENT_KINDS[kind])`).
DOCUMENT_KINDS = {
    "appointment_decision": N_("coordinator appointment decision"),
    "terms_of_reference": N_("Terms of Reference"),
    "objectives": N_("objectives document"),
    "consolidated_report": N_("consolidated situation analysis report"),
    "task_force_report": N_("task force report"),
    "chapter_draft": N_("chapter draft"),
    "assembled_draft": N_("assembled draft strategy"),
    "final_document": N_("final strategy document"),
    "adoption_act": N_("adoption act"),
    "other": N_("other document"),
}

# Subjects of IAWG decisions (motions).
DECISION_SUBJECTS = {
    "terms_of_reference": N_("the Terms of Reference"),
    "objectives": N_("the main objectives"),
    "consolidated_report": N_("the consolidated situation analysis report"),
    "submission_for_adoption": N_("submitting the final strategy for adoption"),
    "other": N_("another matter"),
}


# The groups of facts a guard may read, one per field of `Facts` (besides `process_key` and `now`,
# always there). A guard declares the groups it reads (`guards.guard(..., reads=...)`) so that
# completing a step loads only those; see `only` for what happens to the others.
FACT_GROUPS = frozenset(
    {
        "step_entered_at",
        "step_due_at",
        "institutions",
        "coordinator",
        "focal_points",
        "iawg_members",
        "task_forces",
        "documents",
        "decisions",
        "requests",
        "chapters",
        "consultation_closure",
        "adoption",
    }
)


@dataclass(frozen=True)
class Institution:
    """A border agency or ministry taking part in the process."""

    code: str
    name: str
    short_name: str
    category: str
    involved: bool = True
    weekend: tuple[int, ...] = (5, 6)


@dataclass(frozen=True)
class Person:
    """Someone with a role in the process (email is their identity)."""

    id: int
    name: str
    email: str
    institution: str | None = None


@dataclass(frozen=True)
class Appointment:
    """The national coordinator's appointment."""

    person: Person
    authority: str
    reference: str
    appointed_on: date


@dataclass(frozen=True)
class Nomination:
    """A member's representative, for one decision or for a date range."""

    id: int
    member: Person
    representative: Person
    institution: str
    decision_id: int | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    revoked: bool = False

    def covers(self, decision_id: int, day: date) -> bool:
        """Whether this nomination lets the representative vote on that decision on that day."""
        if self.revoked:
            return False
        if self.decision_id is not None:
            return self.decision_id == decision_id
        if self.valid_from is not None and day < self.valid_from:
            return False
        return not (self.valid_until is not None and day > self.valid_until)


@dataclass(frozen=True)
class Vote:
    """One permanent institution's vote on a decision."""

    institution: str
    voter: Person
    approve: bool
    cast_at: datetime
    represented: Person | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Decision:
    """An IAWG decision (motion) on a subject; unanimity of the permanent institutions adopts it."""

    id: int
    subject: str
    title: str
    step: str
    opened_at: datetime
    votes: tuple[Vote, ...] = ()
    withdrawn: bool = False


@dataclass(frozen=True)
class Document:
    """A file attached to a step, stored content-addressed."""

    id: int
    kind: str
    step: str
    filename: str
    sha256: str
    size: int
    uploaded_by: str
    uploaded_at: datetime


@dataclass(frozen=True)
class Request:
    """A request to one institution's focal point; answered, open, withdrawn or waived."""

    id: int
    kind: str
    step: str
    institution: str
    status: str
    focal_point: Person | None = None
    due_at: datetime | None = None
    answered_at: datetime | None = None


@dataclass(frozen=True)
class TaskForce:
    """A task force of the implementing body."""

    id: int
    name: str
    lead: str | None = None


@dataclass(frozen=True)
class Chapter:
    """A strategy chapter with its lead (task force or institution) and its submitted draft."""

    id: int
    title: str
    lead: str | None = None
    draft_document_id: int | None = None
    submitted_at: datetime | None = None


@dataclass(frozen=True)
class ConsultationClosure:
    """The coordinator closed the consultation round after its deadline."""

    closed_at: datetime
    non_respondents: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Adoption:
    """The strategy's adoption at the highest level."""

    authority: str
    reference: str
    adopted_on: date


class _Member(Protocol):
    @property
    def category(self) -> str: ...
    @property
    def involved(self) -> bool: ...


_M = TypeVar("_M", bound=_Member)


def scoped(institutions: Sequence[_M], scope: str) -> tuple[_M, ...]:
    """The institutions in a scope: permanent, involved (the default consultees) or all."""
    if scope == PERMANENT:
        return tuple(i for i in institutions if i.category == PERMANENT)
    if scope == "involved":
        return tuple(i for i in institutions if i.category == PERMANENT or i.involved)
    return tuple(institutions)


@dataclass(frozen=True)
class Facts:
    """Everything recorded about one process that a guard may look at."""

    process_key: str
    now: datetime
    step_entered_at: datetime | None = None
    step_due_at: datetime | None = None
    institutions: tuple[Institution, ...] = ()
    coordinator: Appointment | None = None
    focal_points: dict[str, tuple[Person, ...]] = field(default_factory=dict)
    iawg_members: dict[str, Person] = field(default_factory=dict)
    task_forces: tuple[TaskForce, ...] = ()
    documents: tuple[Document, ...] = ()
    decisions: tuple[Decision, ...] = ()
    requests: tuple[Request, ...] = ()
    chapters: tuple[Chapter, ...] = ()
    consultation_closure: ConsultationClosure | None = None
    adoption: Adoption | None = None

    def in_scope(self, scope: str) -> tuple[Institution, ...]:
        """Institutions by scope: permanent, involved (the default consultees) or all."""
        return scoped(self.institutions, scope)

    def permanent_codes(self) -> tuple[str, ...]:
        """Codes of the permanent-member institutions (the voters)."""
        return tuple(i.code for i in self.in_scope(PERMANENT))

    def short_name(self, code: str) -> str:
        """The name used in sentences for an institution code."""
        for inst in self.institutions:
            if inst.code == code:
                return inst.short_name
        return code

    def latest_decision(self, subject: str) -> Decision | None:
        """The most recent non-withdrawn decision on a subject."""
        candidates = [d for d in self.decisions if d.subject == subject and not d.withdrawn]
        return max(candidates, key=lambda d: (d.opened_at, d.id)) if candidates else None


class UndeclaredFactGroup(RuntimeError):
    """A guard read a fact group that its `reads` does not declare (a bug in ibmflow/guards.py)."""


_PARTIAL: dict[frozenset[str], type[Facts]] = {}


def only(facts: Facts, groups: Collection[str]) -> Facts:
    """`facts` with only the fact groups `groups` readable: reading another one raises
    UndeclaredFactGroup, where an empty default would let a guard pass for want of loaded facts."""
    missing = FACT_GROUPS - frozenset(groups)
    cls = _PARTIAL.get(missing)
    if cls is None:
        cls = _PARTIAL[missing] = _partial_class(missing)
    # Same fields as `facts`; the class's properties hide the missing ones.
    partial: Facts = object.__new__(cls)
    partial.__dict__.update(vars(facts))
    return partial


def _partial_class(missing: frozenset[str]) -> type[Facts]:
    def not_loaded(group: str) -> property:
        def read(self: Facts) -> Any:
            raise UndeclaredFactGroup(
                f"a guard read the fact group {group!r}, which was not loaded: add it to the "
                "guard's `reads` in ibmflow/guards.py"
            )

        return property(read)

    def describe(self: Facts) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k not in missing)
        return f"Facts({shown}; not loaded: {', '.join(sorted(missing))})"

    namespace: dict[str, Any] = {name: not_loaded(name) for name in missing}
    namespace["__repr__"] = describe
    return type("PartialFacts", (Facts,), namespace)
