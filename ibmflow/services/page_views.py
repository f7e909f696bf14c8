"""What the process page shows, as frozen records: the blockers (with whom they wait for and what
would help), the roster's parts the forms offer, the documents, task forces, chapters, moved
deadlines, and the page itself (`ProcessPage`, read by `services.console.process_page`)."""

from __future__ import annotations

from dataclasses import dataclass

from ibmflow.offers import Offer
from ibmflow.remedies import Remedy
from ibmflow.services.process_page import PageRequest, RequestsPage, WaitingFor
from ibmflow.services.process_views import ProcessStatus
from ibmflow.services.record_views import DecisionView, InboundMail


@dataclass(frozen=True)
class Blocker:
    """A guard of the current step that is not met: why, in words, whom it waits for (each
    institution and how late), and what would help."""

    guard: str
    sentences: tuple[str, ...]
    remedies: tuple[Remedy, ...]
    waiting: tuple[WaitingFor, ...] = ()


@dataclass(frozen=True)
class InstitutionView:
    """An institution of the roster, as the forms offer it."""

    code: str
    name: str
    category: str


@dataclass(frozen=True)
class DocumentView:
    """A document attached to the process."""

    id: int | None
    kind: str
    kind_label: str
    filename: str
    step: str
    size: int
    uploaded_by: str
    uploaded_at: str | None


@dataclass(frozen=True)
class TaskForceView:
    """A task force of the implementing body."""

    name: str
    lead: str | None


@dataclass(frozen=True)
class ChapterView:
    """A chapter of the strategy, its lead and when its draft came."""

    title: str
    lead: str | None
    submitted_at: str | None


@dataclass(frozen=True)
class ExtensionView:
    """A deadline moved: whose, from when to when, by whom and why."""

    subject: str
    old_due_at: str | None
    new_due_at: str | None
    reason: str
    actor: str
    at: str | None


Choice = tuple[str, str]  # a form's option: (value, label)


@dataclass(frozen=True)
class ProcessPage:
    """Everything the process page shows, read once per page."""

    status: ProcessStatus
    blockers: tuple[Blocker, ...]
    offers: tuple[Offer, ...]  # the forms that fit the current step and state
    earlier_steps: tuple[Choice, ...]  # the steps it may return to; the previous one last
    institutions: tuple[InstitutionView, ...]
    institution_options: tuple[Choice, ...]
    names: dict[str, str]
    members: dict[str, str]
    people: tuple[str, ...]
    documents: tuple[DocumentView, ...]
    task_forces: tuple[TaskForceView, ...]
    chapters: tuple[ChapterView, ...]
    chapter_options: tuple[Choice, ...]
    requests: RequestsPage  # one page of them, most urgent first
    open_requests: tuple[PageRequest, ...]  # every open one (the forms that pick one)
    decisions: list[DecisionView]
    quarantine: list[InboundMail]
    extensions: tuple[ExtensionView, ...]
    request_kinds: tuple[Choice, ...]
    kind_filters: tuple[Choice, ...]  # the kinds to filter by (votes are with their decisions)
    status_filters: tuple[Choice, ...]  # the statuses to filter by
    document_kinds: tuple[Choice, ...]
    subjects: tuple[Choice, ...]
    kind_labels: dict[str, str]  # every request kind (votes too) and its label
    step_titles: dict[str, str]  # every step of the workflow and its title
