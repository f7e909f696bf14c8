"""Requests to focal points: sending them (their mail with personal links: `services.request_mail`),
withdrawing and waiving them, listing them with their answers. Answers come in through the one
intake (`services.intake`), which records them with `services.answering`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlmodel import Session

from ibmflow.errors import InvalidCommand, NotFound
from ibmflow.facts import scoped
from ibmflow.i18n import _
from ibmflow.requestkinds import KINDS
from ibmflow.services import deadlines, outbox
from ibmflow.services.common import due_after, iso, on_process, require_step
from ibmflow.services.context import Context
from ibmflow.services.record_views import EarlierAnswer, RequestView, status_label
from ibmflow.services.request_mail import mail_request as mail_request  # re-exported
from ibmflow.services.request_mail import token_hash as token_hash
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import answers as queries
from ibmflow.storage.queries import requests as requests_queries
from ibmflow.storage.shapes import Institution, Person, PersonRecord, Request
from ibmflow.storage.tables import (
    InstitutionRow,
    PersonRow,
    ProcessRow,
    RequestRow,
)

DEFAULT_DUE_DAYS = 10
OPEN = "sent"
FINISHED = ("answered", "withdrawn", "waived", "closed")


@dataclass(frozen=True)
class Round:
    """Requests of one kind to send to the institutions (or focal points) in scope: one of a step's
    `opens`, or a coordinator's `request send`."""

    kind: str
    scope: str = "involved"
    instructions: str = ""
    due_days: int = DEFAULT_DUE_DAYS
    codes: Sequence[str] | None = None  # these institutions rather than the scope's


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
    rounds = [Round(kind, scope, instructions, due_days, codes)]
    return issue_rounds(ctx, tx, process, now, rounds, actor=actor, also_covered=also_covered)


def issue_rounds(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    now: datetime,
    rounds: Sequence[Round],
    *,
    actor: str,
    also_covered: Sequence[str] = (),
) -> list[int]:
    """`issue` for several kinds at once (a step's `opens`), in order: the roster and the requests
    already covering it are read once for all of them, and every new request is stored, mailed and
    planned together (the same rows, in the same order, as one `issue` after the other)."""
    for r in rounds:
        spec = KINDS.get(r.kind)
        if spec is None or spec.is_vote:
            raise InvalidCommand(
                _(
                    "unknown request kind %(kind)r; one of %(kinds)s (votes go with decisions).",
                    kind=r.kind,
                    kinds=", ".join(k.name for k in KINDS.values() if not k.is_vote),
                )
            )
    if not rounds:
        return []
    pid = process.id or 0
    roster = requests_queries.institutions(tx.session, pid)
    by_code = {i.code: i for i in roster}
    focal = requests_queries.focal_points(tx.session, pid)
    covered = requests_queries.covering(
        tx.session,
        pid,
        process.state,
        {r.kind for r in rounds},
        [OPEN, "answered", "waived", *also_covered],
    )
    reached = {seat[:2] for seat in covered}  # (kind, institution) asked already, whoever was
    new: list[tuple[Institution, list[PersonRecord]]] = []
    values: list[dict[str, Any]] = []
    dues: dict[tuple[int, str], datetime] = {}
    for r in rounds:
        per_person = KINDS[r.kind].per == "focal_point"
        if r.codes is None:
            targets = [i.code for i in scoped(roster, r.scope)]
        else:
            targets = [c.upper() for c in r.codes]
        for code in targets:
            institution = by_code.get(code) or repo.institution(tx.session, process, code)
            when = (r.due_days, institution.weekend)  # most institutions share their weekend
            if when not in dues:
                dues[when] = due_after(ctx, process, now, r.due_days, weekend=institution.weekend)
            due = dues[when]
            people = focal.get(institution.id or 0, [])
            for group in [[p] for p in people] if per_person else [people]:
                if not group:
                    continue  # no focal point yet: the guard says so; `request send` again later
                seat = (r.kind, institution.id or 0, group[0].id)
                if per_person and seat in covered:
                    continue
                if not per_person and seat[:2] in reached:
                    continue  # a request to the institution covers it, whoever it went to
                covered.add(seat)  # a kind named twice is sent once
                reached.add(seat[:2])
                values.append(
                    {
                        "process_id": pid,
                        "step": process.state,
                        "kind": r.kind,
                        "institution_id": institution.id or 0,
                        "focal_point_id": group[0].id,
                        "instructions": r.instructions,
                        "sent_at": now,
                        "due_at": due,
                        "reply_key": secrets.token_hex(8),
                        "created_by": actor,
                    }
                )
                new.append((institution, group))
    rows = requests_queries.add_new_requests(tx.session, values)
    sent: list[tuple[Request, Institution, Sequence[Person]]] = [
        (row, inst, group) for row, (inst, group) in zip(rows, new, strict=True)
    ]
    send_all(ctx, tx, process, sent, now, actor=actor, details={"step": process.state}, stored=True)
    return [row.id or 0 for row in rows]


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
    send_all(
        ctx,
        tx,
        process,
        [(request, institution, people)],
        now,
        actor=actor,
        representing=representing,
        details=details,
    )


