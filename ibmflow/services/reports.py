"""The deadline report: overdue and upcoming deadlines, responsiveness and step plans, read from the
database at any moment (a read: nothing is written)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlmodel import Session

from ibmflow import reports as rp
from ibmflow.engine import SUSPENDED
from ibmflow.errors import InvalidCommand
from ibmflow.requestkinds import KINDS
from ibmflow.services.common import definition_for
from ibmflow.services.context import Context
from ibmflow.services.requests import OPEN
from ibmflow.storage import repository as repo
from ibmflow.storage.queries import processes as queries
from ibmflow.storage.tables import ProcessRow

DEFAULT_HORIZON_DAYS = 10
MAX_HORIZON_DAYS = 250
# How a stored request status counts in the figures (withdrawn, waived and closed count nowhere).
_COUNTS_AS = {OPEN: rp.OPEN, "answered": rp.ANSWERED}


def deadline_report(
    ctx: Context,
    keys: Sequence[str] | None = None,
    *,
    at: datetime | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> rp.DeadlineReport:
    """The deadline figures of the processes named by `keys` (every process when None), at `at`
    (now when None), with what falls due within `horizon_days` working days."""
    moment = check_moment(ctx.clock.now() if at is None else at)
    if not 0 <= horizon_days <= MAX_HORIZON_DAYS:
        raise InvalidCommand(
            f"the horizon is {horizon_days} working days; give 0 to {MAX_HORIZON_DAYS}."
        )
    with ctx.db.reading() as session:
        if keys is None:
            rows = queries.all_processes(session)
        else:
            unique = dict.fromkeys(k.strip().upper() for k in keys)
            rows = [repo.get_process(session, key) for key in unique]
        return rp.DeadlineReport(
            at=moment,
            horizon_days=horizon_days,
            processes=tuple(
                process_report(ctx, session, row, moment, horizon_days) for row in rows
            ),
        )


def check_moment(at: datetime) -> datetime:
    """`at` in UTC; a naive time is refused (it would be read in the machine's time zone)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidCommand(
            f"the moment {at.isoformat()} has no time zone; give one, e.g. "
            "2026-01-20T09:00+01:00 or 2026-01-20T08:00Z."
        )
    return at.astimezone(UTC)


def process_report(
    ctx: Context, session: Session, process: ProcessRow, at: datetime, horizon_days: int
) -> rp.ProcessReport:
    """One process's figures, read in the caller's session (the digest's locked transaction too)."""
    definition = definition_for(ctx, session, process)
    institutions = repo.institutions(session, process)
    by_id = {i.id: i for i in institutions}
    suspended = process.state == SUSPENDED
    state = None if suspended else definition.state(process.state)
    info = rp.ProcessInfo(
        key=process.key,
        title=process.title,
        workflow=process.workflow_id,
        workflow_version=process.workflow_version,
        country=process.country,
        timezone=process.timezone,
        state=process.state,
        state_title="Suspended" if state is None else state.title,
        started_at=process.created_at,
        suspended_from=process.suspended_from if suspended else None,
        finished=state is not None and state.final,
    )
    stays = [
        rp.Stay(
            id=s.id or 0, step=s.step, entered_at=s.entered_at, due_at=s.due_at, left_at=s.left_at
        )
        for s in repo.step_records(session, process)
    ]
    requests = []
    for r in queries.requests_of(session, process.id):
        institution = by_id[r.institution_id]
        requests.append(
            rp.RequestItem(
                id=r.id or 0,
                kind=r.kind,
                label=KINDS[r.kind].label if r.kind in KINDS else r.kind,
                step=r.step,
                institution=institution.code,
                institution_name=institution.short_name,
                sent_at=r.sent_at,
                due_at=r.due_at,
                answered_at=r.answered_at,
                status=_COUNTS_AS.get(r.status, rp.CLOSED),
            )
        )
    return rp.process_report(
        info,
        [rp.StepInfo(s.id, s.title, s.target_days) for s in definition.steps],
        stays,
        requests,
        calendar=ctx.calendar(process),
        calendars={i.code: ctx.calendar(process, i.weekend) for i in institutions},
        institutions=[(i.code, i.short_name) for i in institutions],
        at=at,
        horizon_days=horizon_days,
    )
