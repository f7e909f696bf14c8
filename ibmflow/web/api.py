"""The JSON API under `/api`: the same operations as the console, for scripts and dashboards.

Authenticated by `Authorization: Bearer <token>` only (tokens from `ibmflow user token EMAIL`,
stored hashed); the gate applies the same checks as in the console. Described by the OpenAPI
document at `/api/openapi.json`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ibmflow.errors import IbmflowError, TransitionRefused
from ibmflow.services import commands, processes, requests
from ibmflow.services.commands import On
from ibmflow.services.process_list import (
    LIST_SORTS,
    MAX_LIST_PAGE,
    ListFilter,
    VisibleProcess,
    visible_processes,
)
from ibmflow.services.process_views import ProcessStatus
from ibmflow.services.record_views import RequestSummary
from ibmflow.web import api_errors
from ibmflow.web.api_errors import ErrorOut
from ibmflow.web.auth import Gate, caller_of
from ibmflow.web.statuses import error_of, status_of

OPENAPI_URL = "/api/openapi.json"
DESCRIPTION = (
    "Every call needs `Authorization: Bearer TOKEN`, a token made with `ibmflow user token EMAIL`. "
    "A caller sees only the processes of their account (an administrator sees all), and may do "
    "what their role allows: a manager reads, a coordinator also acts. Errors come as "
    '`{"error": ..., "message": ...}` with 400 (refused: nothing written; `blockers` lists what '
    "must be true first), 401, 403, 404, 409 (the process changed since the version you gave), "
    "413 (a body over 1 MB) or 422 (a malformed body or parameter)."
)
T = TypeVar("T")
API_LIST = 100  # processes in one answer of /api/processes unless `limit` says otherwise


class OpenRequestsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="acknowledge_contact, self_assessment, activity_inventory, ...")
    institutions: list[str] | None = Field(
        default=None, description="Institution codes (default: every one in scope)."
    )
    scope: Literal["permanent", "involved", "all"] = "involved"
    due_days: int = Field(default=10, ge=1, le=365, description="Working days to answer.")
    instructions: str = Field(default="", max_length=20000)


class OpenedOut(BaseModel):
    requests: list[int] = Field(description="The new requests (none for those already sent).")


class AdvanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expected_version: int | None = Field(
        default=None, description="Refuse with 409 unless the process is still at this version."
    )


class ReasonIn(AdvanceIn):
    reason: str = Field(min_length=1, max_length=2000, description="Kept on the audit log.")


class ReturnIn(ReasonIn):
    step: str = Field(description="The earlier step to return to.")


class MovedOut(BaseModel):
    process: str
    trigger: str
    before: str
    after: str
    version: int


class ApiError(Exception):
    """An IbmflowError turned into the API's answer."""

    def __init__(self, status: int, body: ErrorOut) -> None:
        super().__init__(body.message)
        self.status, self.body = status, body


async def _call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except IbmflowError as exc:
        blockers = list(exc.blockers) if isinstance(exc, TransitionRefused) else []
        body = ErrorOut(error=error_of(exc), message=exc.message, blockers=blockers)
        raise ApiError(status_of(exc), body) from None


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in (
        (400, "Refused; nothing was written."),
        (401, "No valid bearer token."),
        (403, "The account's role may not do this."),
        (404, "No such process (or not one of the caller's), or no such object in it."),
        (413, "The body is larger than 1 MB."),
        (422, "A malformed body or parameter; the message names the fields at fault."),
    )
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "The process changed since `expected_version`."}
}


