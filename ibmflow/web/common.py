"""What every page and endpoint of the web app shares: security headers, capped request bodies, and
the Jinja2 pages (autoescaped, strict) with their filters."""

from __future__ import annotations

import functools
import re
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ibmflow import i18n

MB = 1024 * 1024
FORM_ALLOWANCE = MB  # what the text of a form may add to its files
TEMPLATES = Path(__file__).resolve().parent / "templates"

SECURITY_HEADERS = (
    ("Referrer-Policy", "no-referrer"),
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
)


class SecurityHeaders:
    """ASGI middleware adding the security headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


LANGUAGE_COOKIE = "ibmflow_lang"
# The page a language switch leads back to (a GET's own path and query, without `lang`) and the
# languages the deployment offers, for the request being answered.
_switch: ContextVar[tuple[str, tuple[str, ...]]] = ContextVar(
    "ibmflow_language_switch", default=("/processes", i18n.LANGUAGES)
)
_PROCESS_PATH = re.compile(r"^/p/([A-Za-z0-9_-]{1,40})(?:/|$)")


def _switch_target(request: Request) -> str:
    """Where a language switch on this page leads: the same page for a GET; after a POST (a refused
    action, the login form) the process page or the page it came from."""
    path = request.url.path
    if request.method in ("GET", "HEAD"):
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
        return path + (f"?{urlencode(query)}" if query else "")
    if path == "/login":
        return "/login"
    found = _PROCESS_PATH.match(path)
    return f"/p/{found.group(1)}" if found else "/processes"


def offered_languages() -> tuple[str, ...]:
    """The languages the console's switch offers."""
    return _switch.get()[1]


def language_back() -> str:
    """Where the switch's form leads back to: this page (without `?lang=`)."""
    return _switch.get()[0]


def language_href(lang: str) -> str:
    """The link of the language switch to `lang`: this page, in that language."""
    target = _switch.get()[0]
    return target + ("&" if "?" in target else "?") + urlencode({"lang": lang})


class Language:
    """ASGI middleware choosing the reader's language for the request: `?lang=` (a language
    switch, remembered in a cookie), else the cookie (set at login from the account's language),
    else the browser's `Accept-Language`, else the deployment's default. A page that knows better
    (the answer page knows its addressee) chooses again with `i18n.using`."""

    def __init__(
        self, app: ASGIApp, offered: tuple[str, ...] = i18n.LANGUAGES, default: str = i18n.SOURCE
    ) -> None:
        self.app = app
        self.offered = offered
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        asked = request.query_params.get("lang")
        chosen = (
            (asked if asked in self.offered else None)
            or (
                request.cookies.get(LANGUAGE_COOKIE)
                if request.cookies.get(LANGUAGE_COOKIE) in self.offered
                else None
            )
            or i18n.best_match(request.headers.get("accept-language"), self.offered)
            or self.default
        )
        scope.setdefault("state", {})["language"] = chosen
        _switch.set((_switch_target(request), self.offered))

        async def remember(message: Message) -> None:
            if message["type"] == "http.response.start" and asked == chosen:
                headers = MutableHeaders(scope=message)
                headers.append(
                    "Set-Cookie",
                    f"{LANGUAGE_COOKIE}={chosen}; Path=/; Max-Age=31536000; SameSite=Lax",
                )
            await send(message)

        with i18n.using(chosen):
            await self.app(scope, receive, remember)


class ApiBodyLimit:
    """ASGI middleware refusing JSON API bodies past `cap` bytes with 413, in the API's error shape.
    The body is read (up to the cap) before the app sees it: FastAPI reads a JSON body whole before
    any check of ours runs, and would answer an error raised while reading with its own 400."""

    def __init__(self, app: ASGIApp, cap: int = FORM_ALLOWANCE) -> None:
        self.app = app
        self.cap = cap

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"content-length", b"")
        declared = int(header) if header.isdigit() else None
        if declared is not None and declared > self.cap:
            await _too_large(self.cap, BodyTooLarge(), scope, receive, send)
            return
        chunks: list[bytes] = []
        body = Capped(Request(scope, receive), self.cap)
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                return
            chunk = message.get("body", b"")
            body.seen += len(chunk)
            body.finished = not message.get("more_body", False)
            if body.seen > self.cap:
                refusal = await body.refuse(receive, declared)
                await _too_large(self.cap, refusal, scope, receive, send)
                return
            chunks.append(chunk)
            if body.finished:
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)


