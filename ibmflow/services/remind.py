"""Reminding a request by hand ("Remind now"): one reminder outside the ladder, the very mail the
ladder's reminder is (`rung_mail`), threaded under the request's mail, audited, and counted as that
day's reminder so that the ladder does not ring the request again the same day.

A reminder by hand is a rung of its own, `manual:DAY`, written as sent: its unique key allows one a
request a local day. The ladder's reminder rungs due that day (or due earlier and never rung) are
marked skipped, "reminded by hand", and the next overdue rung is planned, as a sweep's catch-up
does; a sweep leaves a request reminded by hand today alone (`chase_ring`). Escalations are not
reminders: they still go up on their day.

The preview is the same reminder written in a transaction that is rolled back: what it shows is what
`remind_now` sends, to the letter, but the personal answer links, shown shortened.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from ibmflow.calendar import WorkCalendar
from ibmflow.errors import InvalidCommand, NotFound
from ibmflow.i18n import _, ngettext
from ibmflow.ladder import ESCALATION, REQUEST_SUBJECT, Ladder, Rung, catch_up
from ibmflow.requestkinds import KINDS
from ibmflow.services import languages, outbox
from ibmflow.services.chase_batch import Batch
from ibmflow.services.common import definition_for, iso, on_process, require_step
from ibmflow.services.context import Context
from ibmflow.services.deadlines import (
    PENDING,
    SENT,
    SKIPPED,
    manual_rung,
    request_calendar,
    rung_key,
    rung_values,
)
from ibmflow.services.record_views import status_label
from ibmflow.services.requests import OPEN
from ibmflow.services.rung_mail import Item, reminder, write_mails
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import chase as q
from ibmflow.storage.tables import InstitutionRow, ProcessRow, RequestRow, RungRow

BY_HAND = "reminded by hand"


@dataclass(frozen=True)
class ReminderMail:
    """One mail of a reminder: to whom, in which language, its subject and plain-text body."""

    to: tuple[str, ...]
    names: tuple[str, ...]
    language: str
    subject: str
    text: str
    in_reply_to: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "to": list(self.to),
            "names": list(self.names),
            "language": self.language,
            "subject": self.subject,
            "text": self.text,
            "in_reply_to": self.in_reply_to,
        }


@dataclass(frozen=True)
class Reminded:
    """A request reminded by hand (or, for a preview, that would be): its mails, and the ladder's
    rungs it stands in for that day."""

    process: str
    request_id: int
    kind_label: str  # the English label (a page translates it)
    institution: str
    due_at: datetime | None
    zone: str
    mails: tuple[ReminderMail, ...]
    stands_for: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "request": self.request_id,
            "kind": self.kind_label,
            "institution": self.institution,
            "due_at": iso(self.due_at),
            "mails": [m.to_dict() for m in self.mails],
            "stands_for": list(self.stands_for),
        }


class _Preview(Exception):
    """Raised inside a preview's transaction so that nothing it wrote is kept."""

    def __init__(self, reminded: Reminded) -> None:
        super().__init__("preview")
        self.reminded = reminded


def preview(ctx: Context, key: str, request_id: int, actor: str) -> Reminded:
    """The mails `remind_now` would send for the request now, exactly (the answer links shortened:
    they are personal); nothing is written. Refused as `remind_now` would be."""
    try:
        with on_process(ctx, key) as (tx, process, now):
            (reminded,) = remind_in(ctx, tx, process, now, [request_id], actor=actor)
            raise _Preview(reminded)
    except _Preview as done:
        base = re.escape(ctx.settings.mail_base_url)
        link = re.compile(rf"({base}/r/)[A-Za-z0-9_-]+")
        mails = tuple(replace(m, text=link.sub(r"\1…", m.text)) for m in done.reminded.mails)
        return replace(done.reminded, mails=mails)