def install(gate: Gate) -> None:
    """Add the API's routes."""
    ctx = gate.ctx

    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return JSONResponse(exc.body.model_dump(), status_code=exc.status)

    gate.app.add_exception_handler(ApiError, api_error)
    api_errors.install(gate.app)
    tags = ["processes"]

    @gate.api(
        "GET",
        "/api/processes",
        "view",
        response_model=list[VisibleProcess],
        responses=ERRORS,
        tags=tags,
    )
    async def list_processes(
        request: Request,
        response: Response,
        limit: int = Query(
            API_LIST, ge=1, le=MAX_LIST_PAGE, description="The most processes in one answer."
        ),
        offset: int = Query(0, ge=0, description="How many processes to skip."),
        country: str | None = Query(
            None, pattern="^[A-Za-z]{2}$", description="Only this country's (ISO 3166 code)."
        ),
        step: str | None = Query(
            None,
            pattern="^[a-z][a-z0-9_]{0,63}$",
            description="Only the processes at this step (its id, e.g. situation_analysis).",
        ),
        late: bool = Query(
            False, description="Only the late processes: the current step or a request overdue."
        ),
        sort: Literal[LIST_SORTS] = Query(  # type: ignore[valid-type]
            "urgent",
            description="urgent (late first, then by due date), due (the current step's due "
            "date), overdue (overdue requests), activity (latest audit event), key, country.",
        ),
        direction: Literal["asc", "desc"] | None = Query(
            None, alias="dir", description="Turn the sort around (default: its usual order)."
        ),
    ) -> Any:
        """The processes the caller may see that pass the filters, most urgent first unless
        `sort` says otherwise, with their current step, its due date, working days overdue, the
        overdue requests and the last activity; `limit` of them from `offset`, and how many pass
        the filters in the `X-Total-Count` header."""
        account = caller_of(request).account
        which = ListFilter(
            country=country.upper() if country else None,
            step=step,
            late=late,
            sort=sort,
            descending=None if direction is None else direction == "desc",
        )
        found = await _call(visible_processes, ctx, account, which, offset=offset, limit=limit)
        response.headers["X-Total-Count"] = str(found.total)
        return found.processes

    @gate.api(
        "GET",
        "/api/processes/{key}",
        "view",
        response_model=ProcessStatus,
        responses=ERRORS,
        tags=tags,
    )
    async def process_status(key: str, request: Request) -> Any:
        """A process's steps with their dates, and what blocks the current step, in words."""
        return await _call(processes.status, ctx, key)

    @gate.api(
        "GET",
        "/api/processes/{key}/requests",
        "view",
        response_model=list[RequestSummary],
        responses=ERRORS,
        tags=["requests"],
    )
    async def process_requests(key: str, request: Request) -> Any:
        """Every request of a process to the focal points, with its status and answer."""
        return await _call(requests.list_requests, ctx, key)

    def command(name: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Add the API route of command `name` of the table (its path and permission there)."""
        entry = commands.COMMANDS[name]
        return gate.api("POST", f"/api/processes/{{key}}/{entry.api}", entry.permission, **options)

    async def run(name: str, key: str, body: BaseModel, request: Request) -> Any:
        on = On(process=key, actor=caller_of(request).account.email, via="api")
        return await _call(commands.run, ctx, name, on, body.model_dump())

    @command(
        "request.send",
        response_model=OpenedOut,
        status_code=201,
        responses=ERRORS,
        tags=["requests"],
    )
    async def open_requests(key: str, body: OpenRequestsIn, request: Request) -> Any:
        """Send a request of a kind to every institution in scope that has none pending yet."""
        return OpenedOut(requests=await run("request.send", key, body, request))

    async def fire(name: str, key: str, body: AdvanceIn, request: Request) -> MovedOut:
        moved = await run(name, key, body, request)
        assert isinstance(moved, processes.Moved)
        return MovedOut(
            process=moved.process,
            trigger=moved.outcome.trigger,
            before=moved.outcome.before,
            after=moved.outcome.after,
            version=moved.version,
        )

    moves: dict[str, Any] = {
        "response_model": MovedOut,
        "responses": {**ERRORS, **CONFLICT},
        "tags": tags,
    }

    @command("advance", **moves)
    async def advance(key: str, body: AdvanceIn, request: Request) -> Any:
        """Complete the current step if its exit conditions are met (else 400 with blockers)."""
        return await fire("advance", key, body, request)

    @command("return", **moves)
    async def return_to(key: str, body: ReturnIn, request: Request) -> Any:
        """Return the process to an earlier step, with a reason."""
        return await fire("return", key, body, request)

    @command("suspend", **moves)
    async def suspend(key: str, body: ReasonIn, request: Request) -> Any:
        """Suspend the process, with a reason (it resumes at the same step)."""
        return await fire("suspend", key, body, request)

    @command("resume", **moves)
    async def resume(key: str, body: ReasonIn, request: Request) -> Any:
        """Resume a suspended process at the step it was suspended in, with a reason."""
        return await fire("resume", key, body, request)
