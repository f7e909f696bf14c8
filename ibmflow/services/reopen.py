"""Reopening an answered request: the coordinator has an answer corrected, with a reason.

The earlier answer is kept as it was (table `earlier_answer`, and the `request.reopened` event on the
audit chain); the request is open again with a due date, its addressees get a mail with a fresh link
under the request's thread, and its chasing ladder is planned again for that date. A vote can be
reopened while its decision is open: the vote leaves the tally (kept among the earlier answers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ibmflow.audit import JSONValue
from ibmflow.decisions import OPEN as DECISION_OPEN
from ibmflow.decisions import outcome_label
from ibmflow.errors import InvalidCommand, NotFound
from ibmflow.i18n import _
from ibmflow.ladder import REQUEST_SUBJECT
from ibmflow.requestkinds import KINDS
from ibmflow.services import mailings, requests
from ibmflow.services.common import definition_for, due_after, iso, on_process, require_step
from ibmflow.services.context import Context
from ibmflow.services.deadlines import request_calendar
from ibmflow.services.extensions import replan
from ibmflow.services.nominations import vote_addressees
from ibmflow.services.record_views import status_label
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import nominations, roster
from ibmflow.storage.tables import (
    DecisionRow,
    EarlierAnswerRow,
    InstitutionRow,
    PersonRow,
    ProcessRow,
    RequestRow,
)


@dataclass(frozen=True)
class Reopened:
    """A request open again: its new due date, whether the old one was kept, who was mailed."""

    request_id: int
    due_at: datetime
    due_local: str
    due_kept: bool
    to: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "request": self.request_id,
            "status": requests.OPEN,
            "due_at": iso(self.due_at),
            "due_local": self.due_local,
            "due_kept": self.due_kept,
            "to": self.to,
        }


def reopen(ctx: Context, key: str, request_id: int, *, reason: str, actor: str) -> Reopened:
    """Reopen an answered request with a reason; refuse (nothing changed) a request that is not
    answered, a vote on a decision no longer open, or no reason."""
    reason = reason.strip()
    if not reason:
        raise InvalidCommand(
            _(
                "a reason is required to reopen request #%(request_id)s: say what must "
                'be corrected (--reason "..."); the focal point reads it in the mail.',
                request_id=request_id,
            )
        )
    with on_process(ctx, key) as (tx, process, now):
        require_step(process, doing=_("reopening a request"))
        request = tx.session.get(RequestRow, request_id)
        if request is None or request.process_id != process.id:
            raise NotFound(
                _(
                    "no request #%(request_id)s in %(key)s; `ibmflow request list %(key)s` "
                    "shows them.",
                    request_id=request_id,
                    key=key,
                ),
                process=key,
            )
        if request.status != "answered":
            raise InvalidCommand(
                _(
                    "request #%(request_id)s is %(status)s, not answered; only an answered "
                    "request can be reopened.",
                    request_id=request_id,
                    status=status_label(request.status),
                ),
                process=key,
            )
        institution = tx.session.get(InstitutionRow, request.institution_id)
        assert institution is not None
        vote = (
            _take_vote(tx, process, request, institution) if KINDS[request.kind].is_vote else None
        )
        earlier = _keep(tx, request, vote, now, actor, reason)
        due, kept = _due(ctx, tx, process, request, institution, now)
        request.status, request.due_at = requests.OPEN, due
        request.answered_at = request.answered_via = request.answered_by = None
        request.answer_text, request.answer_fields = None, None
        tx.session.add(request)
        people, representing = _addressees(tx, process, request, institution, now)
        requests.mail_request(
            ctx,
            tx,
            process,
            request,
            institution,
            people,
            now,
            representing=representing,
            thread=[request.message_id] if request.message_id else [],
            template="request_reopened",
            extra={
                "reopened": {
                    "reason": reason,
                    "answered_at": earlier.answered_at,
                }
            },
        )
        _replan(ctx, tx, process, request, institution, now)
        to = [p.email for p in people]
        tx.acting(actor, now, key).record(
            "request.reopened",
            f"request:{request_id}",
            reason=reason,
            before={
                "status": "answered",
                "answered_at": iso(earlier.answered_at),
                "answered_via": earlier.answered_via,
                "answered_by": earlier.answered_by,
                "text": earlier.answer_text,
                "fields": dict(earlier.answer_fields or {}),
                "vote": vote,
                "due_at": iso(earlier.due_at),
            },
            after={
                "status": requests.OPEN,
                "due_at": iso(due),
                "due_kept": kept,
                "to": list[JSONValue](to),
            },
        )
        return Reopened(request_id, due, mailings.local_time(process, due), kept, to)


def _take_vote(
    tx: Tx, process: ProcessRow, request: RequestRow, institution: InstitutionRow
) -> dict[str, JSONValue] | None:
    """The institution's vote on the request's decision, taken out of the tally (the decision must
    still be open); returned as kept among the earlier answers."""
    decision = tx.session.get(DecisionRow, request.decision_id)
    assert decision is not None
    if decision.status != DECISION_OPEN:
        raise InvalidCommand(
            _(
                "request #%(id)s is %(short_name)s's vote on decision #%(decision)s, which is "
                "already %(status)s: its votes stay as cast. Open a revised motion to "
                "decide again.",
                id=request.id,
                short_name=institution.short_name,
                decision=decision.id,
                status=outcome_label(decision.status),
            ),
            process=process.key,
        )
    row = nominations.vote_of(tx.session, decision.id, institution.id or 0)
    if row is None:
        return None
    voter = tx.session.get(PersonRow, row.voter_id)
    represented = tx.session.get(PersonRow, row.represented_id) if row.represented_id else None
    kept: dict[str, JSONValue] = {
        "decision_id": decision.id,
        "voter": voter.email if voter else None,
        "represented": represented.email if represented else None,
        "approve": row.approve,
        "reason": row.reason,
        "cast_at": iso(row.cast_at),
    }
    # One vote per institution and decision (the table's unique key): the vote moves to the earlier
    # answers so that the institution can vote again; the audit chain keeps its `vote.cast`.
    tx.session.delete(row)
    tx.session.flush()
    return kept


def _keep(
    tx: Tx,
    request: RequestRow,
    vote: dict[str, JSONValue] | None,
    now: datetime,
    actor: str,
    reason: str,
) -> EarlierAnswerRow:
    row = EarlierAnswerRow(
        request_id=request.id or 0,
        answered_at=request.answered_at,
        answered_via=request.answered_via,
        answered_by=request.answered_by,
        answer_text=request.answer_text,
        answer_fields=dict(request.answer_fields or {}),
        vote=vote,
        due_at=request.due_at,
        reopened_at=now,
        reopened_by=actor,
        reason=reason,
    )
    tx.session.add(row)
    return row


def _due_days(ctx: Context, tx: Tx, process: ProcessRow, request: RequestRow) -> int:
    """The kind's working days to answer: the `due_days` its step's `opens` declares for it, else
    the default (10, as for `request send` and decisions)."""
    definition = definition_for(ctx, tx.session, process)
    if request.step in {s.id for s in definition.steps}:
        for opening in definition.state(request.step).opens:
            if opening.kind == request.kind:
                return opening.due_days
    return requests.DEFAULT_DUE_DAYS


def _due(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    request: RequestRow,
    institution: InstitutionRow,
    now: datetime,
) -> tuple[datetime, bool]:
    """The old due date if still ahead, else a new one counted from now; and whether it was kept."""
    if request.due_at is not None and request.due_at > now:
        return request.due_at, True
    days = _due_days(ctx, tx, process, request)
    return due_after(ctx, process, now, days, weekend=institution.weekend), False


def _addressees(
    tx: Tx, process: ProcessRow, request: RequestRow, institution: InstitutionRow, now: datetime
) -> tuple[list[PersonRow], dict[int, PersonRow]]:
    """Whom the request goes to now: for a vote, the member and their representatives; for a
    request to each focal point, that focal point; else the institution's focal points."""
    if KINDS[request.kind].is_vote:
        facts = repo.load_facts(tx.session, process, now)
        today = now.astimezone(ZoneInfo(process.timezone)).date()
        nominated = repo.nominations(tx.session, process, facts)
        found = vote_addressees(
            tx, facts, nominated, request.decision_id or 0, institution.code, today
        )
        if found is None:
            raise InvalidCommand(
                _(
                    "%(short_name)s has no IAWG member to vote again; record one first.",
                    short_name=institution.short_name,
                ),
                process=process.key,
            )
        return found
    if KINDS[request.kind].per == "focal_point" and request.focal_point_id is not None:
        person = tx.session.get(PersonRow, request.focal_point_id)
        assert person is not None
        return [person], {}
    focal = roster.holders(tx.session, process, "focal_point", institution.id or 0)
    if not focal:
        raise InvalidCommand(
            _(
                "%(short_name)s has no focal point to answer again; add one first "
                "(`ibmflow person add ... --role focal_point`).",
                short_name=institution.short_name,
            ),
            process=process.key,
        )
    return list(focal), {}


def _replan(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    request: RequestRow,
    institution: InstitutionRow,
    now: datetime,
) -> None:
    """The request's rungs planned again for its due date, from today: those already sent stay
    sent (a reminder is sent once), the others move."""
    assert request.due_at is not None and request.id is not None
    ladder = definition_for(ctx, tx.session, process).chase.for_kind(request.kind)
    cal = request_calendar(ctx, process, institution)
    replan(
        tx,
        process,
        REQUEST_SUBJECT,
        request.id,
        ladder,
        cal,
        cal.local_day(now),
        cal.local_day(request.due_at),
        now,
        why="request reopened",
    )
