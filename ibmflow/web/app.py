"""The web app: the answer-by-link pages, the coordinators' and managers' console, the JSON API.

Answer links (`GET /r/{token}` shows a request and its form, `POST` answers it): the token in the link
is the only capability: there is no listing and no account, and the POST takes nothing but the link
and the answer (never a request id). Looking at a link never consumes it (mail scanners open every
link); answering does, in the service layer. The console (`web.console`, `web.actions`) and the API
(`web.api`) need an account; every route's access is declared to the gate (`web.auth`), which
refuses to build an app with an undeclared route. Every response carries the security headers, and
no page is cached.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from importlib.metadata import version

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from ibmflow import i18n
from ibmflow.errors import (
    ConcurrencyConflict,
    IbmflowError,
    InvalidCommand,
    LinkRefused,
    StorageFailed,
)
from ibmflow.i18n import N_, _
from ibmflow.requestkinds import check_fields
from ibmflow.services.context import Context
from ibmflow.services.documents import Upload
from ibmflow.services.link_language import answer_language
from ibmflow.services.links import LinkView, answer_by_link, view_link
from ibmflow.services.requests import token_hash
from ibmflow.web import api, console, csrf, desk, login, report
from ibmflow.web.auth import Gate
from ibmflow.web.common import (
    FORM_ALLOWANCE,
    LANGUAGE_COOKIE,
    MB,
    ApiBodyLimit,
    BodyTooLarge,
    Language,
    Pages,
    SecurityHeaders,
)
from ibmflow.web.statuses import status_of
from ibmflow.web.uploads import FormUnreadable, Received, read_form

__all__ = ["FORM_ALLOWANCE", "MB", "create_app"]

LOG = logging.getLogger("ibmflow.web")

MAX_FILES = 10
MAX_FIELDS = 50
COOKIE_MAX_AGE_S = 30 * 24 * 3600

# Why a link is refused -> (HTTP status, page heading, what to do; None: the refusal's own words).
REFUSALS: dict[str, tuple[int, str, str | None]] = {
    "unknown": (
        404,
        N_("This link is not valid"),
        N_("This link is not valid. Check that it was copied whole from the mail."),
    ),
    "expired": (
        410,
        N_("This link has expired"),
        N_(
            "This link has expired. Reply to the mail instead, or ask the coordinator for a new link."
        ),
    ),
    "used": (410, N_("This request has already been answered"), None),
    "closed": (410, N_("No answer is needed any more"), None),
}
# Refusals that tell nothing of the addressee: shown in the browser's language.
ANONYMOUS = ("unknown", "expired")


@dataclass
class Given:
    """What the person typed, shown back when the answer is refused."""

    text: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    choice: str = ""
    reason: str = ""
    had_files: bool = False


def create_app(ctx: Context) -> FastAPI:
    """The web app of one deployment (the secret in the data folder is made on first start)."""
    settings = ctx.settings
    secret = csrf.load_secret(settings.data_dir)
    pages = Pages()
    limit_mb = settings.answers_max_upload_mb
    secure_cookie = settings.mail_base_url.startswith("https://")
    app = FastAPI(
        title="ibmflow",
        version=version("ibmflow"),
        summary="The JSON API of ibmflow: the processes of a national IBM strategy, their "
        "requests to focal points and their steps.",
        description=api.DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url=api.OPENAPI_URL,
    )
    app.add_middleware(ApiBodyLimit)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(Language, offered=settings.languages, default=settings.language)
    gate = Gate(app, ctx, secret, pages)
    login.install(gate)
    gate.public("GET", api.OPENAPI_URL)

    def message(status: int, heading: str, *paragraphs: str) -> HTMLResponse:
        return pages.render("message.html", status, heading=heading, paragraphs=paragraphs)

    def refused(exc: LinkRefused, browser: str | None = None) -> HTMLResponse:
        """A refused link's page; a forged or expired link's in the browser's language."""
        reason = exc.reason if exc.reason in REFUSALS else "unknown"
        status, heading, paragraph = REFUSALS[reason]
        if paragraph is not None:
            with i18n.using(browser or i18n.language()):
                return message(status, _(heading), _(paragraph))
        return message(status, _(heading), exc.message)

    def speaking(request: Request, token: str) -> tuple[AbstractContextManager[str], str]:
        """The language of a link's page (an explicit switch, `?lang=` or its cookie, else the
        addressee's, else the browser's) as a `using` block, and the browser's language."""
        browser = i18n.language()  # the Language middleware's choice
        offered = settings.languages
        switched = (
            request.query_params.get("lang") in offered
            or request.cookies.get(LANGUAGE_COOKIE) in offered
        )
        chosen = None if switched else answer_language(ctx, token)
        return i18n.using(chosen or browser), browser

    def form_page(
        view: LinkView,
        status: int = 200,
        *,
        problem: str | None = None,
        given: Given | None = None,
    ) -> HTMLResponse:
        given = given or Given()
        field_problems: dict[str, str] = {}
        if problem and view.fields:
            _fields, found = check_fields(view.kind, given.fields)
            for item in view.fields:
                # "Label: ..." / "Libellé : ...", in the page's language (or in English)
                heads = {item.label, _(item.label)}
                for sentence in found:
                    head, sep, _rest = sentence.partition(":")
                    if sep and head.rstrip(" \u00a0\u202f") in heads:
                        field_problems[item.name] = sentence
        token = csrf.token_for(secret, view.token_hash)
        response = pages.render(
            "answer.html",
            status,
            view=view,
            csrf_field=csrf.FIELD,
            csrf_token=token,
            problem=problem,
            field_problems=field_problems,
            given=given,
            max_mb=limit_mb,
            allowed=settings.answers_allowed_types,
            max_files=MAX_FILES,
        )
        response.set_cookie(
            csrf.cookie_name(secret, view.token_hash),
            token,
            max_age=COOKIE_MAX_AGE_S,
            path=None,  # the browser scopes it to /r (wherever a proxy mounts the app)
            secure=secure_cookie,
            httponly=True,
            samesite="strict",
        )
        return response

    def unavailable(exc: IbmflowError) -> HTMLResponse:
        if isinstance(exc, StorageFailed):
            LOG.error("an answer could not be stored: %s", exc.message)
            return message(
                status_of(exc),
                _("Your answer could not be stored"),
                _("The server has no room for it right now; nothing was recorded."),
                _("Please try again later, or reply to the mail instead."),
            )
        if isinstance(exc, ConcurrencyConflict):
            return message(
                status_of(exc),
                _("Please send your answer again"),
                _("Something changed at the same moment; nothing was recorded."),
                _("Go back, reload the page and send the form again."),
            )
        return message(
            503,
            _("The answer page is not available right now"),
            _("Nothing was recorded. Please try again later, or reply to the mail instead."),
        )

    @gate.public_route("GET", "/healthz")
    def healthz() -> Response:
        """Whether the server runs and reaches its database."""
        try:
            with ctx.db.reading() as session:
                session.connection().execute(sa.text("SELECT 1"))
        except (IbmflowError, sa.exc.SQLAlchemyError):
            return JSONResponse({"status": "database unreachable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @gate.public_route("GET", "/r/{token}", also=("HEAD",))
    def show(token: str, request: Request) -> Response:
        """The request behind a link and its form, in the addressee's language; looking never
        consumes the link."""
        block, browser = speaking(request, token)
        with block:
            try:
                return form_page(view_link(ctx, token))
            except LinkRefused as exc:
                return refused(exc, browser)
            except IbmflowError as exc:
                return unavailable(exc)

    @gate.public_route("GET", "/r/{token}/done")
    def done(token: str, request: Request) -> Response:
        """The thank-you page after an answer, in the addressee's language (back to the form while
        the link is still open)."""
        block, browser = speaking(request, token)
        with block:
            try:
                view_link(ctx, token)
            except LinkRefused as exc:
                if exc.reason == "used":
                    return message(
                        200,
                        _("Thank you: your answer is recorded"),
                        _("The coordinator sees it now, and a receipt was sent to you by mail."),
                        _(
                            "You can close this page. To correct something, write to the "
                            "coordinator."
                        ),
                    )
                return refused(exc, browser)
            except IbmflowError as exc:
                return unavailable(exc)
        return RedirectResponse(f"../{token}", status_code=303)

    @gate.public_route("POST", "/r/{token}")
    async def answer(token: str, request: Request) -> Response:
        """Record the answer sent from a link's form (CSRF-checked; files streamed to disk, the
        cap checked as they arrive). A link that cannot be answered is refused before the body is
        read: only an open link takes files. Pages answer in the addressee's language."""
        block, browser = await run_in_threadpool(speaking, request, token)
        with block:
            return await _answer_in_language(token, request, browser)

    async def _answer_in_language(token: str, request: Request, browser: str) -> Response:
        link_hash = token_hash(token)
        try:
            await run_in_threadpool(view_link, ctx, token)
        except (LinkRefused, IbmflowError) as exc:
            early = refused(exc, browser) if isinstance(exc, LinkRefused) else unavailable(exc)
            if "content-length" not in request.headers:  # an unread body of no known end
                early.headers["Connection"] = "close"
            return early
        try:
            async with read_form(
                request,
                folder=ctx.documents.incoming,
                files_cap=limit_mb * MB,
                fields_cap=FORM_ALLOWANCE,
                max_files=MAX_FILES,
                max_fields=MAX_FIELDS,
            ) as form:
                if not csrf.verify(
                    secret,
                    link_hash,
                    _text(form.fields, csrf.FIELD),
                    request.cookies.get(csrf.cookie_name(secret, link_hash)),
                ):
                    return message(
                        403,
                        _("This form cannot be accepted"),
                        _(
                            "Nothing was recorded: the form did not come from this link's page "
                            "in this browser (or cookies are blocked)."
                        ),
                        _("Open the link from the mail again and send the form from that page."),
                    )
                given, uploads = _read_answer(form)
                return await _record(token, given, uploads, browser)
        except BodyTooLarge as exc:
            page = await _again(
                token,
                413,
                _(
                    "Nothing was recorded: your files are larger than %(mb)s MB in all. Send "
                    "smaller files, or send them by replying to the mail.",
                    mb=i18n.format_number(limit_mb),
                ),
                browser,
            )
            if exc.close:  # the rest of the body was not read and has no known end
                page.headers["Connection"] = "close"
            return page
        except FormUnreadable as exc:  # a malformed form, too many files or fields
            return await _again(
                token,
                400,
                _("Nothing was recorded: the form could not be read (%(why)s).", why=str(exc)),
                browser,
            )
        except StorageFailed as exc:
            return unavailable(exc)

    async def _record(token: str, given: Given, uploads: list[Upload], browser: str) -> Response:
        try:
            view = await run_in_threadpool(view_link, ctx, token)
        except LinkRefused as exc:
            return refused(exc, browser)
        except IbmflowError as exc:
            return unavailable(exc)
        try:
            await run_in_threadpool(_answer, ctx, token, given, uploads)
        except LinkRefused as exc:
            return refused(exc, browser)
        except InvalidCommand as exc:
            return form_page(view, 400, problem=exc.message, given=given)
        except IbmflowError as exc:
            return unavailable(exc)
        return RedirectResponse(f"{token}/done", status_code=303)

    async def _again(token: str, status: int, problem: str, browser: str) -> Response:
        try:
            view = await run_in_threadpool(view_link, ctx, token)
        except LinkRefused as exc:
            return refused(exc, browser)
        except IbmflowError as exc:
            return unavailable(exc)
        return form_page(view, status, problem=problem)

    console.install(gate)
    api.install(gate)
    report.install(gate)
    desk.install(gate)
    gate.seal()
    return app


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _read_answer(form: Received) -> tuple[Given, list[Upload]]:
    """The answer in a posted form: text, structured fields (`f_<name>`), vote, files."""
    fields = {
        key.removeprefix("f_"): value
        for key, value in form.fields.multi_items()
        if key.startswith("f_") and isinstance(value, str)
    }
    uploads = form.uploads("files")
    given = Given(
        text=_text(form.fields, "text"),
        fields=fields,
        choice=_text(form.fields, "choice"),
        reason=_text(form.fields, "reason"),
        had_files=bool(uploads),
    )
    return given, uploads


def _answer(ctx: Context, token: str, given: Given, uploads: Sequence[Upload]) -> int:
    """Hand the answer to the intake: the form's fields, a ballot's `choice` among them and its
    `reason` as the text (the names the vote form uses)."""
    fields = {**given.fields, **({"choice": given.choice} if given.choice else {})}
    return answer_by_link(
        ctx, token, text=given.text or given.reason, fields=fields, uploads=uploads
    )
