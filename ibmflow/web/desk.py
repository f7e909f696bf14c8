"""The coordinator's desk in the console: "Needs my attention" (the page after logging in, its count
in every page's navigation) and the search box (`/search`, and `/api/search` for scripts)."""

from __future__ import annotations

from typing import Any

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ibmflow.errors import InvalidCommand
from ibmflow.i18n import _
from ibmflow.services.attention import GROUP_CAP, RECENT_DAYS, attention_count, desk
from ibmflow.services.search import MAX_QUERY, SearchResults, search
from ibmflow.web.api import ERRORS
from ibmflow.web.auth import Caller, Gate, Refusal, caller_of
from ibmflow.web.paging import page_number


class HitOut(BaseModel):
    process: str = Field(description="The key of the process it belongs to.")
    process_title: str
    name: str = Field(
        description="The process's title, the institution's or the person's name, "
        "or the request's kind."
    )
    detail: str = Field(description="The country, the institution's code, the person's email.")
    url: str = Field(description="Where the console shows it.")
    request_id: int | None = None


class FoundOut(BaseModel):
    kind: str = Field(description="requests, processes, institutions or people.")
    total: int = Field(description="How many of this kind match (all pages), at most `limit`.")
    more: bool = Field(
        False, description="Whether more than `total` match: add to the search to narrow it."
    )
    hits: list[HitOut]


class SearchOut(BaseModel):
    """What `/api/search` answers."""

    query: str
    page: int
    size: int = Field(description="The most results of each kind in one answer.")
    limit: int = Field(
        description="The most results of each kind a search counts and lists: the first it finds "
        "(the earliest added); a kind's `more` says when more match."
    )
    groups: list[FoundOut]


def install(gate: Gate) -> None:
    """Add the desk's page, the search page and its API route; give the navigation its count."""
    ctx = gate.ctx
    gate.header_count = lambda account: attention_count(ctx, account)

    @gate.page("GET", "/attention", "view")
    async def attention(request: Request, caller: Caller) -> Response:
        found = await run_in_threadpool(desk, ctx, caller.account)
        return gate.render(
            "console/attention.html",
            200,
            caller,
            desk=found,
            follows_any=caller.account.processes is None or bool(caller.account.processes),
            cap=GROUP_CAP,
            recent_days=RECENT_DAYS,
            mail_captured=ctx.settings.smtp_host is None,
        )

    async def run(caller: Caller, text: str, page: int, *, api: bool) -> SearchResults:
        try:
            return await run_in_threadpool(search, ctx, caller.account, text, page)
        except InvalidCommand as exc:
            raise Refusal(400, _("This search cannot be made"), exc.message, api=api) from None

    @gate.page("GET", "/search", "view")
    async def search_page(request: Request, caller: Caller) -> Response:
        number = page_number(request)
        results = await run(caller, request.query_params.get("q", ""), number, api=False)
        return gate.render(
            "console/search.html",
            200,
            caller,
            results=results,
            max_query=MAX_QUERY,
            search_query=results.query,
        )

    @gate.api(
        "GET", "/api/search", "view", response_model=SearchOut, responses=ERRORS, tags=["search"]
    )
    async def search_json(
        request: Request,
        q: str = Query(
            "",
            description="A process key or title, a country, an institution's "
            "name or code, a person's name or email, or a request number (42 or #42).",
        ),
        page: int = Query(1, ge=1, le=100_000, description="Which page of each kind."),
    ) -> Any:
        """Search the processes the caller follows, a page of each kind at a time."""
        return await run(caller_of(request), q, page, api=True)