def remind_now(
    ctx: Context, key: str, request_id: int, actor: str, reason: str | None = None
) -> Reminded:
    """Send one reminder of an open request now, outside the ladder, in one transaction: the mail
    (threaded under the request's), the audit event and the day's rung."""
    with on_process(ctx, key) as (tx, process, now):
        (reminded,) = remind_in(ctx, tx, process, now, [request_id], actor=actor, reason=reason)
        return reminded


def remind_in(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    now: datetime,
    request_ids: Sequence[int],
    *,
    actor: str,
    reason: str | None = None,
) -> list[Reminded]:
    """Remind these requests of the locked `process` by hand in the caller's transaction: a person
    several of them went to gets one mail listing them (the ladder's digest)."""
    require_step(process, doing=_("reminding a request"))
    requests = open_requests(tx, process, request_ids, doing=_("reminded"))
    manual: dict[int, tuple[RungRow, WorkCalendar]] = {}
    institutions = q.institutions_by_id(tx.session, (r.institution_id for r in requests))
    for request in requests:
        cal = request_calendar(ctx, process, institutions[request.institution_id])
        today = cal.local_day(now)
        name = manual_rung(today)
        row = RungRow(
            key=rung_key(REQUEST_SUBJECT, request.id or 0, name),
            process_id=process.id or 0,
            request_id=request.id,
            rung=name,
            due_on=today,
            fire_at=now,
            status=SENT,
            done_at=now,
            outcome=f"sent by hand by {actor}"[:500],
        )
        manual[request.id or 0] = (row, cal)
    loaded = Batch.of(tx, [row for row, _ in manual.values()])
    for request in requests:
        row, cal = manual[request.id or 0]
        if row.key in loaded.keys:
            raise InvalidCommand(
                _(
                    "request #%(id)s was already reminded by hand today (%(day)s); the ladder "
                    "sends its next reminder on its day.",
                    id=request.id,
                    day=row.due_on.isoformat(),
                ),
                process=process.key,
            )
    definition = definition_for(ctx, tx.session, process)
    ladder_rows: dict[int, list[RungRow]] = {}
    for rung in q.rungs_of_requests(tx.session, manual):
        ladder_rows.setdefault(rung.request_id or 0, []).append(rung)
    items: list[Item] = []
    stands_for: dict[int, list[str]] = {}
    for request in requests:
        row, cal = manual[request.id or 0]
        institution = institutions[request.institution_id]
        item = reminder(ctx, tx, loaded, process, request, institution, cal, row, now)
        if not item.people:
            raise InvalidCommand(
                _(
                    "request #%(id)s was mailed to nobody: there is nobody to remind.",
                    id=request.id,
                ),
                process=process.key,
            )
        ladder = definition.chase.for_kind(request.kind)
        stands_for[request.id or 0] = _stand_in(
            tx, process, request, cal, ladder, ladder_rows.get(request.id or 0, []), now
        )
        tx.session.add(row)
        items.append(item)
    write_mails(ctx, tx, loaded, process, items, now)
    loaded.mails.write(tx)  # the mails and their link tokens, kept by the batch as a sweep's are
    tx.session.flush()  # the rungs by hand get their ids
    q.record_chase_mails(
        tx.session,
        [(rung.id or 0, person_id, message_id) for rung, person_id, message_id in loaded.carried],
    )
    return _reminded(
        ctx, tx, process, now, requests, institutions, loaded, stands_for, actor, reason
    )


def open_requests(
    tx: Tx, process: ProcessRow, request_ids: Sequence[int], *, doing: str
) -> list[RequestRow]:
    """The requests of `request_ids`, each once, in that order: every one of `process` (else
    NotFound names those that are not) and open (else InvalidCommand says which is not, and why);
    `doing` says what only an open request can be ("reminded")."""
    ids = list(dict.fromkeys(request_ids))
    found = q.requests_by_id(tx.session, ids)
    foreign = [i for i in ids if i not in found or found[i].process_id != process.id]
    if foreign:
        raise NotFound(
            ngettext(
                "There is no request %(ids)s in process %(key)s; nothing was done.",
                "There are no requests %(ids)s in process %(key)s; nothing was done.",
                len(foreign),
                ids=", ".join(f"#{i}" for i in foreign),
                key=process.key,
            ),
            process=process.key,
        )
    for request in (found[i] for i in ids):
        if request.status != OPEN:
            raise InvalidCommand(
                _(
                    "request #%(id)s is %(status)s; only a pending request can be %(doing)s. "
                    "Nothing was done.",
                    id=request.id,
                    status=status_label(request.status),
                    doing=doing,
                ),
                process=process.key,
            )
    return [found[i] for i in ids]


