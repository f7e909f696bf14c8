"""The console's downloads: a process's audit history (CSV, JSON) with the audit page's filters,
the answers of a kind of request and the list of requests (CSV, XLSX). All need the "view"
permission; the audit exports stream, a batch of events at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ibmflow.errors import ConfigError, InvalidCommand, NotFound
from ibmflow.i18n import _
from ibmflow.services import answer_sheets, audit_views
from ibmflow.services.audit_views import AuditAsked, AuditExport
from ibmflow.sheets import Sheet, csv_lines, sheet_csv, sheet_xlsx
from ibmflow.web.auth import Caller, Gate, Refusal

CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JSON = "application/json"


def filename(*parts: str) -> str:
    """A download's file name made of safe characters only: "MA-1-audit.csv"."""
    name = "-".join(parts)
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "export"


def _disposition(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def _audit_json(export: AuditExport) -> Iterator[str]:
    """The JSON export written as it is read: the process, its zone, then the events."""
    head = {"process": export.key, "timezone": export.timezone}
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "events": ['
    for n, line in enumerate(export.lines):
        item = json.dumps(audit_views.export_json(line, export.timezone), ensure_ascii=False)
        yield ("\n" if n == 0 else ",\n") + item
    yield "\n]}\n"


def _sheet(sheet: Sheet, fmt: str, name: str) -> Response:
    if fmt == "xlsx":
        try:
            workbook = sheet_xlsx(sheet)
        except ConfigError as exc:
            raise Refusal(503, _("No spreadsheet here"), exc.message) from None
        return Response(workbook, media_type=XLSX, headers=_disposition(f"{name}.xlsx"))
    return Response(sheet_csv(sheet), media_type=CSV, headers=_disposition(f"{name}.csv"))


def install(gate: Gate) -> None:
    """Add the download routes."""
    ctx = gate.ctx

    async def audit_export(request: Request) -> AuditExport:
        key, asked = request.path_params["key"], AuditAsked.of(request.query_params)
        try:
            return await run_in_threadpool(audit_views.audit_export, ctx, key, asked)
        except NotFound as exc:
            raise Refusal(404, _("No such process"), exc.message) from None
        except InvalidCommand as exc:
            raise Refusal(400, _("These filters cannot be used"), exc.message) from None

    @gate.page("GET", "/p/{key}/audit.csv", "view")
    async def audit_csv(request: Request, caller: Caller) -> Response:
        export = await audit_export(request)
        rows = (audit_views.export_row(line, export.timezone) for line in export.lines)
        lines = csv_lines(audit_views.export_header(export.timezone), rows)
        name = filename(export.key, "audit.csv")
        return StreamingResponse(lines, media_type=CSV, headers=_disposition(name))

    @gate.page("GET", "/p/{key}/audit.json", "view")
    async def audit_json(request: Request, caller: Caller) -> Response:
        export = await audit_export(request)
        name = filename(export.key, "audit.json")
        return StreamingResponse(_audit_json(export), media_type=JSON, headers=_disposition(name))

    async def answers(request: Request, fmt: str) -> Response:
        key, kind = request.path_params["key"], request.path_params["kind"]
        try:
            sheet = await run_in_threadpool(answer_sheets.answers_sheet, ctx, key, kind)
        except NotFound as exc:
            raise Refusal(404, _("Not found"), exc.message) from None
        return _sheet(sheet, fmt, filename(key.upper(), "answers", kind))

    @gate.page("GET", "/p/{key}/answers/{kind}.csv", "view")
    async def answers_csv(request: Request, caller: Caller) -> Response:
        return await answers(request, "csv")

    @gate.page("GET", "/p/{key}/answers/{kind}.xlsx", "view")
    async def answers_xlsx(request: Request, caller: Caller) -> Response:
        return await answers(request, "xlsx")

    async def request_list(request: Request, fmt: str) -> Response:
        key = request.path_params["key"]
        try:
            sheet = await run_in_threadpool(answer_sheets.requests_sheet, ctx, key)
        except NotFound as exc:
            raise Refusal(404, _("No such process"), exc.message) from None
        return _sheet(sheet, fmt, filename(key.upper(), "requests"))

    @gate.page("GET", "/p/{key}/requests.csv", "view")
    async def requests_csv(request: Request, caller: Caller) -> Response:
        return await request_list(request, "csv")

    @gate.page("GET", "/p/{key}/requests.xlsx", "view")
    async def requests_xlsx(request: Request, caller: Caller) -> Response:
        return await request_list(request, "xlsx")
