"""Use cases of the web console: the process page's read model (status, blockers with their
remedies, requests, decisions, documents, quarantine), and which objects belong to a process (the
list of processes is `services.process_list`).

Every command of the console goes through the same services as the command line (a file sent from
a form is an `Upload`, as one the command line read); nothing here decides anything the CLI would
decide differently.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ibmflow.engine import SUSPENDED
from ibmflow.errors import NotFound
from ibmflow.facts import DECISION_SUBJECTS, DOCUMENT_KINDS
from ibmflow.guards import REGISTRY
from ibmflow.i18n import _
from ibmflow.offers import offered
from ibmflow.remedies import remedies
from ibmflow.requestkinds import KINDS, label
from ibmflow.services.common import definition_for, iso
from ibmflow.services.context import Context
from ibmflow.services.decisions import list_decisions
from ibmflow.services.page_views import (
    Blocker,
    ChapterView,
    DocumentView,
    ExtensionView,
    InstitutionView,
    ProcessPage,
    TaskForceView,
)
from ibmflow.services.process_page import (
    REQUEST_PAGE,
    STATUS_FILTERS,
    kind_title,
    open_requests,
    read_requests,
    request_filter,
    waiting_for,
)
from ibmflow.services.processes import status
from ibmflow.services.quarantine import list_quarantine
from ibmflow.services.record_views import InboundMail
from ibmflow.services.replies import QUARANTINED
from ibmflow.storage import repository as repo
from ibmflow.storage.queries import page_requests as page_queries
from ibmflow.storage.queries import processes as queries
from ibmflow.storage.tables import (
    DecisionRow,
    DocumentRow,
    InboundMessageRow,
    OutboxRow,
    RequestRow,
)


def _roster_parts(
    ctx: Context, key: str, now: datetime, asked: tuple[str, str, str], offset: int
) -> dict[str, Any]:
    """The page's parts read from the facts: blockers, roster, documents, task forces, chapters,
    and the page of requests asked for (`asked`: status, institution and kind to filter by)."""
    with ctx.db.reading() as session:
        process = repo.get_process(session, key)
        definition = definition_for(ctx, session, process)
        facts = repo.load_facts(session, process, now)
        flt = request_filter(*asked, [i.code for i in facts.institutions])
        blockers = []
        steps = [s.id for s in definition.steps]
        current = process.suspended_from if process.state == SUSPENDED else process.state
        running = process.state in steps and not definition.state(process.state).final
        if running:
            for guard in definition.state(process.state).guards:
                sentences = REGISTRY[guard.name].check(facts, guard.args)
                if sentences:
                    blockers.append(
                        Blocker(
                            guard=guard.name,
                            sentences=tuple(sentences),
                            remedies=remedies(guard.name, guard.args, facts),
                            waiting=waiting_for(
                                ctx, session, process, facts, guard.name, guard.args
                            ),
                        )
                    )
        earlier = steps[: steps.index(current)] if current in steps else []
        guards = [g.name for g in definition.state(process.state).guards] if running else []
        return {
            "offers": offered(guards, running=running),
            "requests": read_requests(ctx, session, process, now, flt, offset),
            "open_requests": open_requests(ctx, session, process, now),
            "step_titles": {step.id: step.title for step in definition.steps},
            "blockers": tuple(blockers),
            "earlier_steps": tuple((s, definition.state(s).title) for s in earlier),
            "institutions": tuple(
                InstitutionView(code=i.code, name=i.short_name, category=i.category)
                for i in facts.institutions
            ),
            "institution_options": tuple((i.code, i.short_name) for i in facts.institutions),
            "names": {i.code: i.short_name for i in facts.institutions},
            "members": {code: p.email for code, p in facts.iawg_members.items()},
            "people": tuple(
                sorted(
                    {p.email for fps in facts.focal_points.values() for p in fps}
                    | {p.email for p in facts.iawg_members.values()}
                )
            ),
            "documents": tuple(
                DocumentView(
                    id=d.id,
                    kind=d.kind,
                    kind_label=DOCUMENT_KINDS.get(d.kind, d.kind),
                    filename=d.filename,
                    step=d.step,
                    size=d.size,
                    uploaded_by=d.uploaded_by,
                    uploaded_at=iso(d.uploaded_at),
                )
                for d in facts.documents
            ),
            "task_forces": tuple(TaskForceView(t.name, t.lead) for t in facts.task_forces),
            "chapters": tuple(
                ChapterView(c.title, c.lead, iso(c.submitted_at)) for c in facts.chapters
            ),
            "chapter_options": tuple((c.title, c.title) for c in facts.chapters),
        }


def process_page(
    ctx: Context,
    key: str,
    *,
    status_filter: str = "",
    institution: str = "",
    kind: str = "",
    page: int = 1,
) -> ProcessPage:
    """Everything the process page shows, read once per page: page `page` of the requests that
    match the filters (InvalidCommand for a filter value nobody offered)."""
    now = ctx.clock.now()
    asked = (status_filter, institution, kind)
    return ProcessPage(
        status=status(ctx, key),
        **_roster_parts(ctx, key, now, asked, (max(page, 1) - 1) * REQUEST_PAGE),
        decisions=list_decisions(ctx, key),
        quarantine=list_quarantine(ctx, key),
        extensions=extensions(ctx, key),
        request_kinds=tuple((k.name, k.label) for k in KINDS.values() if not k.is_vote),
        kind_filters=tuple((k.name, kind_title(k.name)) for k in KINDS.values() if not k.is_vote),
        status_filters=tuple((k, _(v)) for k, v in STATUS_FILTERS.items()),
        document_kinds=tuple(DOCUMENT_KINDS.items()),
        subjects=tuple(DECISION_SUBJECTS.items()),
        kind_labels={k.name: k.label for k in KINDS.values()},
    )


def extensions(ctx: Context, key: str) -> tuple[ExtensionView, ...]:
    """The deadlines moved in a process, newest first, with who moved them and why; each named
    in words (the step's title, or the request's kind and institution), never by an id."""
    with ctx.db.reading() as session:
        process = repo.get_process(session, key)
        steps = queries.stay_steps(session, process.id)
        titles = {s.id: s.title for s in definition_for(ctx, session, process).steps}
        rows = queries.extensions(session, process.id)
        asked = [r.request_id for r in rows if r.request_id is not None]
        found = page_queries.requests_by_id(session, process.id or 0, asked)
        names = {i.id: i.short_name for i in repo.institutions(session, process)} if asked else {}

        def subject(row: Any) -> str:
            request = found.get(row.request_id)
            if request is not None:
                return _(
                    "The request to %(institution)s (%(kind)s)",
                    institution=names.get(request.institution_id, ""),
                    kind=label(request.kind),
                )
            step = steps.get(row.step_record_id, "")
            return _("The step %(step)s", step=titles.get(step, step.replace("_", " ")))

        return tuple(
            ExtensionView(
                subject=subject(row),
                old_due_at=iso(row.old_due_at),
                new_due_at=iso(row.new_due_at),
                reason=row.reason,
                actor=row.actor,
                at=iso(row.created_at),
            )
            for row in rows
        )


def unmatched_quarantine(ctx: Context) -> list[InboundMail]:
    """Quarantined mails that match no process (only an administrator sees these)."""
    return [entry for entry in list_quarantine(ctx) if entry.process is None]


# The objects a path can name, by kind: their table (each row has a `process_id`).
_OBJECT_TABLES: dict[str, type[Any]] = {
    "request": RequestRow,
    "decision": DecisionRow,
    "inbound": InboundMessageRow,
    "mail": OutboxRow,
    "document": DocumentRow,
}
OBJECT_KINDS = tuple(_OBJECT_TABLES)


def belongs(ctx: Context, key: str, kind: str, object_id: int, *, unmatched_ok: bool) -> bool:
    """Whether object `object_id` of `kind` belongs to process `key` (a received mail that matches
    no process counts only when `unmatched_ok`: administrators handle those)."""
    with ctx.db.reading() as session:
        process = queries.find_process(session, key.strip().upper())
        row = session.get(_OBJECT_TABLES[kind], object_id)
        if process is None or row is None:
            return False
        return bool(
            row.process_id == process.id
            or (kind == "inbound" and row.process_id is None and unmatched_ok)
        )


def check_inbound(ctx: Context, key: str, inbound_id: int, *, unmatched_ok: bool) -> None:
    """Raise NotFound unless the quarantined mail belongs to process `key` (or to no process, when
    `unmatched_ok`): a mail of another process is not there for this caller."""
    with ctx.db.reading() as session:
        process = repo.get_process(session, key)
        row = session.get(InboundMessageRow, inbound_id)
        mine = row is not None and (
            row.process_id == process.id or (row.process_id is None and unmatched_ok)
        )
        if not mine or row is None or row.status != QUARANTINED:
            raise NotFound(
                _(
                    "no mail #%(inbound_id)s in the quarantine of %(key)s.",
                    inbound_id=inbound_id,
                    key=process.key,
                )
            )


def check_request(ctx: Context, key: str, request_id: int) -> None:
    """Raise NotFound unless request `request_id` belongs to process `key`."""
    with ctx.db.reading() as session:
        repo.owned(session, repo.get_process(session, key), RequestRow, request_id)


def document_file(ctx: Context, key: str, document_id: int) -> tuple[str, bytes]:
    """A document of process `key`: its file name and content (NotFound for another's)."""
    with ctx.db.reading() as session:
        row = repo.owned(session, repo.get_process(session, key), DocumentRow, document_id)
        filename, digest = row.filename, row.sha256
    return filename, ctx.documents.read(digest)


def institutions_chosen(values: Sequence[str]) -> list[str] | None:
    """The institutions ticked on a form (None: every institution in scope)."""
    chosen = [v.strip().upper() for v in values if v.strip()]
    return chosen or None
