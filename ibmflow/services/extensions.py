"""Deadline extensions: the coordinator moves a request's or the current step's due date later, with a
reason; the rungs not yet sent move with it, those sent are never sent again, and the focal points
are told the new date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ibmflow.calendar import WorkCalendar
from ibmflow.engine import SUSPENDED
from ibmflow.errors import InvalidCommand, NotFound
from ibmflow.i18n import _, format_date
from ibmflow.ladder import REQUEST_SUBJECT, STEP_SUBJECT, Ladder, rungs_after_move
from ibmflow.requestkinds import KINDS
from ibmflow.services.common import definition_for, iso, on_process
from ibmflow.services.context import Context
from ibmflow.services.deadlines import (
    CANCELLED,
    PENDING,
    SENT,
    SKIPPED,
    request_calendar,
    rung_values,
)
from ibmflow.services.mailings import local_time, reply_address, send, step_title
from ibmflow.services.record_views import status_label
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import chase as q
from ibmflow.storage.tables import (
    DeadlineExtensionRow,
    InstitutionRow,
    ProcessRow,
    RequestRow,
    RungRow,
    StepRecord,
)


@dataclass(frozen=True)
class Extension:
    """A deadline moved by the coordinator, and the rungs that now follow."""

    process: str
    subject: str
    old_due_at: datetime | None
    new_due_at: datetime
    new_due_local: str
    reason: str
    rungs: list[tuple[str, date]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "subject": self.subject,
            "old_due_at": iso(self.old_due_at),
            "new_due_at": iso(self.new_due_at),
            "new_due_local": self.new_due_local,
            "reason": self.reason,
            "rungs": [{"rung": name, "day": day.isoformat()} for name, day in self.rungs],
        }


def extend_deadline(
    ctx: Context,
    key: str,
    *,
    reason: str,
    actor: str,
    request_id: int | None = None,
    days: int | None = None,
    to: date | None = None,
) -> Extension:
    """Move a request's due date (or, without `request_id`, the current step's) later by `days`
    working days or to the end of the working day `to`; the rungs not yet sent move with it."""
    _check(reason, days, to)
    with on_process(ctx, key) as (tx, process, now):
        return extend_in(
            ctx,
            tx,
            process,
            now,
            reason=reason,
            actor=actor,
            request_id=request_id,
            days=days,
            to=to,
        )


def extend_in(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    now: datetime,
    *,
    reason: str,
    actor: str,
    request_id: int | None = None,
    days: int | None = None,
    to: date | None = None,
) -> Extension:
    """`extend_deadline` in the caller's transaction on the locked `process` (several requests
    extended at once, all or nothing: `services.bulk`)."""
    _check(reason, days, to)
    definition = definition_for(ctx, tx.session, process)
    if request_id is not None:
        request, institution = _open_request(tx, process, request_id)
        cal = request_calendar(ctx, process, institution)
        ladder = definition.chase.for_kind(request.kind)
        subject, subject_id, old = REQUEST_SUBJECT, request_id, request.due_at
        start_day = cal.local_day(request.sent_at)
        label = f"request:{request_id}"
    else:
        record = _current_stay(tx, process)
        cal, ladder = ctx.calendar(process), definition.chase.default
        subject, subject_id, old = STEP_SUBJECT, record.id or 0, record.due_at
        start_day = cal.local_day(record.entered_at)
        label = f"step:{record.step}"
    new_due = _new_due(cal, old, now, days, to, label)
    due_day = cal.local_day(new_due)
    rungs = replan(tx, process, subject, subject_id, ladder, cal, start_day, due_day, now)
    if request_id is not None:
        request.due_at = new_due
        tx.session.add(request)
        _extend_links(ctx, tx, request_id, new_due)
        _tell_addressees(ctx, tx, process, request, institution, old, now)
    else:
        record.due_at = new_due
        tx.session.add(record)
    tx.session.add(
        DeadlineExtensionRow(
            process_id=process.id or 0,
            request_id=request_id,
            step_record_id=subject_id if subject == STEP_SUBJECT else None,
            old_due_at=old,
            new_due_at=new_due,
            reason=reason.strip(),
            actor=actor,
            created_at=now,
        )
    )
    tx.acting(actor, now, process.key).record(
        "deadline.extended",
        label,
        before={"due_at": iso(old)},
        after={"due_at": iso(new_due), "rungs": [f"{n} {d}" for n, d in rungs]},
        reason=reason.strip(),
    )
    return Extension(
        process.key,
        label,
        old,
        new_due,
        local_time(process, new_due),
        reason.strip(),
        rungs,
    )


def _check(reason: str, days: int | None, to: date | None) -> None:
    if not reason.strip():
        raise InvalidCommand(
            _("a deadline extension needs a reason, e.g. --reason 'minister abroad'.")
        )
    if (days is None) == (to is None):
        raise InvalidCommand(_("give either --days N (working days later) or --to YYYY-MM-DD."))
    if days is not None and days < 1:
        raise InvalidCommand(_("--days must be at least 1 working day."))


def _open_request(
    tx: Tx, process: ProcessRow, request_id: int
) -> tuple[RequestRow, InstitutionRow]:
    request = tx.session.get(RequestRow, request_id)
    if request is None or request.process_id != process.id:
        raise NotFound(
            _(
                "process %(key)s has no request %(request_id)s; `ibmflow request list "
                "%(key)s` shows them.",
                key=process.key,
                request_id=request_id,
            ),
            process=process.key,
        )
    if request.status != "sent":
        raise InvalidCommand(
            _(
                "request %(request_id)s is %(status)s; only an open request's deadline can move.",
                request_id=request_id,
                status=status_label(request.status),
            ),
            process=process.key,
        )
    institution = tx.session.get(InstitutionRow, request.institution_id)
    assert institution is not None
    return request, institution


def _current_stay(tx: Tx, process: ProcessRow) -> StepRecord:
    record = repo.current_step_record(tx.session, process)
    if record is None or process.state == SUSPENDED or record.due_at is None:
        raise InvalidCommand(
            _(
                "process %(key)s is %(state)s: it has no step deadline to extend.",
                key=process.key,
                state=process.state,
            ),
            process=process.key,
            step=process.state,
        )
    return record


def _new_due(
    cal: WorkCalendar,
    old: datetime | None,
    now: datetime,
    days: int | None,
    to: date | None,
    label: str,
) -> datetime:
    base = cal.local_day(old or now)
    if days is not None:
        return cal.end_of(cal.add(base, days))
    assert to is not None
    if not cal.is_working(to):
        raise InvalidCommand(
            _(
                "%(to)s is not a working day for %(label)s (a weekend day or a public "
                "holiday); choose a working day such as %(suggested)s.",
                to=format_date(to, form="full"),
                label=label,
                suggested=cal.next_working(to).isoformat(),
            )
        )
    if to <= base:
        raise InvalidCommand(
            _(
                "%(day)s is not later than the current due day %(due)s; an "
                "extension moves a deadline later.",
                day=to.isoformat(),
                due=base.isoformat(),
            )
        )
    return cal.end_of(to)


def replan(
    tx: Tx,
    process: ProcessRow,
    subject: str,
    subject_id: int,
    ladder: Ladder,
    cal: WorkCalendar,
    start_day: date,
    due_day: date,
    now: datetime,
    *,
    why: str = "deadline extended",
) -> list[tuple[str, date]]:
    """Move the subject's rungs not yet sent to the new due day (those no longer on the ladder are
    cancelled, `why`); sent and superseded rungs stay so, never sent again."""
    if subject == REQUEST_SUBJECT:
        rows = q.rungs_of(tx.session, request_id=subject_id)
    else:
        rows = q.rungs_of(tx.session, stay_id=subject_id)
    existing = {r.rung: r for r in rows}
    # A rung superseded by a later one counts as sent: the overdue rungs go on past it.
    sent = {name for name, r in existing.items() if r.status in (SENT, SKIPPED)}
    planned = rungs_after_move(ladder, cal, start_day, due_day, sent, subject)
    for rung in planned:
        values = rung_values(process, subject, subject_id, rung, cal, ladder)
        row = existing.get(rung.name)
        if row is None:
            tx.session.add(RungRow(**values))
        else:
            row.due_on, row.fire_at, row.status = rung.day, values["fire_at"], PENDING
            row.claimed_by = row.claimed_until = row.outcome = None
            tx.session.add(row)
    names = {r.name for r in planned}
    for name, row in existing.items():
        if row.status == PENDING and name not in names:
            row.status, row.done_at, row.outcome = CANCELLED, now, why
            tx.session.add(row)
    return [(r.name, r.day) for r in planned]


def _extend_links(ctx: Context, tx: Tx, request_id: int, new_due: datetime) -> None:
    """The request's unused links stay valid until the new due date plus the grace period."""
    expires = new_due + timedelta(days=ctx.settings.mail_token_grace_days)
    for token in q.unused_links(tx.session, request_id):
        if token.expires_at < expires:
            token.expires_at = expires
            tx.session.add(token)


def _tell_addressees(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    request: RequestRow,
    institution: InstitutionRow,
    old: datetime | None,
    now: datetime,
) -> None:
    """The people the request went to learn the new due date, under the request's thread (the
    reason stays on the audit chain: it may be internal)."""
    emails = q.link_emails(tx.session, request.id)
    if not emails:
        return
    context = {
        "recipients_count": len(emails),
        "institution": {
            "code": institution.code,
            "name": institution.name,
            "short_name": institution.short_name,
        },
        "request": {
            "id": request.id,
            "kind_label": KINDS[request.kind].source_label,
            "due_at": request.due_at,
            "previous_due_at": old,
        },
        "step": {"id": request.step, "title": step_title(ctx, tx, process, request.step)},
    }
    send(
        ctx,
        tx,
        process,
        "deadline_extended",
        emails,
        context,
        now,
        request_id=request.id,
        reply_to=reply_address(ctx, request.reply_key or ""),
        thread=[request.message_id] if request.message_id else (),
    )
