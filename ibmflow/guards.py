"""The registry of exit guards: named checks over a process's facts that explain what is missing.

A guard returns the list of its unmet conditions as sentences a coordinator understands; an empty list
means the guard is met. Definitions name guards and give their arguments; `check_guard_args` validates
those arguments when a definition is loaded.

Each guard declares the fact groups it reads (`reads`, fields of `Facts`, see `facts.FACT_GROUPS`),
counting those read through `Facts` methods: `in_scope`, `permanent_codes` and `short_name` read
`institutions`, `latest_decision` reads `decisions`. Completing a step loads only the groups its guards
declare; a guard that reads an undeclared group raises instead of seeing an empty default.

Long because: every guard is worded here as whole translatable sentences, one per scope and
plural form, beside the check it explains; splitting them from their checks would separate a
sentence from the condition it states.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ibmflow.decisions import ADOPTED, OPEN, REJECTED, tally
from ibmflow.facts import DECISION_SUBJECTS, DOCUMENT_KINDS, FACT_GROUPS, Facts
from ibmflow.i18n import _, ngettext
from ibmflow.requestkinds import LABELS

SCOPES = ("permanent", "involved", "all")

GuardFn = Callable[[Facts, Mapping[str, Any]], list[str]]


@dataclass(frozen=True)
class Param:
    """One argument a guard accepts."""

    name: str
    kind: type
    required: bool = True
    choices: tuple[str, ...] = ()
    default: Any = None


@dataclass(frozen=True)
class Guard:
    """A named guard, its parameters, its check and the fact groups it reads (None: all of them)."""

    name: str
    summary: str
    params: tuple[Param, ...]
    check: GuardFn
    reads: frozenset[str] | None = None
    does: str | None = None


REGISTRY: dict[str, Guard] = {}


def guard(
    name: str,
    summary: str,
    *params: Param,
    reads: Iterable[str] | None = None,
    does: str | None = None,
) -> Callable[[GuardFn], GuardFn]:
    """Register a guard function under `name`; `reads` names the fact groups it looks at; `does`
    names the work a step guarded by it is for ("chapters": the step where chapters are drafted),
    which services find with `Definition.steps_that`."""
    groups = None if reads is None else frozenset(reads)
    if groups is not None and not groups <= FACT_GROUPS:
        raise ValueError(
            f"guard {name!r} reads unknown fact groups {sorted(groups - FACT_GROUPS)}; "
            f"known: {', '.join(sorted(FACT_GROUPS))}"
        )

    def register(fn: GuardFn) -> GuardFn:
        REGISTRY[name] = Guard(
            name=name, summary=summary, params=params, check=fn, reads=groups, does=does
        )
        return fn

    return register


def reads_of(names: Iterable[str]) -> frozenset[str] | None:
    """The fact groups the named guards read together; None (all) if one of them does not say."""
    groups: set[str] = set()
    for name in names:
        reads = REGISTRY[name].reads
        if reads is None:
            return None
        groups |= reads
    return frozenset(groups)


def check_guard_args(name: str, args: Mapping[str, Any]) -> list[str]:
    """Problems with the arguments given to a guard (empty when they fit its parameters)."""
    spec = REGISTRY[name]
    known = {p.name: p for p in spec.params}
    problems = [
        f"unknown argument {key!r}; it takes {', '.join(known) or 'no arguments'}"
        for key in args
        if key not in known
    ]
    for param in spec.params:
        if param.name not in args:
            if param.required:
                problems.append(f"missing argument {param.name!r}")
            continue
        values = args[param.name]
        items = values if param.kind is list and isinstance(values, list) else [values]
        if param.kind is list and (not isinstance(values, list) or not values):
            problems.append(f"argument {param.name!r} must be a non-empty list, found {values!r}")
            continue
        for value in items:
            expected = str if param.kind is list else param.kind
            if not isinstance(value, expected) or isinstance(value, bool) != (expected is bool):
                problems.append(
                    f"argument {param.name!r} must be {expected.__name__}, found {value!r}"
                )
            elif param.choices and value not in param.choices:
                problems.append(
                    f"argument {param.name!r} is {value!r}; expected one of "
                    f"{', '.join(param.choices)}"
                )
    return problems


def arg(args: Mapping[str, Any], spec_name: str, key: str) -> Any:
    """An argument's value, or its declared default."""
    if key in args:
        return args[key]
    for param in REGISTRY[spec_name].params:
        if param.name == key:
            return param.default
    raise KeyError(key)


