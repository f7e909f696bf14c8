"""The mails a rung of the chasing ladder writes: reminders, escalations and step alerts, and what
a batch of rungs reads once for all of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from ibmflow.audit import AuditRecord
from ibmflow.calendar import WorkCalendar
from ibmflow.engine import engine_for
from ibmflow.guards import reads_of
from ibmflow.requestkinds import KINDS
from ibmflow.services import mailings
from ibmflow.services.common import definition_for
from ibmflow.services.context import Context
from ibmflow.services.deadlines import SENT
from ibmflow.services.requests import mail_request
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.tables import (
    InstitutionRow,
    LinkTokenRow,
    NominationRow,
    PersonRow,
    ProcessRow,
    RequestRow,
    RoleRow,
    RungRow,
    StepRecord,
)


@dataclass
class Batch:
    """What a batch of rungs needs, read in a few queries rather than one per rung."""

    processes: dict[int, ProcessRow]
    requests: dict[int, RequestRow]
    stays: dict[int, StepRecord]
    institutions: dict[int, InstitutionRow]
    addressees: dict[int, list[PersonRow]]  # request id -> the people its first mails went to
    keys: set[str]  # the keys of the rungs the batch's subjects have, planned or rung
    sent: dict[int, list[str]]  # request id -> the names of its rungs sent, this batch's too
    follow: list[dict[str, Any]] = field(default_factory=list)  # next rungs to insert
    events: list[AuditRecord] = field(default_factory=list)  # to append, in order

    @classmethod
    def of(cls, tx: Tx, rungs: Sequence[RungRow]) -> Batch:
        session = tx.session
        process_ids = sorted({r.process_id for r in rungs})
        # Lock the processes in id order, as every command does one at a time: an answer arriving
        # during the sweep waits for it, or the sweep sees the answer.
        processes = {
            p.id or 0: p
            for p in session.exec(
                select(ProcessRow)
                .where(col(ProcessRow.id).in_(process_ids))
                .order_by(col(ProcessRow.id))
                .with_for_update()
            )
        }
        request_ids = [r.request_id for r in rungs if r.request_id is not None]
        requests = {
            q.id or 0: q
            for q in session.exec(select(RequestRow).where(col(RequestRow.id).in_(request_ids)))
        }
        stay_ids = [r.step_record_id for r in rungs if r.step_record_id is not None]
        stays = {
            s.id or 0: s
            for s in session.exec(select(StepRecord).where(col(StepRecord.id).in_(stay_ids)))
        }
        institutions = {
            i.id or 0: i
            for i in session.exec(
                select(InstitutionRow).where(
                    col(InstitutionRow.id).in_({q.institution_id for q in requests.values()})
                )
            )
        }
        addressees: dict[int, list[PersonRow]] = {}
        seen: set[tuple[int, int]] = set()
        for request_id, person in session.exec(
            select(LinkTokenRow.request_id, PersonRow)
            .join(PersonRow, col(PersonRow.id) == col(LinkTokenRow.person_id))
            .where(col(LinkTokenRow.request_id).in_(request_ids))
            .order_by(col(LinkTokenRow.id))
        ):
            if (request_id, person.id or 0) not in seen:
                seen.add((request_id, person.id or 0))
                addressees.setdefault(request_id, []).append(person)
        keys: set[str] = set()
        sent: dict[int, list[str]] = {}
        for key, subject_id, name, status in session.exec(
            select(RungRow.key, RungRow.request_id, RungRow.rung, RungRow.status).where(
                sa.or_(
                    col(RungRow.request_id).in_(request_ids),
                    col(RungRow.step_record_id).in_(stay_ids),
                )
            )
        ):
            keys.add(key)
            if status == SENT and subject_id is not None:
                sent.setdefault(subject_id, []).append(name)
        return cls(processes, requests, stays, institutions, addressees, keys, sent)


def reminder_context(
    cal: WorkCalendar, process: ProcessRow, rung: RungRow, due_at: datetime, now: datetime
) -> dict[str, Any]:
    today, due_day = cal.local_day(now), cal.local_day(due_at)
    return {
        "rung": rung.rung,
        "overdue": today > due_day,
        "working_days_left": max(cal.between(today, due_day), 0),
        "working_days_overdue": max(cal.between(due_day, today), 0),
        "due_day": f"{due_day:%A %d %B %Y}",
    }


def remind(
    ctx: Context,
    tx: Tx,
    loaded: Batch,
    process: ProcessRow,
    request: RequestRow,
    institution: InstitutionRow,
    cal: WorkCalendar,
    rung: RungRow,
    now: datetime,
) -> list[str]:
    """A reminder to the people the request went to, threaded under it, each with a fresh link."""
    people = loaded.addressees.get(request.id or 0, [])
    if not people:
        return []
    representing: dict[int, PersonRow] = {}
    if request.kind == "vote":
        member = next((p for p in people if p.id == request.focal_point_id), None)
        if member is not None:
            representing = {p.id or 0: member for p in people if p.id != member.id}
    assert request.due_at is not None
    mail_request(
        ctx,
        tx,
        process,
        request,
        institution,
        people,
        now,
        representing=representing,
        thread=[request.message_id] if request.message_id else (),
        dedupe_key=rung.key,
        template="reminder",
        extra={"reminder": reminder_context(cal, process, rung, request.due_at, now)},
    )
    return [p.email for p in people]


def escalate(
    ctx: Context,
    tx: Tx,
    loaded: Batch,
    process: ProcessRow,
    request: RequestRow,
    institution: InstitutionRow,
    cal: WorkCalendar,
    rung: RungRow,
    now: datetime,
) -> list[str]:
    """The institution's IAWG member (and their representatives) and the coordinator are told."""
    members = tx.session.exec(
        select(PersonRow)
        .join(RoleRow, col(RoleRow.person_id) == col(PersonRow.id))
        .where(
            RoleRow.process_id == process.id,
            RoleRow.role == "iawg_member",
            RoleRow.institution_id == institution.id,
            col(RoleRow.active).is_(True),
        )
    ).all()
    today = cal.local_day(now)
    reps = [
        person
        for nomination, person in tx.session.exec(
            select(NominationRow, PersonRow)
            .join(PersonRow, col(PersonRow.id) == col(NominationRow.representative_id))
            .where(
                col(NominationRow.member_id).in_([m.id for m in members]),
                col(NominationRow.revoked).is_(False),
                col(NominationRow.decision_id).is_(None),
            )
        )
        if (nomination.valid_from is None or nomination.valid_from <= today)
        and (nomination.valid_until is None or today <= nomination.valid_until)
    ]
    coordinator = mailings.coordinator(tx, process)
    names = [f"{m.name} (IAWG member)" for m in members] + [
        f"{r.name} (representative)" for r in reps
    ]
    to = [m.email for m in members] + [r.email for r in reps]
    if coordinator["email"]:
        names.append(f"{coordinator['name']} (coordinator)")
        to.append(coordinator["email"])
    to = list(dict.fromkeys(to))
    if not to:
        return []
    assert request.due_at is not None
    earlier = loaded.sent.get(request.id or 0, [])
    focal = [person.name for person in loaded.addressees.get(request.id or 0, [])]
    context = {
        "recipients_names": ", ".join(names),
        "institution": {
            "code": institution.code,
            "name": institution.name,
            "short_name": institution.short_name,
        },
        "request": {
            "id": request.id,
            "kind_label": KINDS[request.kind].label,
            "due_local": mailings.local_time(process, request.due_at),
        },
        "step": {"id": request.step, "title": mailings.step_title(ctx, tx, process, request.step)},
        "reminder": {
            **reminder_context(cal, process, rung, request.due_at, now),
            "sent_local": mailings.local_time(process, request.sent_at),
            "focal_points": ", ".join(dict.fromkeys(focal)) or "its focal point",
            "reminders_sent": sum(1 for name in earlier if name != "escalation"),
            "representatives": bool(reps),
        },
    }
    mailings.send(
        ctx,
        tx,
        process,
        "escalation",
        to,
        context,
        now,
        request_id=request.id,
        thread=[request.message_id] if request.message_id else (),
        dedupe_key=rung.key,
    )
    return to


def alert_step(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    stay: StepRecord,
    cal: WorkCalendar,
    rung: RungRow,
    now: datetime,
) -> list[str]:
    """An overdue step: the coordinator and the chair are told what still blocks it."""
    to = mailings.addresses_for_roles(tx, process, ["coordinator", "chair"])
    if not to or stay.due_at is None:
        return []
    definition = definition_for(ctx, tx.session, process)
    engine = engine_for(definition)
    state = definition.state(stay.step)
    facts = repo.load_facts(tx.session, process, now, reads_of(g.name for g in state.guards))
    due_day = cal.local_day(stay.due_at)
    context = {
        "step": {
            "id": stay.step,
            "title": state.title,
            "due_local": mailings.local_time(process, stay.due_at),
            "working_days_overdue": max(cal.between(due_day, cal.local_day(now)), 0),
            "blockers": engine.blockers(stay.step, facts),
        }
    }
    mailings.send(ctx, tx, process, "step_overdue", to, context, now, dedupe_key=rung.key)
    return to