async def _too_large(
    cap: int, refusal: BodyTooLarge, scope: Scope, receive: Receive, send: Send
) -> None:
    response = JSONResponse(
        {
            "error": "too_large",
            "message": i18n.gettext(
                "The request body is larger than %(kb)s KB; send less at once.",
                kb=i18n.format_number(cap // 1024),
            ),
        },
        status_code=413,
        headers={"Connection": "close"} if refusal.close else None,
    )
    await response(scope, receive, send)


class BodyTooLarge(Exception):
    """The request body went past the cap; reading stopped there. `close`: the rest was not read
    and has no known end (a chunked body), so the answer closes the connection; a body of declared
    length is left to the server to read and drop, so that a browser still sending hears the
    answer."""

    def __init__(self, *, close: bool = False) -> None:
        super().__init__("the request body is too large")
        self.close = close


@dataclass
class Capped:
    """A request whose body raises BodyTooLarge past `cap` bytes, and how far it was read."""

    request: Request
    cap: int
    seen: int = 0
    finished: bool = False

    @classmethod
    def of(cls, request: Request, cap: int) -> Capped:
        upstream = request.receive
        capped = cls(request, cap)

        async def receive() -> Message:
            message = await upstream()
            if message["type"] == "http.request":
                capped.seen += len(message.get("body", b""))
                capped.finished = not message.get("more_body", False)
                if capped.seen > cap:
                    raise BodyTooLarge
            else:
                capped.finished = True
            return message

        capped.request = Request(request.scope, receive)
        return capped

    async def refuse(self, receive: Receive, declared: int | None) -> BodyTooLarge:
        """The refusal of a body past the cap. A chunked body's rest is read and dropped up to
        `cap` more bytes, so that the browser is still listening when the answer comes; past that
        the answer closes the connection. A declared length is left to the server to drop."""
        budget = self.cap
        if declared is not None:
            return BodyTooLarge()
        while not self.finished and budget > 0:
            message = await receive()
            if message["type"] != "http.request":
                return BodyTooLarge(close=True)
            budget -= len(message.get("body", b""))
            self.finished = not message.get("more_body", False)
        return BodyTooLarge(close=not self.finished)


_URL = re.compile(r"https?://[^\s<>\"']+")


def linkify(text: str) -> Markup:
    """Plain text, escaped, with its web addresses made into links (mail bodies)."""
    escaped = str(escape(text))
    return Markup(_URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped))


def _moment(stamp: str | datetime) -> datetime:
    return datetime.fromisoformat(stamp) if isinstance(stamp, str) else stamp


def local(stamp: str | datetime | None, zone: str, form: str = "day") -> str:
    """An ISO UTC timestamp shown in a time zone, in the reader's language ("" for none): the day
    ("2 Mar 2026"), `short` with the time ("2 Mar 2026, 23:59"), `full` with the weekday and the
    zone named ("Monday 2 March 2026, 23:59 Morocco time")."""
    if stamp is None or stamp == "":
        return ""
    return _local(stamp, zone, form, i18n.language())


@functools.lru_cache(maxsize=8192)
def _local(stamp: str | datetime, zone: str, form: str, lang: str) -> str:
    """`local`, remembered per moment, zone, form and language (a pure function of them, read in
    `lang`, the language in effect): Babel took about 30 microseconds a stamp, and a list page
    shows a hundred, the same ones from one view to the next."""
    moment = _moment(stamp)
    if form == "full":
        return i18n.format_datetime(moment, zone)
    if form == "short":
        return i18n.format_short_datetime(moment, zone)
    return i18n.format_date(moment, zone, "medium")


class Pages:
    """The Jinja2 pages (autoescaped; a missing variable is an error, never an empty string)."""

    def __init__(self, folder: Path = TEMPLATES) -> None:
        self.env = Environment(
            loader=FileSystemLoader(folder),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        i18n.install(self.env)
        self.env.filters["local"] = local
        self.env.globals.update(
            offered_languages=offered_languages,
            language_href=language_href,
            language_back=language_back,
        )
        self.env.filters["linkify"] = linkify

    def render(self, name: str, status: int, **context: Any) -> HTMLResponse:
        return HTMLResponse(self.env.get_template(name).render(**context), status_code=status)
