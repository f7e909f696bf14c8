"""The gate every route goes through: who is calling, may they see this process, may their role do
this, did the form come from our page. Deny by default: the app refuses to start with a route whose
access was not declared here, and the access matrix test walks the same declarations.

Browsers authenticate with a session cookie (HttpOnly, SameSite=Lax, Secure over HTTPS; set by
`web.login`) and every console form carries a CSRF token bound to the session. The JSON API authenticates with
`Authorization: Bearer <token>` only: a cookie never authenticates `/api`, so it needs no CSRF token.
An object of a process the caller may not see is answered 404, as if it did not exist.

What the gate answers instead (`Refusal`, `LoginNeeded`) is in `web.refusals`, the reading of posted
forms in `web.forms`; both are importable from here too.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.routing import Route

from ibmflow.access import ADMINISTRATOR, Account
from ibmflow.i18n import N_, _
from ibmflow.services.accounts import secret_hash
from ibmflow.services.attention import NAVIGATION_CAP
from ibmflow.services.console import belongs
from ibmflow.services.context import Context
from ibmflow.services.documents import Upload
from ibmflow.services.sessions import session_account, token_account
from ibmflow.web import csrf, forms
from ibmflow.web.common import FORM_ALLOWANCE, Pages
from ibmflow.web.forms import text_field as text_field
from ibmflow.web.refusals import LoginNeeded as LoginNeeded
from ibmflow.web.refusals import Refusal as Refusal
from ibmflow.web.statuses import http_error_of

SESSION_COOKIE = "ibmflow_session"
LOGIN_COOKIE = "ibmflow_login"
LANDING = "/attention"  # the page after logging in: what needs the account's attention
# Path parameters that name an object of the process in `{key}`, and the kind of object.
OBJECT_PARAMS = {
    "rid": "request",
    "did": "decision",
    "iid": "inbound",
    "mail": "mail",
    "doc": "document",
}
OTHER_PARAMS = frozenset({"key", "token", "kind"})  # kind: a request kind, checked by its route
# What a refusal says of an object that is not in the process, by kind.
NOT_IN_PROCESS = {
    "request": N_("There is no request %(id)s in process %(key)s."),
    "decision": N_("There is no decision %(id)s in process %(key)s."),
    "inbound": N_("There is no received mail %(id)s in process %(key)s."),
    "mail": N_("There is no mail %(id)s in process %(key)s."),
    "document": N_("There is no document %(id)s in process %(key)s."),
}
Handler = Callable[[Request, "Caller"], Awaitable[Response]]
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API token made with `ibmflow user token EMAIL`.",
)


@dataclass(frozen=True)
class Caller:
    """Who is calling, the CSRF token of their session's forms, and the form they posted (its files
    on disk until the request ends)."""

    account: Account
    csrf_token: str = ""
    form: FormData | None = None
    files: tuple[tuple[str, Upload], ...] = ()
    # What the navigation counts for this account ("Needs my attention (N)"); None: not counted.
    attention: int | None = None

    def field(self, name: str) -> str:
        """A text field of the posted form ("" when absent)."""
        value = self.form.get(name) if self.form is not None else None
        return value if isinstance(value, str) else ""

    def upload(self, name: str) -> Upload | None:
        """The first file sent in field `name` (None when none was chosen)."""
        return next((upload for field, upload in self.files if field == name), None)


def caller_of(request: Request) -> Caller:
    """The caller the gate let through (for API handlers)."""
    caller = request.state.caller
    assert isinstance(caller, Caller)
    return caller


def safe_next(target: str) -> str:
    """A local path to go back to after logging in (never another site)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return LANDING