def _stand_in(
    tx: Tx,
    process: ProcessRow,
    request: RequestRow,
    cal: WorkCalendar,
    ladder: Ladder,
    rows: list[RungRow],
    now: datetime,
) -> list[str]:
    """Mark the request's reminder rungs due today (or due earlier, never rung) skipped: the
    reminder by hand stands in for them; plan the next overdue rung, as a sweep's catch-up does.
    Returns the names of the rungs it stands in for."""
    today = cal.local_day(now)
    due = [r for r in rows if r.status == PENDING and r.rung != ESCALATION and r.due_on <= today]
    if not due or request.due_at is None:
        return []
    due_day: date = cal.local_day(request.due_at)
    plan = catch_up(ladder, cal, due_day, [Rung(r.due_on, r.rung) for r in due], today)
    existing = {r.rung: r for r in rows}
    names = []
    for rung in (*plan.superseded, plan.send):
        row = existing.get(rung.name)
        if row is None:
            row = RungRow(
                **rung_values(process, REQUEST_SUBJECT, request.id or 0, rung, cal, ladder)
            )
        elif row.status == SENT:
            continue
        row.status, row.done_at, row.outcome = SKIPPED, now, BY_HAND
        row.claimed_by = row.claimed_until = None
        tx.session.add(row)
        names.append(rung.name)
    if plan.follow is not None and plan.follow.name not in existing:
        values = rung_values(process, REQUEST_SUBJECT, request.id or 0, plan.follow, cal, ladder)
        tx.session.add(RungRow(**values))
    return names


def _reminded(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    now: datetime,
    requests: list[RequestRow],
    institutions: dict[int, InstitutionRow],
    loaded: Batch,
    stands_for: dict[int, list[str]],
    actor: str,
    reason: str | None,
) -> list[Reminded]:
    """What was written for each request: its mails (as the outbox holds them), and the audit event
    `request.reminded`."""
    people = {p.id: p for ps in loaded.addressees.values() for p in ps}
    carried: dict[int, list[tuple[int, str]]] = {}
    for rung, person_id, message_id in loaded.carried:
        carried.setdefault(rung.request_id or 0, []).append((person_id, message_id))
    rows = q.mails_by_message_id(tx.session, [m for _, _, m in loaded.carried])
    out = []
    acting = tx.acting(actor, now, process.key)
    for request in requests:
        mails = []
        for person_id, message_id in carried.get(request.id or 0, []):
            person, mail = people[person_id], rows[message_id]
            text = outbox.text_of(ctx, mail)  # as the dispatcher will render it
            mails.append(
                ReminderMail(
                    to=tuple(mail.to_addrs),
                    names=(person.name,),
                    language=languages.of_person(ctx, tx, process, person),
                    subject=text.subject,
                    text=text.text,
                    in_reply_to=mail.in_reply_to,
                )
            )
        names = stands_for.get(request.id or 0, [])
        acting.record(
            "request.reminded",
            f"request:{request.id}",
            after={"to": [a for m in mails for a in m.to], "stands_for": list(names)},
            reason=(reason or "").strip() or None,
        )
        out.append(
            Reminded(
                process.key,
                request.id or 0,
                KINDS[request.kind].source_label,
                institutions[request.institution_id].name,
                request.due_at,
                process.timezone,
                tuple(mails),
                tuple(names),
            )
        )
    return out
