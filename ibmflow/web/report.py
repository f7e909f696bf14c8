"""The manager's deadline report in the console (with each process's Gantt chart inline), its CSV and
iCalendar downloads, and the same report as JSON under `/api/report`: across every process the
account follows (an administrator: every process)."""

from __future__ import annotations

from typing import Any

from fastapi import Query, Request
from fastapi.responses import Response
from markupsafe import Markup
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ibmflow.access import Account
from ibmflow.charts import gantt_rows, gantt_svg
from ibmflow.errors import IbmflowError
from ibmflow.exports import report_csv, report_ical
from ibmflow.i18n import _
from ibmflow.reports import DeadlineReport
from ibmflow.services import reports
from ibmflow.services.mailings import domain
from ibmflow.services.reports import DEFAULT_HORIZON_DAYS, MAX_HORIZON_DAYS, deadline_report
from ibmflow.web.api import ERRORS
from ibmflow.web.auth import Caller, Gate, Refusal, caller_of
from ibmflow.web.paging import page_number, pager


class ReportOut(BaseModel):
    """The deadline report (see `ibmflow report deadlines --format json` for every field)."""

    at: str = Field(description="The moment of the report, UTC.")
    horizon_days: int = Field(description="What falls due within this many working days.")
    processes: list[dict[str, Any]] = Field(
        description="Per process: overdue_steps, overdue_requests, falling_due, later, "
        "responsiveness (per institution: answered, on_time, late, median_days_late, ...), "
        "steps (the plan against the actual dates) and figures; `limit` of them from `offset`."
    )
    total: int = Field(description="How many processes the caller follows (all pages).")
    offset: int = Field(description="How many processes come before these.")
    limit: int = Field(description="The most processes one answer holds.")


def _horizon(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_HORIZON_DAYS
    if not value.isdigit() or not 0 <= int(value) <= MAX_HORIZON_DAYS:
        raise Refusal(
            400,
            _("This horizon cannot be used"),
            _("Give a whole number of working days from 0 to %(most)s.", most=MAX_HORIZON_DAYS),
        )
    return int(value)


def _keys(account: Account) -> list[str] | None:
    """The processes the report covers: the account's (None: every process)."""
    return None if account.processes is None else sorted(account.processes)


def install(gate: Gate) -> None:
    """Add the report's page, downloads and API route."""
    ctx = gate.ctx

    async def build(account: Account, horizon: int) -> DeadlineReport:
        try:
            return await run_in_threadpool(
                deadline_report, ctx, _keys(account), horizon_days=horizon
            )
        except IbmflowError as exc:
            raise Refusal(400, _("The report cannot be made"), exc.message) from None

    @gate.page("GET", "/report", "report")
    async def report_page(request: Request, caller: Caller) -> Response:
        horizon = _horizon(request.query_params.get("horizon"))
        number = page_number(request)
        try:
            page = await run_in_threadpool(
                reports.report_page,
                ctx,
                caller.account,
                offset=(number - 1) * reports.REPORT_PAGE,
                limit=reports.REPORT_PAGE,
                horizon_days=horizon,
            )
        except IbmflowError as exc:
            raise Refusal(400, _("The report cannot be made"), exc.message) from None
        report = page.report
        charts = {p.key: Markup(gantt_svg(p)) for p in report.processes}
        step_rows = {p.key: gantt_rows(p) for p in report.processes}
        keep = {} if horizon == DEFAULT_HORIZON_DAYS else {"horizon": str(horizon)}
        suffix = "" if not keep else f"?horizon={horizon}"
        pages = pager("/report", number, page.limit, page.total, "processes", keep)
        return gate.render(
            "console/report.html",
            200,
            caller,
            report=report,
            charts=charts,
            step_rows=step_rows,
            horizon=horizon,
            suffix=suffix,
            pages=pages,
        )

    def download(data: bytes, media_type: str, name: str) -> Response:
        return Response(
            data,
            media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @gate.page("GET", "/report.csv", "report")
    async def report_csv_file(request: Request, caller: Caller) -> Response:
        report = await build(caller.account, _horizon(request.query_params.get("horizon")))
        stamp = f"{report.at:%Y%m%d}"
        return download(
            report_csv(report).encode("utf-8"),
            "text/csv; charset=utf-8",
            f"ibmflow-deadlines-{stamp}.csv",
        )

    @gate.page("GET", "/report.ics", "report")
    async def report_ics_file(request: Request, caller: Caller) -> Response:
        report = await build(caller.account, _horizon(request.query_params.get("horizon")))
        return download(
            report_ical(report, host=domain(ctx)),
            "text/calendar; charset=utf-8",
            "ibmflow-deadlines.ics",
        )

    @gate.api(
        "GET",
        "/api/report",
        "report",
        response_model=ReportOut,
        responses=ERRORS,
        tags=["report"],
    )
    async def report_json(
        request: Request,
        horizon: int = Query(
            DEFAULT_HORIZON_DAYS,
            ge=0,
            le=MAX_HORIZON_DAYS,
            description="What falls due within this many working days counts as upcoming.",
        ),
        limit: int = Query(
            reports.REPORT_PAGE,
            ge=1,
            le=reports.MAX_REPORT_PAGE,
            description="The most processes in one answer (`total` says how many there are).",
        ),
        offset: int = Query(0, ge=0, description="How many processes to skip."),
    ) -> Any:
        """The deadline report across the processes the caller follows, a page at a time (an
        administrator's oldest first, the others' by key)."""
        page = await run_in_threadpool(
            reports.report_page,
            ctx,
            caller_of(request).account,
            offset=offset,
            limit=limit,
            horizon_days=horizon,
        )
        return {
            **page.report.to_dict(),
            "total": page.total,
            "offset": page.offset,
            "limit": page.limit,
        }
