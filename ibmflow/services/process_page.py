"""The process page's requests and what its blockers wait for: one page of requests, most urgent
first (overdue by working days late, then open by due date, then the finished ones), filtered by
status, institution and kind in the database; and, for each blocker that waits for answers, the
institutions it waits for and how late each is. Labels are human (in the reader's language)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from ibmflow.decisions import OPEN as OPEN_DECISION
from ibmflow.decisions import tally
from ibmflow.errors import InvalidCommand
from ibmflow.facts import Facts
from ibmflow.i18n import N_, _
from ibmflow.remedies import Waiting, waiting
from ibmflow.requestkinds import KINDS, VOTE, label
from ibmflow.services.common import iso
from ibmflow.services.context import Context
from ibmflow.services.record_views import status_label
from ibmflow.services.requests import earlier_answers
from ibmflow.storage import repository as repo
from ibmflow.storage.queries import answers as answer_queries
from ibmflow.storage.queries import page_requests as queries
from ibmflow.storage.tables import InstitutionRow, ProcessRow, RequestRow

REQUEST_PAGE = 25  # requests to a page of the process page
# The statuses a visitor may filter the requests by, and their labels (translated where shown).
STATUS_FILTERS: dict[str, str] = {
    "open": N_("Open"),
    "overdue": N_("Overdue"),
    "answered": N_("Answered"),
    "waived": N_("Waived"),
    "withdrawn": N_("Withdrawn"),
    "closed": N_("Closed"),
}
# The guards that wait for an IAWG decision's votes.
VOTED = frozenset({"decision_adopted"})
# A ballot's choices as a page says them.
VOTE_WORDS = {"approve": N_("Approved"), "object": N_("Objected"), "abstain": N_("Abstained")}


def kind_title(kind: str) -> str:
    """A request kind as a label starts a line: "Self-assessment"."""
    words = label(kind)
    return words[:1].upper() + words[1:]


@dataclass(frozen=True)
class RequestFilter:
    """Which requests the page lists: by status (a key of STATUS_FILTERS), institution code and
    kind ("" for any)."""

    status: str = ""
    institution: str = ""
    kind: str = ""

    def query(self) -> dict[str, str]:
        """The filter as query parameters (those set only)."""
        return {k: v for k, v in vars(self).items() if v}


def request_filter(status: str, institution: str, kind: str, codes: Sequence[str]) -> RequestFilter:
    """The filter asked for; InvalidCommand says what is wrong with a value nobody offered."""
    status, institution, kind = status.strip(), institution.strip().upper(), kind.strip()
    if status and status not in STATUS_FILTERS:
        raise InvalidCommand(
            _(
                "There is no request status %(value)s to filter by; choose one of: %(choices)s.",
                value=repr(status[:40]),
                choices=", ".join(_(words) for words in STATUS_FILTERS.values()),
            )
        )
    if institution and institution not in codes:
        raise InvalidCommand(
            _(
                "There is no institution %(value)s in this process; choose one from the list.",
                value=repr(institution[:40]),
            )
        )
    if kind and (kind not in KINDS or KINDS[kind].is_vote):
        raise InvalidCommand(
            _(
                "There is no kind of request %(value)s; choose one from the list.",
                value=repr(kind[:40]),
            )
        )
    return RequestFilter(status, institution, kind)


@dataclass(frozen=True)
class PageRequest:
    """A request as the process page lists it: human labels, and how late when overdue."""

    id: int
    kind: str
    kind_label: str
    step: str
    institution: str
    institution_name: str
    focal_point: str | None
    status: str
    status_label: str
    is_open: bool
    overdue: bool
    days_late: int  # working days past its due day (0 when not overdue)
    due_at: str | None
    answered_at: str | None
    answered_via: str | None
    answered_by: str | None
    answer_text: str | None
    answer: tuple[tuple[str, str], ...]  # the answer's fields: (label, value in words)
    reason: str | None
    reopened_reason: str | None


@dataclass(frozen=True)
class RequestsPage:
    """One page of the requests: the open ones (most urgent first), the finished ones, how many
    match the filter in all, and where the page starts."""

    open: tuple[PageRequest, ...]
    finished: tuple[PageRequest, ...]
    total: int
    offset: int
    size: int
    filter: RequestFilter


@dataclass(frozen=True)
class WaitingFor:
    """An institution a blocker waits for: its request (None: none sent yet), when it is due and
    how many working days late it is."""

    institution: str
    kind_label: str
    request_id: int | None
    due_at: str | None
    days_late: int
    code: str = ""  # the institution's code and the request's kind: the filters that show it
    kind: str = ""


def _answer(kind: str, fields: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """An answer's fields in words: each field's label, and its value ("Approved", not "True")."""
    spec = KINDS.get(kind)
    labels = {f.name: f.label for f in spec.fields} if spec else {}
    out = []
    for name, value in (fields or {}).items():
        if name == "documents":
            continue
        words = str(value)
        if isinstance(value, bool):
            words = _("Approved") if value else _("Objected")
        elif isinstance(value, str) and value in VOTE_WORDS:
            words = _(VOTE_WORDS[value])
        named = labels.get(name) or (_("Vote") if name == "approve" else None)
        out.append((named or name.replace("_", " ").capitalize(), words))
    return tuple(out)


def _institutions(session: Session, process: ProcessRow) -> list[InstitutionRow]:
    """A process's institutions, read once per session (the page's parts all need them)."""
    key = ("page.institutions", process.id)
    if key not in session.info:
        session.info[key] = repo.institutions(session, process)
    found: list[InstitutionRow] = session.info[key]
    return found


class _Lateness:
    """Working days late, with each institution's weekend (calendars built once per page)."""

    def __init__(self, ctx: Context, process: ProcessRow, now: datetime) -> None:
        self.ctx, self.process, self.now = ctx, process, now

    def days(self, due_at: datetime | None, weekend: str | None) -> int:
        if due_at is None or self.now <= due_at:
            return 0
        cal = self.ctx.calendar(self.process, weekend)
        return max(cal.between(cal.local_day(due_at), cal.local_day(self.now)), 0)


