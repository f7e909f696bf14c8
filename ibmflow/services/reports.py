"""The deadline report: overdue and upcoming deadlines, responsiveness and step plans, read from the
database at any moment (a read: nothing is written)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from ibmflow import reports as rp
from ibmflow.access import Account
from ibmflow.engine import SUSPENDED
from ibmflow.errors import InvalidCommand
from ibmflow.i18n import _
from ibmflow.requestkinds import KINDS
from ibmflow.services.common import definition_for
from ibmflow.services.context import Context
from ibmflow.services.requests import OPEN
from ibmflow.storage import repository as repo
from ibmflow.storage.queries import reports as reads
from ibmflow.storage.tables import InstitutionRow, ProcessRow, StepRecord

DEFAULT_HORIZON_DAYS = 10
MAX_HORIZON_DAYS = 250
# The processes on one page of the report in the console and the API (the figures are computed per
# process, so a page is bounded by what it shows, not by how many processes there are).
REPORT_PAGE, MAX_REPORT_PAGE = 10, 100
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
    moment = _checked(ctx, at, horizon_days)
    with ctx.db.reading() as session:
        if keys is None:
            rows = reads.processes_page(session, None)
        else:
            unique = dict.fromkeys(k.strip().upper() for k in keys)
            found = {p.key: p for p in reads.processes_page(session, unique)}
            rows = [found.get(key) or repo.get_process(session, key) for key in unique]
        return rp.DeadlineReport(
            at=moment,
            horizon_days=horizon_days,
            processes=reports_of(ctx, session, rows, moment, horizon_days, every=keys is None),
        )


@dataclass(frozen=True)
class ReportPage:
    """One page of the deadline report across an account's processes, and how many there are."""

    report: rp.DeadlineReport
    total: int  # the processes the account follows (an administrator: every process)
    offset: int
    limit: int


def report_page(
    ctx: Context,
    account: Account,
    *,
    offset: int = 0,
    limit: int = REPORT_PAGE,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> ReportPage:
    """The deadline figures now of `limit` of the processes `account` follows (an administrator's:
    oldest first; the others': by key), from `offset`, with their exact total."""
    moment = _checked(ctx, None, horizon_days)
    if offset < 0 or not 1 <= limit <= MAX_REPORT_PAGE:
        raise InvalidCommand(
            _(
                "a page of the report starts at 0 or later and holds 1 to "
                "%(max_report_page)s processes.",
                max_report_page=MAX_REPORT_PAGE,
            )
        )
    keys = None if account.processes is None else account.processes
    if account.disabled:
        keys = frozenset()
    with ctx.db.reading() as session:
        total = reads.count_processes(session, keys)
        rows = reads.processes_page(
            session, keys, offset=offset, limit=limit, by_key=keys is not None
        )
        report = rp.DeadlineReport(
            at=moment,
            horizon_days=horizon_days,
            processes=reports_of(ctx, session, rows, moment, horizon_days),
        )
    return ReportPage(report=report, total=total, offset=offset, limit=limit)


def _checked(ctx: Context, at: datetime | None, horizon_days: int) -> datetime:
    """The report's moment in UTC (now when None), once the horizon is known to be usable."""
    moment = check_moment(ctx.clock.now() if at is None else at)
    if not 0 <= horizon_days <= MAX_HORIZON_DAYS:
        raise InvalidCommand(
            _(
                "the horizon is %(horizon_days)s working days; give 0 to %(max_horizon_days)s.",
                horizon_days=horizon_days,
                max_horizon_days=MAX_HORIZON_DAYS,
            )
        )
    return moment


def check_moment(at: datetime) -> datetime:
    """`at` in UTC; a naive time is refused (it would be read in the machine's time zone)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidCommand(
            _(
                "the moment %(isoformat)s has no time zone; give one, e.g. "
                "2026-01-20T09:00+01:00 or 2026-01-20T08:00Z.",
                isoformat=at.isoformat(),
            )
        )
    return at.astimezone(UTC)


def process_report(
    ctx: Context, session: Session, process: ProcessRow, at: datetime, horizon_days: int
) -> rp.ProcessReport:
    """One process's figures, read in the caller's session (the digest's locked transaction too)."""
    return reports_of(ctx, session, [process], at, horizon_days)[0]


def reports_of(
    ctx: Context,
    session: Session,
    processes: Sequence[ProcessRow],
    at: datetime,
    horizon_days: int,
    *,
    every: bool = False,
) -> tuple[rp.ProcessReport, ...]:
    """The figures of these processes, each table read once for all of them (`every`: they are
    every process, so the reads need no list of ids)."""
    ids = None if every else [p.id or 0 for p in processes]
    stays = reads.stays_by_process(session, ids)
    institutions = reads.institutions_by_process(session, ids)
    requests = reads.requests_by_process(session, ids)
    return tuple(
        _figures(
            ctx,
            session,
            p,
            institutions.get(p.id or 0, []),
            stays.get(p.id or 0, []),
            requests.get(p.id or 0, []),
            at,
            horizon_days,
        )
        for p in processes
    )


def _figures(
    ctx: Context,
    session: Session,
    process: ProcessRow,
    institutions: Sequence[InstitutionRow],
    stays: Sequence[StepRecord],
    requests: Sequence[Any],
    at: datetime,
    horizon_days: int,
) -> rp.ProcessReport:
    """One process's figures from its rows."""
    definition = definition_for(ctx, session, process)
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
        state_title=_("Suspended") if state is None else state.title,
        started_at=process.created_at,
        suspended_from=process.suspended_from if suspended else None,
        finished=state is not None and state.final,
    )
    items = []
    for r in requests:
        institution = by_id[r.institution_id]
        items.append(
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
        [
            rp.Stay(
                id=s.id or 0,
                step=s.step,
                entered_at=s.entered_at,
                due_at=s.due_at,
                left_at=s.left_at,
            )
            for s in stays
        ],
        items,
        calendar=ctx.calendar(process),
        calendars={i.code: ctx.calendar(process, i.weekend) for i in institutions},
        institutions=[(i.code, i.short_name) for i in institutions],
        at=at,
        horizon_days=horizon_days,
    )
