"""The weekly digest: each manager of a running process gets its deadline figures by mail, at most
once per process, manager and ISO week (of the process's time zone)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from ibmflow import i18n
from ibmflow.engine import SUSPENDED
from ibmflow.reports import Deadline, ProcessReport
from ibmflow.services import languages, mailings
from ibmflow.services.common import definition_for
from ibmflow.services.context import Context
from ibmflow.services.reports import DEFAULT_HORIZON_DAYS, check_moment, process_report
from ibmflow.storage import repository as repo
from ibmflow.storage.queries import mail, roster
from ibmflow.storage.tables import PersonRow, ProcessRow

KIND = "digest"
ACTOR = "system:digest"


@dataclass(frozen=True)
class DigestSent:
    """One digest written to the outbox."""

    process: str
    week: str  # ISO week, e.g. "2026-W04"
    recipient: str
    message_id: str
    dedupe_key: str
    figures: dict[str, int] = field(default_factory=dict)


def iso_week(moment: datetime, timezone: str) -> str:
    """The ISO week of a moment in a time zone, e.g. "2026-W04"."""
    year, week, _ = moment.astimezone(ZoneInfo(timezone)).isocalendar()
    return f"{year}-W{week:02d}"


def dedupe_key(process: str, week: str, person_id: int) -> str:
    """The outbox key that lets a digest be written once per process, week and manager."""
    return f"digest:{process}:{week}:{person_id}"


def send_digests(
    ctx: Context,
    now: datetime,
    *,
    keys: Sequence[str] | None = None,
    actor: str = ACTOR,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> list[DigestSent]:
    """Write this week's digest for every manager of every running process (or of `keys`) who has
    not had it yet; adopted and otherwise finished processes get none. Safe to run from two
    workers at once: each process is handled in one transaction with its row locked, and a digest
    already in the outbox for that week is skipped."""
    now = check_moment(now)
    with ctx.db.reading() as session:
        if keys is None:
            names = list(repo.process_keys(session).values())
        else:
            names = [repo.get_process(session, key).key for key in dict.fromkeys(keys)]
    sent: list[DigestSent] = []
    for name in names:
        sent += _send_for(ctx, name, now, actor, horizon_days)
    return sent


def _send_for(
    ctx: Context, key: str, now: datetime, actor: str, horizon_days: int
) -> list[DigestSent]:
    with ctx.db.transaction() as tx:
        process = repo.get_process(tx.session, key, lock=True)
        definition = definition_for(ctx, tx.session, process)
        if process.state != SUSPENDED and definition.state(process.state).final:
            return []
        week = iso_week(now, process.timezone)
        managers = _managers(tx.session, process)
        wanted = {dedupe_key(process.key, week, m.id or 0): m for m in managers}
        already = mail.dedupe_keys_taken(tx.session, wanted)
        due = {k: m for k, m in wanted.items() if k not in already}
        if not due:
            return []
        report = process_report(ctx, tx.session, process, now, horizon_days)
        # The report's texts (step titles, labels) are worded in each manager's language: the
        # report is read again inside each language a manager reads.
        bases: dict[str, dict[str, Any]] = {}
        sent = []
        for k, manager in due.items():
            lang = languages.of_person(ctx, tx, process, manager)
            if lang not in bases:
                with i18n.using(lang):
                    worded = process_report(ctx, tx.session, process, now, horizon_days)
                    bases[lang] = digest_context(worded, week)
            context = {**bases[lang], "recipient": {"name": manager.name, "email": manager.email}}
            message_id = mailings.send(
                ctx, tx, process, KIND, [manager.email], context, now, dedupe_key=k, language=lang
            )
            sent.append(
                DigestSent(process.key, week, manager.email, message_id, k, report.figures())
            )
        tx.acting(actor, now, process.key).record(
            "digest.sent",
            f"process:{process.key}",
            after={
                "week": week,
                "recipients": [s.recipient for s in sent],
                "figures": dict(report.figures()),
            },
        )
        return sent


def _managers(session: Session, process: ProcessRow) -> list[PersonRow]:
    """The people holding the manager role in the process, in the order they got it."""
    ids = list(dict.fromkeys(r.person_id for r in repo.active_roles(session, process, "manager")))
    people = roster.people_by_id(session, ids)
    return [people[i] for i in ids if i in people]


# --- what the templates see --------------------------------------------------------------------


def digest_context(report: ProcessReport, week: str) -> dict[str, Any]:
    """The digest's figures for the templates (the report's, nothing else): moments, days and
    numbers as they are, formatted by the templates in the reader's language."""

    def line(d: Deadline) -> dict[str, Any]:
        return {
            "kind": d.kind,
            "step_title": d.step_title,
            "request_label": d.request_label,
            "institution_name": d.institution_name,
            "request_id": d.request_id,
            "due": d.due_day,
            "days_overdue": d.working_days_overdue,
            "days_left": d.working_days_left,
        }

    return {
        "week": week,
        "at": report.at,
        "zone": report.timezone,
        "state_title": report.state_title,
        "suspended": report.suspended,
        "horizon_days": report.horizon_days,
        "figures": report.figures(),
        "overdue": [line(d) for d in report.overdue_steps + report.overdue_requests],
        "falling_due": [line(d) for d in report.falling_due],
        "responsiveness": [
            {
                "name": r.name,
                "answered": r.answered,
                "on_time": r.on_time,
                "due_passed": r.due_passed,
                "share": r.on_time_share,
                "median": r.median_days_late,
                "open_overdue": r.open_overdue,
            }
            for r in report.responsiveness
        ],
    }
