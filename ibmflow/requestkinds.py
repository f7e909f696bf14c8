"""The one registry of request kinds: whom each goes to and who answers it, the structured fields
its answer has, the mail that carries it, whether a step may open it and whether it is a vote.

Every other list of kinds (the labels in `facts`, the kinds a workflow step may open, the kinds the
chaser knows) is derived from `KINDS`; adding a kind is one entry here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ibmflow.i18n import N_, _


@dataclass(frozen=True)
class AnswerField:
    """One structured field of an answer: a score from `low` to `high`, a text, or one of
    `choices` (a ballot's approve or object). `source_label` is the English label (marked with
    N_); `label` is it in the reader's language."""

    name: str
    source_label: str
    kind: str = "text"  # "text", "score" or "choice"
    low: int = 1
    high: int = 5
    required: bool = True
    choices: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The field's label in the reader's language."""
        return _(self.source_label)


# Who answers a request, as said in a refusal ("... is answered by {who}") and in a chaser's mail
# ("chased as {as}"): any focal point of the institution (or their deputy), or the institution's
# IAWG member (or the representative they nominated).
ANSWERERS = {
    "focal_point": (N_("a focal point or a deputy registered for one"), N_("the focal point")),
    "iawg_member": (N_("its IAWG member or the representative they nominated"), N_("the voter")),
}


@dataclass(frozen=True)
class RequestKind:
    """A kind of request: its label; whether it goes to each focal point or each institution; the
    fields its answer carries and when its text is required (`text_required`, or only when a field
    has a value: `text_required_if`), said by `text_missing`; whether an incomplete answer may be
    recorded as it came (`incomplete_ok`: files carry it, or a coordinator vouches for it); who
    answers it (`answered_by`, a key of ANSWERERS); the mail template that sends it; whether a
    workflow step may open it (`openable`); whether its answers are ballots on a decision
    (`is_vote`). The English texts (`source_label`, `source_text_missing`) are marked with N_; the
    properties `label` and `text_missing` give them in the reader's language."""

    name: str
    source_label: str
    per: str  # "focal_point" or "institution"
    fields: tuple[AnswerField, ...] = field(default_factory=tuple)
    text_required: bool = False
    text_required_if: tuple[str, str] | None = None
    source_text_missing: str = N_("Your answer: please write it.")
    incomplete_ok: bool = True
    answered_by: str = "focal_point"
    template: str = "request"
    openable: bool = True
    is_vote: bool = False

    @property
    def label(self) -> str:
        """The kind's label in the reader's language."""
        return _(self.source_label)

    @property
    def text_missing(self) -> str:
        """What to say when the answer's text is missing, in the reader's language."""
        return _(self.source_text_missing)

    @property
    def who_answers(self) -> str:
        """Who may answer, for a refusal: "a focal point or a deputy registered for one"."""
        return _(ANSWERERS[self.answered_by][0])

    @property
    def chased_as(self) -> str:
        """What a reminder calls the person it chases: "the focal point", "the voter"."""
        return _(ANSWERERS[self.answered_by][1])


# The areas of the self-assessment grid (EU IBM guidelines), each scored from 1 (absent) to 5 (fully
# in place); the comments carry the detail.
_GRID = (
    ("legal_framework", N_("Legal and regulatory framework")),
    ("institutional_framework", N_("Institutional framework and inter-agency cooperation")),
    ("procedures", N_("Procedures")),
    ("human_resources", N_("Human resources and training")),
    ("information_exchange", N_("Communication and information exchange")),
    ("infrastructure", N_("Infrastructure and equipment")),
)

