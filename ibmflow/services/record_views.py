"""What the requests, the decisions and the received mails of a process read as: frozen dataclasses
the console, the command line and the API share (`to_dict()` is the `--json` form; the API's
schema of a request is `RequestSummary`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ibmflow.i18n import pgettext


def status_label(status: str) -> str:
    """A request's status in the reader's language (in English the code itself: "answered");
    an unknown code as it is."""
    labels = {
        "sent": pgettext("request status", "sent"),
        "answered": pgettext("request status", "answered"),
        "withdrawn": pgettext("request status", "withdrawn"),
        "waived": pgettext("request status", "waived"),
        "closed": pgettext("request status", "closed"),
    }
    return labels.get(status, status)


@dataclass(frozen=True)
class EarlierAnswer:
    """An answer the coordinator reopened, kept as it was (for a vote, the vote it cast)."""

    answered_at: str | None
    answered_via: str | None
    answered_by: str | None
    text: str | None
    fields: dict[str, Any] | None
    vote: dict[str, Any] | None
    reopened_at: str | None
    reopened_by: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RequestSummary:
    """A request to a focal point with its status and answer, as the API lists it."""

    id: int
    step: str
    kind: str
    institution: str
    focal_point: str | None
    status: str
    overdue: bool
    sent_at: str | None
    due_at: str | None
    answered_at: str | None
    answered_via: str | None
    answered_by: str | None
    answer_text: str | None
    answer_fields: dict[str, Any] | None
    decision_id: int | None
    reason: str | None


@dataclass(frozen=True)
class RequestView(RequestSummary):
    """A request with the earlier answers the coordinator reopened, oldest first, as the console
    and `ibmflow request list` show it."""

    earlier_answers: tuple[EarlierAnswer, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "earlier_answers": [e.to_dict() for e in self.earlier_answers]}


@dataclass(frozen=True)
class DecisionView:
    """An IAWG decision with its outcome and one line per permanent institution's vote."""

    id: int
    subject: str
    title: str
    step: str
    opened_at: str | None
    outcome: str
    votes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "votes": list(self.votes)}


@dataclass(frozen=True)
class InboundMail:
    """A received mail: how it was classified, and what became of it."""

    id: int
    received_at: str | None
    via: str
    sender: str | None  # the From header; "from" in `to_dict()`
    envelope_from: str | None
    subject: str | None
    classification: str
    status: str
    reason: str | None
    process: str | None
    request: int | None
    decided_by: str | None
    decided_at: str | None
    raw_sha256: str

    def to_dict(self) -> dict[str, Any]:
        fields = asdict(self)
        return {("from" if name == "sender" else name): value for name, value in fields.items()}
