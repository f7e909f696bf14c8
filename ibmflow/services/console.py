"""Use cases of the web console: the process page's read model (status, blockers with their
remedies, requests, decisions, documents, quarantine), and which objects belong to a process.

Every command of the console goes through the same services as the command line (a file sent from
a form is an `Upload`, as one the command line read); nothing here decides anything the CLI would
decide differently.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from ibmflow.access import Account
from ibmflow.engine import SUSPENDED
from ibmflow.errors import NotFound
from ibmflow.facts import DECISION_SUBJECTS, DOCUMENT_KINDS
from ibmflow.guards import REGISTRY
from ibmflow.remedies import remedies
from ibmflow.requestkinds import KINDS
from ibmflow.services.common import definition_for, iso
from ibmflow.services.context import Context
from ibmflow.services.decisions import list_decisions
from ibmflow.services.processes import list_processes, status
from ibmflow.services.quarantine import list_quarantine
from ibmflow.services.replies import QUARANTINED
from ibmflow.services.requests import list_requests
from ibmflow.storage import repository as repo
from ibmflow.storage.tables import (
    DeadlineExtensionRow,
    DecisionRow,
    DocumentRow,
    InboundMessageRow,
    OutboxRow,
    ProcessRow,
    RequestRow,
    StepRecord,
)


def visible_processes(ctx: Context, account: Account) -> list[dict[str, Any]]:
    """The processes an account may see, each with its current step's due date."""
    now = ctx.clock.now()
    rows = [p for p in list_processes(ctx) if account.sees(p["process"])]
    with ctx.db.reading() as session:
        open_stays = {
            stay.process_id: stay
            for stay in session.exec(select(StepRecord).where(col(StepRecord.left_at).is_(None)))
        }
        ids = {p.key: p.id for p in session.exec(select(ProcessRow))}
        for row in rows:
            stay = open_stays.get(ids.get(row["process"]) or 0)
            due = stay.due_at if stay is not None else None
            row["due_at"] = iso(due)
            row["overdue"] = bool(due is not None and now > due)
    return rows


def _blockers(ctx: Context, key: str, now: datetime) -> dict[str, Any]:
    with ctx.db.reading() as session:
        process = repo.get_process(session, key)
        definition = definition_for(ctx, session, process)
        facts = repo.load_facts(session, process, now)
        blockers = []
        steps = [s.id for s in definition.steps]
        current = process.suspended_from if process.state == SUSPENDED else process.state
        if process.state in steps and not definition.state(process.state).final:
            for guard in definition.state(process.state).guards:
                sentences = REGISTRY[guard.name].check(facts, guard.args)
                if sentences:
                    blockers.append(
                        {
                            "guard": guard.name,
                            "sentences": sentences,
                            "remedies": remedies(guard.name, guard.args, facts),
                        }
                    )
        earlier = steps[: steps.index(current)] if current in steps else []
        return {
            "blockers": blockers,
            "earlier_steps": [(s, definition.state(s).title) for s in earlier],
            "institutions": [
                {"code": i.code, "name": i.short_name, "category": i.category}
                for i in facts.institutions
            ],
            "institution_options": [(i.code, i.short_name) for i in facts.institutions],
            "names": {i.code: i.short_name for i in facts.institutions},
            "members": {code: p.email for code, p in facts.iawg_members.items()},
            "people": sorted(
                {p.email for fps in facts.focal_points.values() for p in fps}
                | {p.email for p in facts.iawg_members.values()}
            ),
            "documents": [
                {
                    "id": d.id,
                    "kind": d.kind,
                    "kind_label": DOCUMENT_KINDS.get(d.kind, d.kind),
                    "filename": d.filename,
                    "step": d.step,
                    "size": d.size,
                    "uploaded_by": d.uploaded_by,
                    "uploaded_at": iso(d.uploaded_at),
                }
                for d in facts.documents
            ],
            "task_forces": [{"name": t.name, "lead": t.lead} for t in facts.task_forces],
            "chapters": [
                {"title": c.title, "lead": c.lead, "submitted_at": iso(c.submitted_at)}
                for c in facts.chapters
            ],
            "chapter_options": [(c.title, c.title) for c in facts.chapters],
        }


def process_page(ctx: Context, key: str) -> dict[str, Any]:
    """Everything the process page shows, read once per page."""
    now = ctx.clock.now()
    page = {
        "status": status(ctx, key),
        **_blockers(ctx, key, now),
        "requests": list_requests(ctx, key),
        "decisions": list_decisions(ctx, key),
        "quarantine": list_quarantine(ctx, key),
        "extensions": extensions(ctx, key),
        "request_kinds": [(k.name, k.label) for k in KINDS.values() if not k.is_vote],
        "document_kinds": list(DOCUMENT_KINDS.items()),
        "subjects": list(DECISION_SUBJECTS.items()),
    }
    return page


def extensions(ctx: Context, key: str) -> list[dict[str, Any]]:
    """The deadlines moved in a process, newest first, with who moved them and why."""
    with ctx.db.reading() as session:
        process = repo.get_process(session, key)
        steps = {
            r.id: r.step
            for r in session.exec(select(StepRecord).where(StepRecord.process_id == process.id))
        }
        rows = session.exec(
            select(DeadlineExtensionRow)
            .where(DeadlineExtensionRow.process_id == process.id)
            .order_by(col(DeadlineExtensionRow.id).desc())
        ).all()
        return [
            {
                "subject": f"request #{row.request_id}"
                if row.request_id is not None
                else f"step {steps.get(row.step_record_id, '')}".replace("_", " "),
                "old_due_at": iso(row.old_due_at),
                "new_due_at": iso(row.new_due_at),
                "reason": row.reason,
                "actor": row.actor,
                "at": iso(row.created_at),
            }
            for row in rows
        ]


def unmatched_quarantine(ctx: Context) -> list[dict[str, Any]]:
    """Quarantined mails that match no process (only an administrator sees these)."""
    return [entry for entry in list_quarantine(ctx) if entry["process"] is None]


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
        process = session.exec(
            select(ProcessRow).where(ProcessRow.key == key.strip().upper())
        ).one_or_none()
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
            raise NotFound(f"no mail #{inbound_id} in the quarantine of {process.key}.")


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
