"""The JSON API's errors that FastAPI and Starlette raise themselves (a malformed body or parameter,
no such call, a method the call does not take), answered in the API's own shape,
`{"error": ..., "message": ...}`, like every other API error (the `error` code in English, the
`message` in the caller's language: `Accept-Language`). Outside `/api`, no such page and a method a
page does not take are the console's message page (in the reader's language, for browsers and
screen readers alike); other errors are left as FastAPI answers them."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ibmflow.i18n import N_, _
from ibmflow.web.statuses import http_error_of

# The console's page for an HTTP error outside /api, by status: its heading and what to do.
CONSOLE_PAGES = {
    404: (
        N_("Page not found"),
        N_("There is no page at this address. Check it, or start again from the processes."),
    ),
    405: (
        N_("This page cannot be opened this way"),
        N_("This address takes a form sent from a console page. Go back to that page."),
    ),
}


class ErrorOut(BaseModel):
    """Every error of the API."""

    error: str = Field(
        description="refused, invalid, not_found, conflict, forbidden, unauthenticated, "
        "too_large, method_not_allowed, storage"
    )
    message: str = Field(description="What is wrong and what to do next.")
    blockers: list[str] = Field(default_factory=list, description="Unmet exit conditions.")


def _invalid_message(exc: RequestValidationError) -> str:
    """FastAPI's validation errors in one sentence: each field at fault and what is wrong."""
    problems = []
    for error in exc.errors():
        where = ".".join(
            str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")
        )
        field = where or _("the body")
        problem = error.get("msg") or _("invalid")
        problems.append(f"{field}: {problem}")
    return _(
        "The request is malformed, nothing was done: %(problems)s. The schema is at "
        "/api/openapi.json.",
        problems="; ".join(problems),
    )


def _http_message(exc: StarletteHTTPException) -> str:
    if exc.status_code == 404:
        return _("There is no such API call; the calls are listed at /api/openapi.json.")
    if exc.status_code == 405:
        return _("This API call does not take this method; see /api/openapi.json.")
    return str(exc.detail)


async def invalid(request: Request, exc: Exception) -> Response:
    """A malformed body or parameter: 422 `invalid`, naming each field at fault."""
    assert isinstance(exc, RequestValidationError)
    if not request.url.path.startswith("/api/"):
        return await request_validation_exception_handler(request, exc)
    return JSONResponse(
        ErrorOut(error="invalid", message=_invalid_message(exc)).model_dump(exclude={"blockers"}),
        status_code=422,
    )


async def http_error(request: Request, exc: Exception) -> Response:
    """No such call, a method it does not take...: the status, with an `error` and a message."""
    assert isinstance(exc, StarletteHTTPException)
    if not request.url.path.startswith("/api/"):
        page = CONSOLE_PAGES.get(exc.status_code)
        gate = getattr(request.app.state, "gate", None)  # web.auth's, which renders the console
        if page is None or gate is None:
            return await http_exception_handler(request, exc)
        response: Response = gate.message(exc.status_code, _(page[0]), _(page[1]))
        response.headers.update(exc.headers or {})
        return response
    error = http_error_of(exc.status_code)
    return JSONResponse(
        ErrorOut(error=error, message=_http_message(exc)).model_dump(exclude={"blockers"}),
        status_code=exc.status_code,
        headers=exc.headers,
    )


def install(app: FastAPI) -> None:
    """Answer validation and HTTP errors under `/api` in the API's shape."""
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