class Gate:
    """Declares and enforces every route's access (see the module's docstring)."""

    def __init__(self, app: FastAPI, ctx: Context, secret: bytes, pages: Pages) -> None:
        self.app, self.ctx, self.secret, self.pages = app, ctx, secret, pages
        # (method, path) -> the permission it needs; None: public.
        self.access: dict[tuple[str, str], str | None] = {}
        # The count every page's navigation shows, read once per page view (set by `web.desk`).
        self.header_count: Callable[[Account], int] | None = None
        app.state.gate = self
        app.add_exception_handler(Refusal, self._refused)
        app.add_exception_handler(LoginNeeded, self._to_login)

    # --- declaring routes -------------------------------------------------------------------------

    def public(self, method: str, path: str) -> None:
        """Declare a route that needs no account (login, answer links, health, the API's schema)."""
        self.access[(method, path)] = None

    def public_route(
        self, method: str, path: str, *, also: tuple[str, ...] = ()
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Add a public route (hidden from the API's schema)."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            for each in (method, *also):
                self.public(each, path)
            self.app.add_api_route(
                path, fn, methods=[method, *also], include_in_schema=False, name=fn.__name__
            )
            return fn

        return register

    def page(
        self, method: str, path: str, permission: str, *, upload: bool = False
    ) -> Callable[[Handler], Handler]:
        """Add a console route: session, process, role, and for a POST the CSRF token and the
        body cap are checked before the handler runs."""

        def register(fn: Handler) -> Handler:
            async def endpoint(request: Request) -> Response:
                async with self._console(request, permission, upload) as caller:
                    return await fn(request, caller)

            self.access[(method, path)] = permission
            self.app.add_api_route(
                path, endpoint, methods=[method], include_in_schema=False, name=fn.__name__
            )
            return fn

        return register

    def api(
        self, method: str, path: str, permission: str, **options: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Add a JSON API route: bearer token, process and role checked first."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.access[(method, path)] = permission
            self.app.add_api_route(
                path,
                fn,
                methods=[method],
                dependencies=[Depends(self._api(permission))],
                **options,
            )
            return fn

        return register

    def seal(self) -> None:
        """Refuse an app with a route whose access nobody declared."""
        missing = [
            f"{method} {path}"
            for method, path in routes_of(self.app)
            if (method, path) not in self.access
            and not (method == "HEAD" and ("GET", path) in self.access)
        ]
        if missing:
            raise RuntimeError(f"routes without declared access (see web.auth): {missing}")
        unknown = {
            f"{path} {{{name}}}"
            for _method, path in routes_of(self.app)
            for name in re.findall(r"\{(\w+)", path)
            if name not in OBJECT_PARAMS and name not in OTHER_PARAMS
        }
        if unknown:
            raise RuntimeError(
                f"path parameters the gate cannot check (add them to OBJECT_PARAMS): {unknown}"
            )

    # --- the checks -------------------------------------------------------------------------------

    async def _check(
        self, account: Account, request: Request, permission: str, *, api: bool
    ) -> None:
        """The process is one the account sees (else 404), its role may (else 403), and every
        object the path names belongs to that process (else 404)."""
        key = request.path_params.get("key")
        if key is not None and not account.sees(str(key)):
            raise Refusal(
                404,
                _("No such process"),
                _(
                    "There is no process %(key)s among yours. The list of processes shows those "
                    "you may see.",
                    key=repr(key),
                ),
                api=api,
            )
        if not account.may(permission):
            raise Refusal(403, _("Not allowed"), account.refusal(permission), api=api)
        for name, kind in OBJECT_PARAMS.items():
            value = str(request.path_params.get(name, ""))
            if name not in request.path_params:
                continue
            found = key is not None and value.isdigit() and len(value) <= 12
            if found:
                found = await run_in_threadpool(
                    belongs,
                    self.ctx,
                    str(key),
                    kind,
                    int(value),
                    unmatched_ok=account.role == ADMINISTRATOR,
                )
            if not found:
                raise Refusal(
                    404,
                    _("Not found"),
                    _(NOT_IN_PROCESS[kind], id=value, key=key),
                    api=api,
                )

    @asynccontextmanager
    async def _console(
        self, request: Request, permission: str, upload: bool
    ) -> AsyncIterator[Caller]:
        token = request.cookies.get(SESSION_COOKIE)
        account = await run_in_threadpool(session_account, self.ctx, token)
        if account is None or token is None:
            raise LoginNeeded(request.url.path if request.method == "GET" else "/processes")
        await self._check(account, request, permission, api=False)
        expected = csrf.session_token(self.secret, secret_hash(token))
        if request.method != "POST":
            count = None
            if self.header_count is not None:
                count = await run_in_threadpool(self.header_count, account)
            yield Caller(account, expected, attention=count)
            return
        reading = (
            forms.read_upload(self.ctx, request)
            if upload
            else forms.read_form(request, FORM_ALLOWANCE)
        )
        async with reading as (form, files):
            if not csrf.matches(expected, text_field(form, csrf.FIELD)):
                raise Refusal(
                    403,
                    _("This form cannot be accepted"),
                    _(
                        "Nothing was changed: the form did not come from a page of this session "
                        "(it may be old, from before you logged in again)."
                    ),
                    _("Go back, reload the page and send the form again."),
                )
            yield Caller(account, expected, form, files)

    def _api(self, permission: str) -> Callable[..., Awaitable[None]]:
        async def check(
            request: Request,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
        ) -> None:
            token = credentials.credentials if credentials else None
            account = await run_in_threadpool(token_account, self.ctx, token)
            if account is None:
                raise Refusal(
                    401,
                    "unauthenticated",
                    _(
                        "Send a valid API token as `Authorization: Bearer TOKEN` (make one with "
                        "`ibmflow user token EMAIL`); cookies do not authenticate the API."
                    ),
                    api=True,
                )
            await self._check(account, request, permission, api=True)
            request.state.caller = Caller(account)

        return check

    # --- responses --------------------------------------------------------------------------------

    def render(self, name: str, status: int, caller: Caller | None, **context: Any) -> HTMLResponse:
        """A page, with the caller's account and CSRF token for the forms it shows."""
        return self.pages.render(
            name,
            status,
            me=caller.account if caller else None,
            attention=caller.attention if caller else None,
            attention_cap=NAVIGATION_CAP,
            csrf_field=csrf.FIELD,
            csrf_token=caller.csrf_token if caller else "",
            **context,
        )

    def message(
        self, status: int, heading: str, *paragraphs: str, caller: Caller | None = None
    ) -> HTMLResponse:
        return self.render(
            "console/message.html", status, caller, heading=heading, paragraphs=paragraphs
        )

    async def _refused(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refusal)
        response = self._refusal(exc)
        if exc.close:
            response.headers["Connection"] = "close"
        return response

    def _refusal(self, exc: Refusal) -> Response:
        if exc.api:
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            return JSONResponse(
                {
                    "error": http_error_of(exc.status),
                    "message": " ".join(exc.paragraphs) or exc.heading,
                },
                status_code=exc.status,
                headers=headers,
            )
        return self.message(exc.status, exc.heading, *exc.paragraphs)

    async def _to_login(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginNeeded)
        return RedirectResponse(f"/login?next={quote(exc.back_to)}", status_code=303)

    def secure(self, request: Request) -> bool:
        """Whether cookies get `Secure`: served over HTTPS, or published at an https address."""
        return request.url.scheme == "https" or self.ctx.settings.mail_base_url.startswith(
            "https://"
        )


def routes_of(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app answers (HEAD only where it is declared for its own)."""
    out = []
    for route in app.routes:
        if isinstance(route, APIRoute | Route):
            for method in sorted(route.methods or ()):
                out.append((method, route.path))
    return out