KINDS: dict[str, RequestKind] = {
    kind.name: kind
    for kind in (
        RequestKind(
            "acknowledge_contact", N_("acknowledgement of the contact request"), "focal_point"
        ),
        RequestKind(
            "self_assessment",
            N_("self-assessment"),
            "institution",
            tuple(AnswerField(name, label, kind="score") for name, label in _GRID),
        ),
        RequestKind(
            "activity_inventory",
            N_("inventory of ongoing and planned activities"),
            "institution",
            (
                AnswerField("ongoing", N_("Ongoing border management activities")),
                AnswerField("planned", N_("Planned border management activities")),
                AnswerField("donors", N_("Donors and partners involved"), required=False),
            ),
        ),
        RequestKind("chapter_draft", N_("chapter draft"), "institution"),
        RequestKind(
            "consultation_comments",
            N_("consultation comments"),
            "institution",
            text_required=True,
            source_text_missing=N_('Your comments: please write them, or write "no comments".'),
        ),
        # A ballot on an IAWG decision, opened with the decision (never by a step): approve, or
        # object with the reason (the answer's text); a ballot is never recorded incomplete.
        RequestKind(
            "vote",
            N_("vote"),
            "institution",
            (AnswerField("choice", N_("Your vote"), kind="choice", choices=("approve", "object")),),
            text_required_if=("choice", "object"),
            source_text_missing=N_(
                "an objection needs a reason: give the reason for your objection "
                "(on the command line: --reason); it goes to the coordinator and the IAWG."
            ),
            incomplete_ok=False,
            answered_by="iawg_member",
            template="vote",
            openable=False,
            is_vote=True,
        ),
    )
}

# Derived lists: the label of each kind (in English: translate with `label(kind)` or `_()` where it
# is shown); the kinds a workflow step may open (`opens`); the kind that decisions open for each
# institution's ballot.
LABELS: dict[str, str] = {kind.name: kind.source_label for kind in KINDS.values()}
OPENABLE: tuple[str, ...] = tuple(kind.name for kind in KINDS.values() if kind.openable)
VOTE: RequestKind = next(kind for kind in KINDS.values() if kind.is_vote)


def label(kind: str) -> str:
    """The label of a request kind in the reader's language (the kind itself when unknown)."""
    return _(LABELS[kind]) if kind in LABELS else kind


def check_fields(kind: str, raw: Mapping[str, str]) -> tuple[dict[str, str | int], list[str]]:
    """Validate an answer's structured fields: the clean values, and every problem as a sentence."""
    clean, problems = _check_fields(kind, raw)
    return clean, list(problems.values())


def field_problems(kind: str, raw: Mapping[str, str]) -> dict[str, str]:
    """The problem of each field at fault, by field name (a form shows it beside its field: the
    sentence begins with the field's label, punctuated as the reader's language does)."""
    return _check_fields(kind, raw)[1]


def _check_fields(kind: str, raw: Mapping[str, str]) -> tuple[dict[str, str | int], dict[str, str]]:
    spec = KINDS[kind]
    clean: dict[str, str | int] = {}
    problems: dict[str, str] = {}
    for item in spec.fields:
        value = (raw.get(item.name) or "").strip()
        if item.kind == "choice" and value.lower() not in item.choices:
            if value or item.required:
                problems[item.name] = _(
                    "%(field)s: choose %(first)s or %(second)s.",
                    field=item.label,
                    first=item.choices[0],
                    second=item.choices[-1],
                )
            continue
        if not value:
            if item.required:
                problems[item.name] = _("%(field)s: please fill this in.", field=item.label)
            continue
        if item.kind == "choice":
            clean[item.name] = value.lower()
        elif item.kind == "score":
            if not value.isdigit() or not item.low <= int(value) <= item.high:
                problems[item.name] = _(
                    "%(field)s: give a score from %(low)s to %(high)s.",
                    field=item.label,
                    low=item.low,
                    high=item.high,
                )
                continue
            clean[item.name] = int(value)
        else:
            clean[item.name] = value[:20000]
    return clean, problems


def check_answer(
    kind: str, raw: Mapping[str, str], text: str | None
) -> tuple[dict[str, str | int], str | None, list[str]]:
    """Validate a whole answer of `kind` (the one check, whatever the channel): its clean fields,
    its text (stripped, None when empty) and every problem as a sentence."""
    spec = KINDS[kind]
    clean, problems = check_fields(kind, raw)
    body = (text or "").strip() or None
    needs_text = spec.text_required or (
        spec.text_required_if is not None
        and clean.get(spec.text_required_if[0]) == spec.text_required_if[1]
    )
    if needs_text and body is None:
        problems.append(spec.text_missing)
    return clean, body, problems