def _names(facts: Facts, codes: Sequence[str]) -> str:
    return ", ".join(facts.short_name(c) for c in codes)


def _missing_focal_points(scope: str, n: int, total: int, names: str) -> str:
    # One whole sentence per scope: "permanent" and "involved" agree with the noun in French.
    if scope == "permanent":
        return ngettext(
            "%(num)s of %(total)s permanent institutions has no focal point: %(names)s.",
            "%(num)s of %(total)s permanent institutions have no focal point: %(names)s.",
            n,
            total=total,
            names=names,
        )
    if scope == "involved":
        return ngettext(
            "%(num)s of %(total)s involved institutions has no focal point: %(names)s.",
            "%(num)s of %(total)s involved institutions have no focal point: %(names)s.",
            n,
            total=total,
            names=names,
        )
    return ngettext(
        "%(num)s of %(total)s institutions has no focal point: %(names)s.",
        "%(num)s of %(total)s institutions have no focal point: %(names)s.",
        n,
        total=total,
        names=names,
    )


def _not_answered(scope: str, n: int, total: int, request: str, names: str) -> str:
    if scope == "permanent":
        return ngettext(
            "%(num)s of %(total)s permanent institutions has not answered the %(request)s "
            "request: %(names)s.",
            "%(num)s of %(total)s permanent institutions have not answered the %(request)s "
            "request: %(names)s.",
            n,
            total=total,
            request=request,
            names=names,
        )
    if scope == "involved":
        return ngettext(
            "%(num)s of %(total)s involved institutions has not answered the %(request)s "
            "request: %(names)s.",
            "%(num)s of %(total)s involved institutions have not answered the %(request)s "
            "request: %(names)s.",
            n,
            total=total,
            request=request,
            names=names,
        )
    return ngettext(
        "%(num)s of %(total)s institutions has not answered the %(request)s request: %(names)s.",
        "%(num)s of %(total)s institutions have not answered the %(request)s request: %(names)s.",
        n,
        total=total,
        request=request,
        names=names,
    )


@guard(
    "coordinator_appointed",
    "a coordinator is recorded with authority and decision reference",
    reads={"coordinator"},
)
def coordinator_appointed(facts: Facts, args: Mapping[str, Any]) -> list[str]:
    appt = facts.coordinator
    if appt is None:
        return [
            _(
                "No national coordinator is recorded yet: record the appointment with the "
                "appointing authority and the decision reference."
            )
        ]
    if not appt.authority.strip() or not appt.reference.strip():
        return [
            _(
                "The coordinator's appointment lacks the appointing authority or the decision "
                "reference."
            )
        ]
    return []


@guard(
    "focal_points_named",
    "every institution in scope has a focal point",
    Param("scope", str, required=False, choices=SCOPES, default="permanent"),
    reads={"institutions", "focal_points"},
)
def focal_points_named(facts: Facts, args: Mapping[str, Any]) -> list[str]:
    scope = arg(args, "focal_points_named", "scope")
    institutions = facts.in_scope(scope)
    missing = [i.code for i in institutions if not facts.focal_points.get(i.code)]
    if not missing:
        return []
    return [_missing_focal_points(scope, len(missing), len(institutions), _names(facts, missing))]


