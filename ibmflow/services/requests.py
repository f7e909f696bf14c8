"""Requests to focal points: sending them by mail, recording their answers (the link's page is in
`services.links`, replies in `services.inbound`), withdrawing and waiving them.

A request's link carries a token of 192 random bits; only its SHA-256 is stored, with an expiry (the
due date plus a grace period). Looking at a link never consumes it; answering does.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from ibmflow.audit import AuditRecord, JSONValue
from ibmflow.errors import InvalidCommand, NotFound
from ibmflow.requestkinds import KINDS
from ibmflow.services import deadlines, documents, mailings
from ibmflow.services.common import due_after, iso, on_process, require_step
from ibmflow.services.context import Context
from ibmflow.services.documents import Upload as Upload  # where the other channels found it
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.tables import (
    DecisionRow,
    EarlierAnswerRow,
    InstitutionRow,
    LinkTokenRow,
    PersonRow,
    ProcessRow,
    RequestRow,
    RoleRow,
)

DEFAULT_DUE_DAYS = 10
OPEN = "sent"
FINISHED = ("answered", "withdrawn", "waived", "closed")


def token_hash(token: str) -> str:
    """The stored form of a link token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _focal_points(tx: Tx, process: ProcessRow) -> dict[int, list[PersonRow]]:
    """The focal points of every institution of the process, by institution id (one query)."""
    rows = tx.session.exec(
        select(RoleRow, PersonRow)
        .join(PersonRow, col(PersonRow.id) == col(RoleRow.person_id))
        .where(
            RoleRow.process_id == process.id,
            RoleRow.role == "focal_point",
            col(RoleRow.active).is_(True),
        )
        .order_by(col(RoleRow.id))
    ).all()
    out: dict[int, list[PersonRow]] = {}
    for role, person in rows:
        out.setdefault(role.institution_id or 0, []).append(person)
    return out


def issue(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    now: datetime,
    *,
    kind: str,
    actor: str,
    codes: Sequence[str] | None = None,
    scope: str = "involved",
    instructions: str = "",
    due_days: int = DEFAULT_DUE_DAYS,
    also_covered: Sequence[str] = (),
) -> list[int]:
    """Send requests of `kind` in the current step to every institution (or focal point) in scope
    that has none pending or answered yet (nor in a status of `also_covered`); return the new
    requests' ids (in the caller's tx)."""
    spec = KINDS.get(kind)
    if spec is None or spec.is_vote:
        raise InvalidCommand(
            f"unknown request kind {kind!r}; one of "
            f"{', '.join(k.name for k in KINDS.values() if not k.is_vote)} (votes go with decisions)."
        )
    facts = repo.load_facts(tx.session, process, now, frozenset({"institutions"}))
    targets = (
        [i.code for i in facts.in_scope(scope)] if codes is None else [c.upper() for c in codes]
    )
    by_code = {i.code: i for i in repo.institutions(tx.session, process)}
    focal = _focal_points(tx, process)
    existing = tx.session.exec(
        select(RequestRow).where(
            RequestRow.process_id == process.id,
            RequestRow.kind == kind,
            RequestRow.step == process.state,
            col(RequestRow.status).in_([OPEN, "answered", "waived", *also_covered]),
        )
    ).all()
    created: list[int] = []
    for code in targets:
        institution = by_code.get(code) or repo.institution(tx.session, process, code)
        due = due_after(ctx, process, now, due_days, weekend=institution.weekend)
        people = focal.get(institution.id or 0, [])
        groups = [[p] for p in people] if spec.per == "focal_point" else [people]
        for group in groups:
            if not group:
                continue  # no focal point yet: the guard says so; `request send` again later
            covered = [
                r
                for r in existing
                if r.institution_id == institution.id
                and (spec.per == "institution" or r.focal_point_id == group[0].id)
            ]
            if covered:
                continue
            request = RequestRow(
                process_id=process.id or 0,
                step=process.state,
                kind=kind,
                institution_id=institution.id or 0,
                focal_point_id=group[0].id,
                instructions=instructions,
                sent_at=now,
                due_at=due,
                reply_key=secrets.token_hex(8),
                created_by=actor,
            )
            send_new(
                ctx,
                tx,
                process,
                request,
                institution,
                group,
                now,
                actor=actor,
                details={"step": process.state},
            )
            created.append(request.id or 0)
    return created


