"""The console's pages (server-rendered, no JavaScript): the processes, a process with its timeline,
blockers and the forms that clear them, its audit history, and the captured outgoing mail.

Every page reads through the services; the forms post to `web.actions`.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ibmflow.errors import NotFound
from ibmflow.i18n import _
from ibmflow.services import console as reads
from ibmflow.services.audit_log import process_log_page, verify_onward
from ibmflow.services.outgoing import get_mail, list_mail
from ibmflow.web import actions
from ibmflow.web.auth import Caller, Gate, Refusal
from ibmflow.web.paging import page_number, pager
from ibmflow.web.responses import DONE, object_id, process_response

AUDIT_PAGE = 100  # a process's audit events to a page


def install(gate: Gate) -> None:
    """Add the console's pages and actions."""
    ctx = gate.ctx

    @gate.page("GET", "/processes", "view")
    async def process_list(request: Request, caller: Caller) -> Response:
        number, size = page_number(request), reads.LIST_PAGE
        found = await run_in_threadpool(
            reads.visible_processes,
            ctx,
            caller.account,
            offset=(number - 1) * size,
            limit=size,
        )
        pages = pager("/processes", number, size, found.total, "processes")
        return gate.render(
            "console/processes.html", 200, caller, processes=found.processes, pages=pages
        )

    @gate.page("GET", "/p/{key}", "view")
    async def process_page(request: Request, caller: Caller) -> Response:
        key = request.path_params["key"]
        done = DONE.get(request.query_params.get("done", ""))
        notice = _(done) if done else None
        return await process_response(gate, request, caller, key, notice=notice)

    @gate.page("GET", "/p/{key}/audit", "view")
    async def audit_page(request: Request, caller: Caller) -> Response:
        key, number, size = request.path_params["key"], page_number(request), AUDIT_PAGE
        try:
            total, events = await run_in_threadpool(
                process_log_page, ctx, key, (number - 1) * size, size
            )
        except NotFound as exc:
            raise Refusal(404, _("No such process"), exc.message) from None
        # On from the stored checkpoint only: the whole chain is `audit verify`'s and the worker's.
        chain = await run_in_threadpool(verify_onward, ctx)
        pages = pager(f"/p/{key}/audit", number, size, total, "events")
        return gate.render(
            "console/audit.html",
            200,
            caller,
            key=key.upper(),
            events=events,
            chain=chain,
            pages=pages,
        )

    @gate.page("GET", "/p/{key}/documents/{doc}", "view")
    async def document(request: Request, caller: Caller) -> Response:
        key, doc = request.path_params["key"], object_id(request, "doc")
        try:
            filename, content = await run_in_threadpool(reads.document_file, ctx, key, doc)
        except NotFound as exc:
            raise Refusal(404, _("Not found"), exc.message) from None
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in filename) or "document"
        return Response(
            content,
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{safe}"'},
        )

    def no_capture() -> None:
        if ctx.settings.smtp_host is not None:
            raise Refusal(
                404,
                _("No captured mail"),
                _(
                    "Mail leaves through the SMTP server %(host)s; only without an SMTP server is "
                    "it captured here.",
                    host=ctx.settings.smtp_host,
                ),
            )

    @gate.page("GET", "/p/{key}/mail", "mail")
    async def mail_list(request: Request, caller: Caller) -> Response:
        no_capture()
        key = request.path_params["key"]
        try:
            mails = await run_in_threadpool(list_mail, ctx, key, None)
        except NotFound as exc:
            raise Refusal(404, _("No such process"), exc.message) from None
        return gate.render(
            "console/mail_list.html",
            200,
            caller,
            key=key.upper(),
            mails=mails,
            mailbox=str(ctx.settings.mailbox_dir),
        )

    @gate.page("GET", "/p/{key}/mail/{mail}", "mail")
    async def mail_page(request: Request, caller: Caller) -> Response:
        no_capture()
        key, number = request.path_params["key"], object_id(request, "mail")
        try:
            row = await run_in_threadpool(get_mail, ctx, number, key)
        except NotFound as exc:
            raise Refusal(404, _("Not found"), exc.message) from None
        return gate.render("console/mail.html", 200, caller, key=key.upper(), mail=row)

    actions.install(gate)