@guard(
    "focal_points_acknowledged",
    "every focal point has acknowledged the contact request",
    Param("scope", str, required=False, choices=SCOPES, default="permanent"),
    reads={"institutions", "focal_points", "requests"},
)
def focal_points_acknowledged(facts: Facts, args: Mapping[str, Any]) -> list[str]:
    scope = arg(args, "focal_points_acknowledged", "scope")
    codes = {i.code for i in facts.in_scope(scope)}
    people = [(code, p) for code, fps in facts.focal_points.items() if code in codes for p in fps]
    acked = {
        r.focal_point.email
        for r in facts.requests
        if r.kind == "acknowledge_contact" and r.status == "answered" and r.focal_point
    }
    waived = {
        r.focal_point.email
        for r in facts.requests
        if r.kind == "acknowledge_contact" and r.status == "waived" and r.focal_point
    }
    pending = [(code, p) for code, p in people if p.email not in acked | waived]
    if not pending:
        return []
    who = ", ".join(f"{p.name} ({facts.short_name(code)})" for code, p in pending)
    return [
        ngettext(
            "%(num)s of %(total)s focal points has not acknowledged the contact request: "
            "%(names)s.",
            "%(num)s of %(total)s focal points have not acknowledged the contact request: "
            "%(names)s.",
            len(pending),
            total=len(people),
            names=who,
        )
    ]


@guard(
    "iawg_members_named",
    "the IAWG has a member for every permanent institution",
    reads={"institutions", "iawg_members"},
)
def iawg_members_named(facts: Facts, args: Mapping[str, Any]) -> list[str]:
    permanent = facts.permanent_codes()
    missing = [c for c in permanent if c not in facts.iawg_members]
    if not missing:
        return []
    return [
        ngettext(
            "%(num)s of %(total)s permanent institutions has no IAWG member: %(names)s.",
            "%(num)s of %(total)s permanent institutions have no IAWG member: %(names)s.",
            len(missing),
            total=len(permanent),
            names=_names(facts, missing),
        )
    ]


@guard(
    "task_forces_named",
    "the implementing body has at least `minimum` task forces",
    Param("minimum", int, required=False, default=1),
    reads={"task_forces"},
)
def task_forces_named(facts: Facts, args: Mapping[str, Any]) -> list[str]:
    minimum = arg(args, "task_forces_named", "minimum")
    if len(facts.task_forces) >= minimum:
        return []
    return [
        ngettext(
            "The implementing body has %(num)s task force; name at least %(minimum)s.",
            "The implementing body has %(num)s task forces; name at least %(minimum)s.",
            len(facts.task_forces),
            minimum=minimum,
        )
    ]


@guard(
    "document_attached",
    "a document of the given kind is attached",
    Param("kind", str, choices=tuple(DOCUMENT_KINDS)),
    reads={"documents"},
)
def document_attached(facts: Facts, args: Mapping[str, Any]) -> list[str]:
    kind = args["kind"]
    if any(d.kind == kind for d in facts.documents):
        return []
    return [_("No %(kind)s is attached yet.", kind=_(DOCUMENT_KINDS[kind]))]


@guard(
    "decision_adopted",
    "the IAWG adopted a decision on the subject unanimously",
    Param("subject", str, choices=tuple(DECISION_SUBJECTS)),
    reads={"institutions", "decisions"},
)
def decision_adopted(facts: Facts, args: Mapping[str, Any]) -> list[str]:
    subject = args["subject"]
    label = _(DECISION_SUBJECTS[subject])
    decision = facts.latest_decision(subject)
    if decision is None:
        return [
            _(
                "The IAWG has not decided on %(subject)s: open a decision and collect the votes.",
                subject=label,
            )
        ]
    result = tally(decision, facts.permanent_codes())
    if result.outcome == ADOPTED:
        return []
    if result.outcome == REJECTED:
        objections = "; ".join(f"{facts.short_name(c)}: {r}" for c, r in result.objections)
        return [
            _(
                "The IAWG decision #%(id)s on %(subject)s was rejected (%(objections)s); open a "
                "revised motion.",
                id=decision.id,
                subject=label,
                objections=objections,
            )
        ]
    assert result.outcome == OPEN
    total = len(facts.permanent_codes())
    return [
        ngettext(
            "The IAWG decision #%(id)s on %(subject)s awaits %(num)s of %(total)s permanent "
            "institutions: %(names)s.",
            "The IAWG decision #%(id)s on %(subject)s awaits %(num)s of %(total)s permanent "
            "institutions: %(names)s.",
            len(result.missing),
            id=decision.id,
            subject=label,
            total=total,
            names=_names(facts, result.missing),
        )
    ]