def send_all(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    new: Sequence[tuple[Request, Institution, Sequence[Person]]],
    now: datetime,
    *,
    actor: str,
    representing: dict[int, PersonRow] | None = None,
    details: dict[str, Any] | None = None,
    stored: bool = False,
) -> None:
    """Send new requests, each to its people, as `send_new` does one: the requests are stored
    with one statement (unless `stored`: they have their ids; rows or records), and their rungs
    planned with another."""
    if not new:
        return
    if not stored:
        # Requests not stored yet are new ORM rows (`send_new`); a round's records are stored.
        rows = cast(list[RequestRow], [request for request, _, _ in new])
        requests_queries.add_requests(tx.session, rows)
    kept = outbox.MailRows()  # every request's mails and link tokens: one statement each
    for request, institution, people in new:
        mail_request(
            ctx,
            tx,
            process,
            request,
            institution,
            people,
            now,
            representing=representing,
            into=kept,
            message_id_kept=True,
        )
        audit_sent(tx, process, request, institution, people, now, actor=actor, details=details)
    kept.write(tx)
    # Each request's first mail gave it its Message-ID: stored with one statement, and a row the
    # caller had in the session leaves it, so that the commit has no ORM update to flush.
    message_ids = {r.id or 0: r.message_id for r, _inst, _people in new if r.message_id is not None}
    requests_queries.set_message_ids(tx.session, message_ids)
    for request, _inst, _people in new:
        if isinstance(request, RequestRow) and request in tx.session:
            tx.session.expunge(request)
    deadlines.plan_requests(ctx, tx, process, [(request, inst) for request, inst, _ in new])


def audit_sent(
    tx: Tx,
    process: ProcessRow,
    request: Request,
    institution: Institution,
    people: Sequence[Person],
    now: datetime,
    *,
    actor: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Put `request.sent` on the audit chain: the request went to `people` (a new request, or an
    open one to someone who joined it later, such as a representative nominated for its vote)."""
    tx.acting(actor, now, process.key).record(
        "request.sent",
        f"request:{request.id}",
        after={
            "kind": request.kind,
            "institution": institution.code,
            "to": [p.email for p in people],
            "due_at": iso(request.due_at),
            **(details or {}),
        },
    )


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
        raise InvalidCommand(_("--due-days must be at least 1 working day."))
    with on_process(ctx, key) as (tx, process, now):
        require_step(process, doing=_("sending requests"))
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


def close(ctx: Context, key: str, request_id: int, *, status: str, reason: str, actor: str) -> None:
    """Withdraw or waive a request (coordinator, with a reason); its links stop working."""
    if status not in ("withdrawn", "waived"):
        raise InvalidCommand(_("a request is either withdrawn or waived."))
    if not reason.strip():
        raise InvalidCommand(
            _("a reason is required to mark a request %(status)s.", status=status_label(status))
        )
    with on_process(ctx, key) as (tx, process, now):
        close_in(tx, process, now, request_id, status=status, reason=reason, actor=actor)


def close_in(
    tx: Tx,
    process: ProcessRow,
    now: datetime,
    request_id: int,
    *,
    status: str,
    reason: str,
    actor: str,
) -> None:
    """`close` in the caller's transaction on the locked `process` (several requests at once,
    all or nothing: `services.bulk`)."""
    key = process.key
    request = tx.session.get(RequestRow, request_id)
    if request is None or request.process_id != process.id:
        raise NotFound(
            _(
                "no request #%(request_id)s in %(key)s; `ibmflow request list %(key)s`.",
                request_id=request_id,
                key=key,
            )
        )
    if request.status != OPEN:
        raise InvalidCommand(
            _(
                "request #%(request_id)s is %(status)s; only a pending request can be "
                "%(new_status)s.",
                request_id=request_id,
                status=status_label(request.status),
                new_status=status_label(status),
            )
        )
    request.status, request.closed_reason = status, reason.strip()
    tx.session.add(request)
    tx.acting(actor, now, key).record(
        f"request.{status}",
        f"request:{request_id}",
        reason=reason.strip(),
        before={"status": OPEN},
        after={"status": status},
    )


def earlier_answers(session: Session, request_ids: list[int]) -> dict[int, list[EarlierAnswer]]:
    """The earlier answers of some requests (one query), oldest first, by request id."""
    rows = queries.earlier_answers(session, request_ids)
    out: dict[int, list[EarlierAnswer]] = {}
    for r in rows:
        out.setdefault(r.request_id, []).append(
            EarlierAnswer(
                answered_at=iso(r.answered_at),
                answered_via=r.answered_via,
                answered_by=r.answered_by,
                text=r.answer_text,
                fields=r.answer_fields,
                vote=r.vote,
                reopened_at=iso(r.reopened_at),
                reopened_by=r.reopened_by,
                reason=r.reason,
            )
        )
    return out


def list_requests(ctx: Context, key: str) -> list[RequestView]:
    """Every request of a process with its status and answer, and the earlier answers of those the
    coordinator reopened."""
    now = ctx.clock.now()
    with ctx.db.reading() as session:
        process = repo.get_process(session, key)
        codes = {i.id: i.code for i in repo.institutions(session, process)}
        emails = queries.emails_of(session, process)
        rows = queries.requests_of(session, process)
        earlier = earlier_answers(session, [r.id or 0 for r in rows])
        return [
            RequestView(
                id=r.id or 0,
                step=r.step,
                kind=r.kind,
                institution=codes[r.institution_id],
                focal_point=emails.get(r.focal_point_id) if r.focal_point_id else None,
                status=r.status,
                overdue=bool(r.status == OPEN and r.due_at and now > r.due_at),
                sent_at=iso(r.sent_at),
                due_at=iso(r.due_at),
                answered_at=iso(r.answered_at),
                answered_via=r.answered_via,
                answered_by=r.answered_by,
                answer_text=r.answer_text,
                answer_fields=r.answer_fields,
                decision_id=r.decision_id,
                reason=r.closed_reason,
                earlier_answers=tuple(earlier.get(r.id or 0, [])),
            )
            for r in rows
        ]