def send_new(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    request: RequestRow,
    institution: InstitutionRow,
    people: Sequence[PersonRow],
    now: datetime,
    *,
    actor: str,
    representing: dict[int, PersonRow] | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Send a new request: store it, mail each addressee their link, plan its chasing ladder and
    put `request.sent` on the audit chain, all in the caller's transaction."""
    tx.session.add(request)
    tx.session.flush()
    mail_request(ctx, tx, process, request, institution, people, now, representing=representing)
    deadlines.plan_request(ctx, tx, process, request, institution)
    audit_sent(tx, process, request, institution, people, now, actor=actor, details=details)


def audit_sent(
    tx: Tx,
    process: ProcessRow,
    request: RequestRow,
    institution: InstitutionRow,
    people: Sequence[PersonRow],
    now: datetime,
    *,
    actor: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Put `request.sent` on the audit chain: the request went to `people` (a new request, or an
    open one to someone who joined it later, such as a representative nominated for its vote)."""
    tx.audit(
        AuditRecord(
            at=now,
            actor=actor,
            action="request.sent",
            process=process.key,
            entity=f"request:{request.id}",
            after={
                "kind": request.kind,
                "institution": institution.code,
                "to": [p.email for p in people],
                "due_at": iso(request.due_at),
                **(details or {}),
            },
        )
    )


def mail_request(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    request: RequestRow,
    institution: InstitutionRow,
    people: Sequence[PersonRow],
    now: datetime,
    *,
    representing: dict[int, PersonRow] | None = None,
    thread: Sequence[str] = (),
    dedupe_key: str | None = None,
    template: str | None = None,
    extra: dict[str, Any] | None = None,
) -> list[str]:
    """One mail per person, each with a link of its own; returns the Message-IDs.

    The first mail's Message-ID becomes the request's, under which reminders and receipts thread.
    A reminder passes its own `template` and `extra` context, and the request's thread.
    """
    definition_title = mailings.step_title(ctx, tx, process, request.step)
    decision = tx.session.get(DecisionRow, request.decision_id) if request.decision_id else None
    expires = (request.due_at or now) + timedelta(days=ctx.settings.mail_token_grace_days)
    ids = []
    for person in people:
        token = secrets.token_urlsafe(24)
        tx.session.add(
            LinkTokenRow(
                request_id=request.id or 0,
                person_id=person.id,
                token_hash=token_hash(token),
                created_at=now,
                expires_at=expires,
            )
        )
        rep = (representing or {}).get(person.id or 0)
        context: dict[str, Any] = {
            "recipient": {"name": person.name, "email": person.email},
            "institution": {
                "code": institution.code,
                "name": institution.name,
                "short_name": institution.short_name,
            },
            "request": {
                "id": request.id,
                "kind": request.kind,
                "kind_label": KINDS[request.kind].label,
                "instructions": request.instructions,
                "due_local": mailings.local_time(process, request.due_at),
            },
            "step": {"id": request.step, "title": definition_title},
            "link": f"{ctx.settings.mail_base_url}/r/{token}",
            "decision": {"id": decision.id, "title": decision.title} if decision else None,
            "representing": {"name": rep.name} if rep else None,
            **(extra or {}),
        }
        message_id = mailings.send(
            ctx,
            tx,
            process,
            template or KINDS[request.kind].template,
            [person.email],
            context,
            now,
            request_id=request.id,
            reply_to=mailings.reply_address(ctx, request.reply_key or ""),
            thread=thread,
            dedupe_key=f"{dedupe_key}:{person.id}" if dedupe_key else None,
        )
        ids.append(message_id)
    if ids and request.message_id is None:
        request.message_id = ids[0]
        tx.session.add(request)
    return ids


def send_requests(
    ctx: Context,
    key: str,
    *,
    kind: str,
    actor: str,
    institutions: Sequence[str] | None = None,
    scope: str = "involved",
    instructions: str = "",
    due_days: int = DEFAULT_DUE_DAYS,
) -> list[int]:
    """Send a request of `kind` to every institution in scope that has none yet (the CLI's `request
    send`); return the new requests' ids."""
    if due_days < 1:
        raise InvalidCommand("--due-days must be at least 1 working day.")
    with on_process(ctx, key) as (tx, process, now):
        require_step(process, doing="sending requests")
        return issue(
            ctx,
            tx,
            process,
            now,
            kind=kind,
            actor=actor,
            codes=institutions,
            scope=scope,
            instructions=instructions,
            due_days=due_days,
        )


def _files(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    request: RequestRow,
    uploads: Sequence[Upload],
    actor: str,
    now: datetime,
) -> list[int]:
    ids = []
    for upload in uploads:
        row = documents.attach(
            ctx,
            tx,
            process,
            upload,
            kind="other",
            step=request.step,
            actor=actor,
            now=now,
            detail={"request": request.id},
        )
        ids.append(row.id or 0)
    return ids


def record(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    request: RequestRow,
    now: datetime,
    *,
    via: str,
    actor: str,
    text: str | None,
    fields: dict[str, Any],
    uploads: Sequence[Upload] = (),
    detail: dict[str, JSONValue] | None = None,
) -> None:
    """Record an answer on a request (in the caller's transaction), consume its links, and send the
    answerer a receipt threaded under the request."""
    if request.status in FINISHED:
        raise InvalidCommand(
            f"request #{request.id} is already {request.status}; nothing recorded."
        )
    documents = _files(ctx, tx, process, request, uploads, actor, now)
    request.status, request.answered_at, request.answered_via = "answered", now, via
    request.answered_by, request.answer_text = actor, text
    request.answer_fields = {**fields, **({"documents": documents} if documents else {})}
    tx.session.add(request)
    for link in tx.session.exec(
        select(LinkTokenRow).where(
            LinkTokenRow.request_id == request.id, col(LinkTokenRow.used_at).is_(None)
        )
    ):
        link.used_at = now
        tx.session.add(link)
    tx.audit(
        AuditRecord(
            at=now,
            actor=actor,
            action="request.answered",
            process=process.key,
            entity=f"request:{request.id}",
            after={
                "kind": request.kind,
                "via": via,
                "text": text,
                "fields": dict(request.answer_fields),
                **(detail or {}),
            },
        )
    )
    if via != "cli" and "@" in actor:
        institution = tx.session.get(InstitutionRow, request.institution_id)
        assert institution is not None
        mailings.send(
            ctx,
            tx,
            process,
            "answer_receipt",
            [actor],
            {
                "institution": {"name": institution.name, "short_name": institution.short_name},
                "request": {
                    "id": request.id,
                    "kind_label": KINDS[request.kind].label,
                    "answered_local": mailings.local_time(process, now),
                    "via": via,
                },
            },
            now,
            request_id=request.id,
            thread=[request.message_id] if request.message_id else [],
        )


def close(ctx: Context, key: str, request_id: int, *, status: str, reason: str, actor: str) -> None:
    """Withdraw or waive a request (coordinator, with a reason); its links stop working."""
    if status not in ("withdrawn", "waived"):
        raise InvalidCommand("a request is either withdrawn or waived.")
    if not reason.strip():
        raise InvalidCommand(f"a reason is required to mark a request {status}.")
    with on_process(ctx, key) as (tx, process, now):
        request = tx.session.get(RequestRow, request_id)
        if request is None or request.process_id != process.id:
            raise NotFound(f"no request #{request_id} in {key}; `ibmflow request list {key}`.")
        if request.status != OPEN:
            raise InvalidCommand(
                f"request #{request_id} is {request.status}; only a pending request "
                f"can be {status}."
            )
        request.status, request.closed_reason = status, reason.strip()
        tx.session.add(request)
        tx.audit(
            AuditRecord(
                at=now,
                actor=actor,
                action=f"request.{status}",
                process=key,
                entity=f"request:{request_id}",
                reason=reason.strip(),
                before={"status": OPEN},
                after={"status": status},
            )
        )


def earlier_answers(session: Session, request_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The earlier answers of some requests (one query), oldest first, by request id."""
    rows = (
        session.exec(
            select(EarlierAnswerRow)
            .where(col(EarlierAnswerRow.request_id).in_(request_ids))
            .order_by(col(EarlierAnswerRow.id))
        ).all()
        if request_ids
        else []
    )
    out: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r.request_id, []).append(
            {
                "answered_at": iso(r.answered_at),
                "answered_via": r.answered_via,
                "answered_by": r.answered_by,
                "text": r.answer_text,
                "fields": r.answer_fields,
                "vote": r.vote,
                "reopened_at": iso(r.reopened_at),
                "reopened_by": r.reopened_by,
                "reason": r.reason,
            }
        )
    return out


def list_requests(ctx: Context, key: str) -> list[dict[str, Any]]:
    """Every request of a process with its status and answer, and the earlier answers of those the
    coordinator reopened."""
    now = ctx.clock.now()
    with ctx.db.reading() as session:
        process = repo.get_process(session, key)
        codes = {i.id: i.code for i in repo.institutions(session, process)}
        emails = {
            p.id: p.email
            for p in session.exec(select(PersonRow).where(PersonRow.process_id == process.id))
        }
        rows = session.exec(
            select(RequestRow)
            .where(RequestRow.process_id == process.id)
            .order_by(col(RequestRow.id))
        ).all()
        earlier = earlier_answers(session, [r.id or 0 for r in rows])
        return [
            {
                "id": r.id,
                "step": r.step,
                "kind": r.kind,
                "institution": codes[r.institution_id],
                "focal_point": emails.get(r.focal_point_id) if r.focal_point_id else None,
                "status": r.status,
                "overdue": bool(r.status == OPEN and r.due_at and now > r.due_at),
                "sent_at": iso(r.sent_at),
                "due_at": iso(r.due_at),
                "answered_at": iso(r.answered_at),
                "answered_via": r.answered_via,
                "answered_by": r.answered_by,
                "answer_text": r.answer_text,
                "answer_fields": r.answer_fields,
                "decision_id": r.decision_id,
                "reason": r.closed_reason,
                "earlier_answers": earlier.get(r.id or 0, []),
            }
            for r in rows
        ]
