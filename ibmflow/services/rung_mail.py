"""The mails the chasing ladder writes: what rang (an item: a reminder, an escalation, a step alert)
and for whom, then one mail per person per process per sweep.

A person with one item gets that item's own mail (`reminder`, `escalation`, `step_overdue`); a person
with several gets one `chase_digest` listing them, each reminder with a fresh link of its own,
threaded under the first item's request mail. Every rung a mail carries is recorded against the
person (`chase_mail`, unique per rung and person), and the mail's outbox key is its first rung's key
and the person's id: a rung reaches a person at most once, whatever happens.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ibmflow.calendar import WorkCalendar
from ibmflow.engine import engine_for
from ibmflow.guards import reads_of
from ibmflow.i18n import N_
from ibmflow.requestkinds import ANSWERERS, KINDS
from ibmflow.services import mailings
from ibmflow.services.chase_batch import (
    AnyRung,
    Batch,
    institution_holders,
    people_with_roles,
    standing_representatives,
)
from ibmflow.services.common import definition_for
from ibmflow.services.context import Context
from ibmflow.services.requests import mail_request, token_hash
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.shapes import Institution, Person, Request
from ibmflow.storage.tables import ProcessRow, StepRecord

REMINDER, ESCALATION_MAIL, STEP_OVERDUE, DIGEST = (
    "reminder",
    "escalation",
    "step_overdue",
    "chase_digest",
)


@dataclass
class Item:
    """One rung that rings, the people it goes to, and what its mail says to all of them."""

    rung: AnyRung
    template: str  # the mail of this item alone: reminder, escalation or step_overdue
    people: Sequence[Person]
    context: dict[str, Any]
    request: Request | None = None
    institution: Institution | None = None
    representing: dict[int, Person] = field(default_factory=dict)

    @property
    def thread(self) -> list[str]:
        """The request mail it follows, if any."""
        return [self.request.message_id] if self.request and self.request.message_id else []


def _institution(institution: Institution) -> dict[str, Any]:
    return {
        "code": institution.code,
        "name": institution.name,
        "short_name": institution.short_name,
    }


def reminder_context(
    cal: WorkCalendar, rung: AnyRung, due_at: datetime, now: datetime
) -> dict[str, Any]:
    """Where a request stands on its ladder today."""
    today, due_day = cal.local_day(now), cal.local_day(due_at)
    left = cal.between(today, due_day)  # negative when overdue: the working days overdue
    return {
        "rung": rung.rung,
        "overdue": today > due_day,
        "working_days_left": max(left, 0),
        "working_days_overdue": max(-left, 0),
        "due_day": due_day,
    }


def reminder(
    ctx: Context,
    tx: Tx,
    loaded: Batch,
    process: ProcessRow,
    request: Request,
    institution: Institution,
    cal: WorkCalendar,
    rung: AnyRung,
    now: datetime,
) -> Item:
    """A reminder to the people the request went to."""
    people = loaded.addressees.get(request.id or 0, [])
    representing: dict[int, Person] = {}
    if KINDS[request.kind].is_vote:
        member = next((p for p in people if p.id == request.focal_point_id), None)
        if member is not None:
            representing = {p.id or 0: member for p in people if p.id != member.id}
    assert request.due_at is not None
    context = {
        "institution": _institution(institution),
        "request": {
            "id": request.id,
            "kind": request.kind,
            "kind_label": KINDS[request.kind].source_label,
            "due_at": request.due_at,
        },
        "step": {"id": request.step, "title": mailings.step_title(ctx, tx, process, request.step)},
        "reminder": reminder_context(cal, rung, request.due_at, now),
    }
    return Item(rung, REMINDER, list(people), context, request, institution, representing)


def escalation(
    ctx: Context,
    tx: Tx,
    loaded: Batch,
    process: ProcessRow,
    request: Request,
    institution: Institution,
    cal: WorkCalendar,
    rung: AnyRung,
    now: datetime,
) -> Item:
    """The escalation goes up: to the institution's IAWG member (and their representatives) and
    the coordinator, never to a person it chases; when the member is that person, to the
    coordinator and the chair, and it says so."""
    members = institution_holders(tx, process, "iawg_member", institution.id or 0)
    today = cal.local_day(now)
    reps = [
        standing.person
        for standing in standing_representatives(tx, [m.id for m in members])
        if (standing.valid_from is None or standing.valid_from <= today)
        and (standing.valid_until is None or today <= standing.valid_until)
    ]
    focal = loaded.addressees.get(request.id or 0, [])
    chased = {p.id for p in focal} | {request.focal_point_id}
    above = [(m, N_("IAWG member")) for m in members] + [(r, N_("representative")) for r in reps]
    passed_over = [(p, role) for p, role in above if p.id in chased]
    above += [(p, N_("coordinator")) for p in people_with_roles(tx, process, ["coordinator"])]
    if passed_over:
        above += [(p, N_("chair")) for p in people_with_roles(tx, process, ["chair"])]
    to: dict[int, tuple[Person, str]] = {}
    for person, role in above:
        if person.id not in chased and person.id not in to:
            to[person.id or 0] = (person, role)
    assert request.due_at is not None
    context = {
        "recipients": [{"name": p.name, "role": role} for p, role in to.values()],
        "institution": _institution(institution),
        "request": {
            "id": request.id,
            "kind_label": KINDS[request.kind].source_label,
            "due_at": request.due_at,
        },
        "step": {"id": request.step, "title": mailings.step_title(ctx, tx, process, request.step)},
        "reminder": {
            **reminder_context(cal, rung, request.due_at, now),
            "sent_at": request.sent_at,
            "focal_points": ", ".join(dict.fromkeys(p.name for p in focal))
            or N_("its focal point"),
            "reminders_sent": loaded.reminders_sent(request.id or 0),
            "representatives": any(role == "representative" for _, role in to.values()),
        },
        "passed_over": [{"name": p.name, "role": role} for p, role in passed_over],
        "chased_as": ANSWERERS[KINDS[request.kind].answered_by][1],
    }
    people = [p for p, _ in to.values()]
    return Item(rung, ESCALATION_MAIL, people, context, request, institution)


def step_alert(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    stay: StepRecord,
    cal: WorkCalendar,
    rung: AnyRung,
    now: datetime,
) -> Item:
    """An overdue step: the coordinator and the chair are told what still blocks it."""
    people = people_with_roles(tx, process, ["coordinator", "chair"])
    assert stay.due_at is not None
    definition = definition_for(ctx, tx.session, process)
    state = definition.state(stay.step)
    facts = repo.load_facts(tx.session, process, now, reads_of(g.name for g in state.guards))
    due_day = cal.local_day(stay.due_at)
    context = {
        "step": {
            "id": stay.step,
            "title": state.title_text,
            "due_at": stay.due_at,
            "working_days_overdue": max(cal.between(due_day, cal.local_day(now)), 0),
            "blockers": engine_for(definition).blockers(stay.step, facts),
        }
    }
    return Item(rung, STEP_OVERDUE, people, context)


# One mail per person ------------------------------------------------------------------------------

_ORDER = {REMINDER: 0, ESCALATION_MAIL: 1, STEP_OVERDUE: 2}


def write_mails(
    ctx: Context, tx: Tx, loaded: Batch, process: ProcessRow, items: list[Item], now: datetime
) -> None:
    """Write one mail per person for the items of one process that rang in this sweep."""
    mine: dict[int, tuple[Person, list[Item]]] = {}
    for item in sorted(items, key=lambda i: (_ORDER[i.template], i.request.id if i.request else 0)):
        for person in item.people:
            mine.setdefault(person.id or 0, (person, []))[1].append(item)
    for person, its in mine.values():
        first = its[0]
        key = f"{first.rung.key}:{person.id}"
        if len(its) > 1:
            message_id = _digest(ctx, tx, loaded, process, person, its, key, now)
        elif first.template == REMINDER:
            assert first.request is not None and first.institution is not None
            (message_id,) = mail_request(
                ctx,
                tx,
                process,
                first.request,
                first.institution,
                [person],
                now,
                representing=first.representing,
                thread=first.thread,
                dedupe_key=first.rung.key,
                template=REMINDER,
                extra={"reminder": first.context["reminder"]},
                into=loaded.mails,
            )
        else:
            message_id = mailings.send(
                ctx,
                tx,
                process,
                first.template,
                [person.email],
                {**first.context, "recipient": {"name": person.name, "email": person.email}},
                now,
                request_id=first.request.id if first.request else None,
                thread=first.thread,
                dedupe_key=key,
                into=loaded.mails,
            )
        loaded.carried.extend((item.rung, person.id or 0, message_id) for item in its)


def _digest(
    ctx: Context,
    tx: Tx,
    loaded: Batch,
    process: ProcessRow,
    person: Person,
    items: list[Item],
    key: str,
    now: datetime,
) -> str:
    """One mail listing every item that rang for a person, each reminder with a fresh link."""
    listed = []
    for item in items:
        entry = {**item.context, "kind": item.template, "link": None, "representing": None}
        if item.template == REMINDER and item.request is not None:
            entry["link"] = _fresh_link(ctx, loaded, item.request, person, now)
            rep = item.representing.get(person.id or 0)
            entry["representing"] = {"name": rep.name} if rep else None
        listed.append(entry)
    replies = next((i.request for i in items if i.template == REMINDER and i.request), None)
    context = {
        "recipient": {"name": person.name, "email": person.email},
        "items": listed,
        "counts": {
            kind: sum(1 for i in items if i.template == kind)
            for kind in (REMINDER, ESCALATION_MAIL, STEP_OVERDUE)
        },
        "reply_request": replies.id if replies else None,
    }
    return mailings.send(
        ctx,
        tx,
        process,
        DIGEST,
        [person.email],
        context,
        now,
        request_id=replies.id if replies else None,
        reply_to=mailings.reply_address(ctx, replies.reply_key or "") if replies else None,
        thread=next((i.thread for i in items if i.thread), []),
        dedupe_key=key,
        into=loaded.mails,
    )


def _fresh_link(
    ctx: Context, loaded: Batch, request: Request, person: Person, now: datetime
) -> str:
    """A new answer link of the person for the request (earlier links keep working), written with
    the batch's mails."""
    token = secrets.token_urlsafe(24)
    loaded.mails.tokens.append(
        {
            "request_id": request.id or 0,
            "person_id": person.id,
            "token_hash": token_hash(token),
            "created_at": now,
            "expires_at": (request.due_at or now)
            + timedelta(days=ctx.settings.mail_token_grace_days),
            "used_at": None,
        }
    )
    return f"{ctx.settings.mail_base_url}/r/{token}"