def read_requests(
    ctx: Context,
    session: Session,
    process: ProcessRow,
    now: datetime,
    flt: RequestFilter,
    offset: int,
    size: int = REQUEST_PAGE,
) -> RequestsPage:
    """One page of a process's requests, filtered, most urgent first (inside `session`)."""
    institutions = {i.id: i for i in _institutions(session, process)}
    by_code = {i.code: i.id for i in institutions.values()}
    total, rows = queries.urgent_requests(
        session,
        process.id or 0,
        now,
        status=flt.status,
        institution_id=by_code.get(flt.institution) if flt.institution else None,
        kind=flt.kind,
        offset=offset,
        limit=size,
    )
    shown = _views(ctx, session, process, now, rows, institutions)
    return RequestsPage(
        open=tuple(r for r in shown if r.is_open),
        finished=tuple(r for r in shown if not r.is_open),
        total=total,
        offset=offset,
        size=size,
        filter=flt,
    )


def open_requests(
    ctx: Context, session: Session, process: ProcessRow, now: datetime
) -> tuple[PageRequest, ...]:
    """Every open request of a process (the forms that pick one offer these)."""
    institutions = {i.id: i for i in _institutions(session, process)}
    rows = queries.open_requests(session, process.id or 0)
    return _views(ctx, session, process, now, rows, institutions)


def _views(
    ctx: Context,
    session: Session,
    process: ProcessRow,
    now: datetime,
    rows: Sequence[RequestRow],
    institutions: Mapping[int | None, InstitutionRow],
) -> tuple[PageRequest, ...]:
    emails = answer_queries.emails_of(session, process) if rows else {}
    earlier = earlier_answers(session, [r.id or 0 for r in rows])
    late = _Lateness(ctx, process, now)
    # Each status's and kind's label once per call, not once per row (a status label looks up
    # all five statuses: 85 requests a page made 425 catalog lookups).
    statuses = {status: status_label(status) for status in {r.status for r in rows}}
    kinds = {kind: kind_title(kind) for kind in {r.kind for r in rows}}
    out = []
    for r in rows:
        institution = institutions.get(r.institution_id)
        is_open = r.status == queries.OPEN
        overdue = bool(is_open and r.due_at is not None and now > r.due_at)
        reopened = earlier.get(r.id or 0, [])
        out.append(
            PageRequest(
                id=r.id or 0,
                kind=r.kind,
                kind_label=kinds[r.kind],
                step=r.step,
                institution=institution.code if institution else "",
                institution_name=institution.short_name if institution else "",
                focal_point=emails.get(r.focal_point_id) if r.focal_point_id else None,
                status=r.status,
                status_label=statuses[r.status],
                is_open=is_open,
                overdue=overdue,
                days_late=late.days(r.due_at, institution.weekend if institution else None)
                if overdue
                else 0,
                due_at=iso(r.due_at),
                answered_at=iso(r.answered_at),
                answered_via=r.answered_via,
                answered_by=r.answered_by,
                answer_text=r.answer_text,
                answer=_answer(r.kind, r.answer_fields),
                reason=r.closed_reason,
                reopened_reason=reopened[-1].reason if reopened else None,
            )
        )
    return tuple(out)


def _ballots(
    session: Session, process: ProcessRow, guard: str, args: Mapping[str, Any], facts: Facts
) -> tuple[Waiting, ...]:
    """The votes an open decision of a `decision_adopted` guard waits for."""
    decision = facts.latest_decision(str(args.get("subject", ""))) if guard in VOTED else None
    if decision is None:
        return ()
    counted = tally(decision, facts.permanent_codes())
    if counted.outcome != OPEN_DECISION:
        return ()
    codes = {i.id: i.code for i in _institutions(session, process)}
    ballots = {codes.get(r.institution_id): r for r in queries.open_votes(session, decision.id)}
    return tuple(
        sorted(
            (
                Waiting(
                    code,
                    VOTE.name,
                    ballots[code].id if code in ballots else None,
                    ballots[code].due_at if code in ballots else None,
                )
                for code in counted.missing
            ),
            key=lambda w: (w.request_id is None, w.due_at is None, w.due_at or facts.now),
        )
    )


def waiting_for(
    ctx: Context,
    session: Session,
    process: ProcessRow,
    facts: Facts,
    guard: str,
    args: Mapping[str, Any],
) -> tuple[WaitingFor, ...]:
    """The institutions a blocker waits for, the latest first, each with how late it is (for a
    decision, the permanent institutions whose vote has not come)."""
    found = waiting(guard, args, facts) or _ballots(session, process, guard, args, facts)
    if not found:
        return ()
    weekends = {i.code: i.weekend for i in _institutions(session, process)}
    late = _Lateness(ctx, process, facts.now)
    return tuple(
        WaitingFor(
            institution=facts.short_name(w.institution),
            kind_label=kind_title(w.kind),
            request_id=w.request_id,
            due_at=iso(w.due_at),
            days_late=late.days(w.due_at, weekends.get(w.institution)),
            code=w.institution,
            kind=w.kind,
        )
        for w in found
    )