@guard(
    "requests_answered",
    "every institution in scope answered its requests of the given kinds",
    Param("kinds", list, choices=tuple(LABELS)),
    Param("scope", str, required=False, choices=SCOPES, default="involved"),
    reads={"institutions", "requests"},
)
def requests_answered(facts: Facts, args: Mapping[str, Any]) -> list[str]:
    scope = arg(args, "requests_answered", "scope")
    institutions = facts.in_scope(scope)
    out = []
    for kind in args["kinds"]:
        done = {
            r.institution
            for r in facts.requests
            if r.kind == kind and r.status in ("answered", "waived")
        }
        missing = [i.code for i in institutions if i.code not in done]
        if missing:
            out.append(
                _not_answered(
                    scope,
                    len(missing),
                    len(institutions),
                    _(LABELS[kind]),
                    _names(facts, missing),
                )
            )
    return out


@guard(
    "chapters_drafted",
    "every chapter has a lead and a submitted draft",
    reads={"chapters"},
    does="chapters",
)
def chapters_drafted(facts: Facts, args: Mapping[str, Any]) -> list[str]:
    if not facts.chapters:
        return [_("No strategy chapters are defined yet: add the chapters and their leads.")]
    out = []
    no_lead = [c.title for c in facts.chapters if not c.lead]
    if no_lead:
        out.append(
            ngettext(
                "%(num)s of %(total)s chapters has no lead: %(names)s.",
                "%(num)s of %(total)s chapters have no lead: %(names)s.",
                len(no_lead),
                total=len(facts.chapters),
                names=", ".join(no_lead),
            )
        )
    no_draft = [c.title for c in facts.chapters if c.draft_document_id is None]
    if no_draft:
        out.append(
            ngettext(
                "%(num)s of %(total)s chapters has no submitted draft: %(names)s.",
                "%(num)s of %(total)s chapters have no submitted draft: %(names)s.",
                len(no_draft),
                total=len(facts.chapters),
                names=", ".join(no_draft),
            )
        )
    return out


@guard(
    "consultation_closed",
    "every institution answered the consultation, or the round was closed",
    # It applies requests_answered to every institution.
    reads={"consultation_closure", "institutions", "requests"},
    does="consultation",
)
def consultation_closed(facts: Facts, args: Mapping[str, Any]) -> list[str]:
    if facts.consultation_closure is not None:
        return []
    unanswered = requests_answered(facts, {"kinds": ["consultation_comments"], "scope": "all"})
    if not unanswered:
        return []
    return [
        *unanswered,
        _(
            "Or, once the consultation deadline has passed, close the round with the list of "
            "non-respondents."
        ),
    ]


@guard(
    "adoption_recorded",
    "the adoption is recorded with authority, reference and date",
    reads={"adoption"},
    does="adoption",
)
def adoption_recorded(facts: Facts, args: Mapping[str, Any]) -> list[str]:
    if facts.adoption is None:
        return [
            _(
                "The adoption of the strategy is not recorded yet: record the adopting "
                "authority, the decision reference and the date."
            )
        ]
    return []


def evaluate(specs: Sequence[tuple[str, Mapping[str, Any]]], facts: Facts) -> list[str]:
    """Every unmet condition of the given guards, in order; empty when all are met."""
    blockers: list[str] = []
    for name, args in specs:
        blockers.extend(REGISTRY[name].check(facts, args))
    return blockers
