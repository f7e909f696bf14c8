"""The console's pages (server-rendered, no JavaScript): the processes, a process with its timeline,
blockers and the forms that clear them, its audit history, and the captured outgoing mail.

Every page reads through the services; the forms post to `web.actions`.
"""

from __future__ import annotations

import functools
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ibmflow.errors import InvalidCommand, NotFound
from ibmflow.i18n import _
from ibmflow.services import audit_views
from ibmflow.services import console as reads
from ibmflow.services import process_list as listing
from ibmflow.services.audit_log import verify_onward
from ibmflow.services.audit_views import AuditAsked
from ibmflow.services.outgoing import get_mail, list_mail
from ibmflow.web import actions, exports_routes, remind
from ibmflow.web.auth import Caller, Gate, Refusal
from ibmflow.web.paging import page_number, pager
from ibmflow.web.responses import DONE, object_id, process_response

AUDIT_PAGE = 100  # a process's audit events to a page


def _sort_urls(keep: dict[str, str], which: listing.ListFilter) -> dict[str, str]:
    """The link of each sortable column: its sort with the filters kept; the current sort's link
    turns its direction around."""
    filters = {k: v for k, v in keep.items() if k in ("country", "step", "late")}
    urls = {}
    for sort in listing.LIST_SORTS:
        query = {**filters, "sort": sort}
        if sort == which.sort:
            query["dir"] = "asc" if listing.is_descending(which) else "desc"
        urls[sort] = f"/processes?{urlencode(query)}"
    return urls


def install(gate: Gate) -> None:
    """Add the console's pages and actions."""
    ctx = gate.ctx

    @gate.page("GET", "/processes", "view")
    async def process_list(request: Request, caller: Caller) -> Response:
        number, size = page_number(request), listing.LIST_PAGE
        try:
            which = listing.parse_filter(request.query_params)
        except InvalidCommand as exc:
            hint = _("Open the list again and choose from its filter form.")
            raise Refusal(400, _("This list cannot be shown"), exc.message, hint) from None
        found = await run_in_threadpool(
            listing.visible_processes,
            ctx,
            caller.account,
            which,
            offset=(number - 1) * size,
            limit=size,
        )
        choices = await run_in_threadpool(listing.list_choices, ctx, caller.account)
        keep = {
            name: request.query_params[name]
            for name in ("country", "step", "late", "sort", "dir")
            if request.query_params.get(name, "").strip()
        }
        pages = pager("/processes", number, size, found.total, "processes", keep)
        return gate.render(
            "console/processes.html",
            200,
            caller,
            processes=found.processes,
            pages=pages,
            which=which,
            choices=choices,
            keep=keep,
            sort_urls=_sort_urls(keep, which),
            descending=listing.is_descending(which),
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
        asked = AuditAsked.of(request.query_params)
        try:
            found = await run_in_threadpool(
                functools.partial(
                    audit_views.audit_page,
                    ctx,
                    key,
                    asked,
                    (number - 1) * size,
                    size,
                    mail_links=caller.account.may("mail"),
                )
            )
        except NotFound as exc:
            raise Refusal(404, _("No such process"), exc.message) from None
        except InvalidCommand as exc:
            raise Refusal(400, _("These filters cannot be used"), exc.message) from None
        # On from the stored checkpoint only: the whole chain is `audit verify`'s and the worker's.
        chain = await run_in_threadpool(verify_onward, ctx)
        keep = asked.query()
        pages = pager(f"/p/{found.key}/audit", number, size, found.total, "events", keep)
        query = f"?{urlencode(keep)}" if keep else ""
        return gate.render(
            "console/audit.html", 200, caller, log=found, chain=chain, pages=pages, query=query
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
    remind.install(gate)
    exports_routes.install(gate)
