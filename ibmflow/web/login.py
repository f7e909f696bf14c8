"""Logging in and out of the console: the login form (its CSRF token bound to a nonce cookie, since
there is no session yet), the rate-limited password check, the session cookie, and logging out."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ibmflow.errors import LoginRefused, LoginThrottled
from ibmflow.i18n import _, ngettext
from ibmflow.services.accounts import own_language, remember_language
from ibmflow.services.sessions import log_in, log_out
from ibmflow.web import csrf, forms
from ibmflow.web.auth import (
    LANDING,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Caller,
    Gate,
    safe_next,
    text_field,
)
from ibmflow.web.common import FORM_ALLOWANCE, LANGUAGE_COOKIE, offered_languages


def install(gate: Gate) -> None:
    """Add the home (to the desk, "Needs my attention"), login and logout routes."""

    @gate.public_route("GET", "/")
    async def home(request: Request) -> Response:
        return RedirectResponse(LANDING, status_code=303)

    @gate.public_route("GET", "/login")
    async def login_page(request: Request) -> Response:
        return _login_form(gate, request, 200)

    @gate.public_route("POST", "/login")
    async def login(request: Request) -> Response:
        async with forms.read_form(request, FORM_ALLOWANCE) as (form, _files):
            email, password = text_field(form, "email"), text_field(form, "password")
            back_to, given = safe_next(text_field(form, "next")), text_field(form, csrf.FIELD)
        nonce = request.cookies.get(LOGIN_COOKIE) or ""
        if not nonce or not csrf.matches(csrf.login_token(gate.secret, nonce), given):
            return _login_form(
                gate,
                request,
                403,
                problem=_(
                    "The login form expired or cookies are blocked: log in again from this page "
                    "(cookies must be allowed for this site)."
                ),
                email=email,
                back_to=back_to,
            )
        client = request.client.host if request.client else "unknown"
        try:
            account, token = await run_in_threadpool(
                log_in, gate.ctx, email, password, client=client
            )
        except LoginThrottled as exc:
            minutes = max(1, -(-exc.retry_after_s // 60))
            problem = ngettext(
                "Too many failed logins for this account or from this address: logins are paused "
                "for %(num)s minute. Try again then; if you forgot your password, ask an "
                "administrator for a new one.",
                "Too many failed logins for this account or from this address: logins are paused "
                "for %(num)s minutes. Try again then; if you forgot your password, ask an "
                "administrator for a new one.",
                minutes,
            )
            paused = _login_form(gate, request, 429, problem=problem, email=email, back_to=back_to)
            paused.headers["Retry-After"] = str(exc.retry_after_s)
            return paused
        except LoginRefused:
            settings = gate.ctx.settings
            problem = ngettext(
                "The email or the password is wrong, or the account is disabled. Check them and "
                "try again: after %(failures)s failures in %(num)s minute, logins are paused for "
                "a while.",
                "The email or the password is wrong, or the account is disabled. Check them and "
                "try again: after %(failures)s failures in %(num)s minutes, logins are paused for "
                "a while.",
                settings.web_login_window_min,
                failures=settings.web_login_max_failures,
            )
            return _login_form(gate, request, 401, problem=problem, email=email, back_to=back_to)
        response = RedirectResponse(back_to, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=gate.ctx.settings.web_session_hours * 3600,
            path="/",
            secure=gate.secure(request),
            httponly=True,
            samesite="lax",
        )
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        # The console speaks the account's language from now on (one it never chose: the browser's).
        if lang := await run_in_threadpool(own_language, gate.ctx, account.email):
            response.set_cookie(
                LANGUAGE_COOKIE, lang, max_age=365 * 86400, path="/", samesite="lax"
            )
        return response

    @gate.page("POST", "/language", "view")
    async def switch_language(request: Request, caller: Caller) -> Response:
        """The header's language switch, logged in: kept as the account's own choice (its next
        login and its mails follow it), then back to the page it was used on, in that language.
        A POST with the form's CSRF token: a link from elsewhere changes nothing stored."""
        lang = caller.field("lang")
        back = safe_next(caller.field("next"))
        if lang not in offered_languages():
            return RedirectResponse(back, status_code=303)
        await run_in_threadpool(remember_language, gate.ctx, caller.account.email, lang)
        target = back + ("&" if "?" in back else "?") + urlencode({"lang": lang})
        return RedirectResponse(target, status_code=303)

    @gate.page("POST", "/logout", "view")
    async def logout(request: Request, caller: Caller) -> Response:
        await run_in_threadpool(log_out, gate.ctx, request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


def _login_form(
    gate: Gate,
    request: Request,
    status: int,
    *,
    problem: str | None = None,
    email: str = "",
    back_to: str | None = None,
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(24)
    response = gate.pages.render(
        "console/login.html",
        status,
        me=None,
        csrf_field=csrf.FIELD,
        csrf_token=csrf.login_token(gate.secret, nonce),
        problem=problem,
        email=email,
        back_to=safe_next(back_to or request.query_params.get("next", LANDING)),
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=3600,
        path="/login",
        secure=gate.secure(request),
        httponly=True,
        samesite="strict",
    )
    return response
