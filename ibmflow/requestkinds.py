"""The kinds of requests to focal points: whom they go to and the structured fields their answer has."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AnswerField:
    """One structured field of an answer: a score from `low` to `high`, or a text."""

    name: str
    label: str
    kind: str = "text"  # "text" or "score"
    low: int = 1
    high: int = 5
    required: bool = True


@dataclass(frozen=True)
class RequestKind:
    """A kind of request: its label, whether it goes to each focal point or each institution."""

    name: str
    label: str
    per: str  # "focal_point" or "institution"
    fields: tuple[AnswerField, ...] = field(default_factory=tuple)
    text_required: bool = False


# The areas of the self-assessment grid (EU IBM guidelines), each scored from 1 (absent) to 5 (fully
# in place); the comments carry the detail.
_GRID = (
    ("legal_framework", "Legal and regulatory framework"),
    ("institutional_framework", "Institutional framework and inter-agency cooperation"),
    ("procedures", "Procedures"),
    ("human_resources", "Human resources and training"),
    ("information_exchange", "Communication and information exchange"),
    ("infrastructure", "Infrastructure and equipment"),
)

KINDS: dict[str, RequestKind] = {
    kind.name: kind
    for kind in (
        RequestKind("acknowledge_contact", "acknowledgement of the contact request", "focal_point"),
        RequestKind(
            "self_assessment",
            "self-assessment",
            "institution",
            tuple(AnswerField(name, label, kind="score") for name, label in _GRID),
        ),
        RequestKind(
            "activity_inventory",
            "inventory of ongoing and planned activities",
            "institution",
            (
                AnswerField("ongoing", "Ongoing border management activities"),
                AnswerField("planned", "Planned border management activities"),
                AnswerField("donors", "Donors and partners involved", required=False),
            ),
        ),
        RequestKind("chapter_draft", "chapter draft", "institution"),
        RequestKind(
            "consultation_comments", "consultation comments", "institution", text_required=True
        ),
        RequestKind("vote", "vote", "institution"),
    )
}


def check_fields(kind: str, raw: Mapping[str, str]) -> tuple[dict[str, str | int], list[str]]:
    """Validate an answer's structured fields: the clean values, and every problem as a sentence."""
    spec = KINDS[kind]
    clean: dict[str, str | int] = {}
    problems: list[str] = []
    for item in spec.fields:
        value = (raw.get(item.name) or "").strip()
        if not value:
            if item.required:
                problems.append(f"{item.label}: please fill this in.")
            continue
        if item.kind == "score":
            if not value.isdigit() or not item.low <= int(value) <= item.high:
                problems.append(f"{item.label}: give a score from {item.low} to {item.high}.")
                continue
            clean[item.name] = int(value)
        else:
            clean[item.name] = value[:20000]
    return clean, problems
