"""The console's and the API's list of processes at a glance: each process's current step (its
title), when it is due and how many working days late, its overdue requests and its last activity;
filtered by country, step and lateness, sorted and paged in the database (two queries a page,
however many processes: `storage.queries.listing`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from ibmflow.access import Account
from ibmflow.engine import SUSPENDED
from ibmflow.errors import InvalidCommand
from ibmflow.i18n import _
from ibmflow.services.common import definition_for, iso
from ibmflow.services.context import Context
from ibmflow.services.process_views import ProcessSummary
from ibmflow.services.processes import summary
from ibmflow.storage.queries import listing
from ibmflow.storage.queries import processes as queries
from ibmflow.storage.queries.processes import LIST_SORTS, ListFilter

__all__ = [
    "LIST_PAGE",
    "LIST_SORTS",
    "MAX_LIST_PAGE",
    "ListChoices",
    "ListFilter",
    "VisibleProcess",
    "VisibleProcesses",
    "is_descending",
    "list_choices",
    "parse_filter",
    "visible_processes",
]

# The processes on one page of the console's list, and the most one API call lists.
LIST_PAGE, MAX_LIST_PAGE = 50, 1000
DIRECTIONS = {"asc": False, "desc": True}
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_STEP = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class VisibleProcess(ProcessSummary):
    """A process in the list: where it stands, when its current step is due, what is late."""

    due_at: Annotated[str | None, Field(description="When the current step is due (UTC).")]
    overdue: Annotated[bool, Field(description="Whether the current step is past its due date.")]
    timezone: Annotated[str, Field(description="The process's time zone (IANA).")] = "UTC"
    step: Annotated[
        str, Field(description="The current step's id (the one suspended in, if so).")
    ] = ""
    step_title: Annotated[
        str, Field(description="The title of the current step, in the reader's language.")
    ] = ""
    working_days_overdue: Annotated[
        int,
        Field(description="Working days the current step is overdue (its process's calendar)."),
    ] = 0
    overdue_requests: Annotated[
        int, Field(description="Requests awaiting an answer past their due date.")
    ] = 0
    late: Annotated[bool, Field(description="The current step is overdue or a request is.")] = False
    last_activity_at: Annotated[
        str | None, Field(description="When the process's latest audit event happened (UTC).")
    ] = None


@dataclass(frozen=True)
class VisibleProcesses:
    """A page of the processes an account may see that pass the filter, and how many do."""

    processes: list[VisibleProcess]
    total: int
    offset: int
    limit: int | None


@dataclass(frozen=True)
class ListChoices:
    """What the list's filter form offers: (value, label) pairs."""

    countries: tuple[str, ...]
    steps: tuple[tuple[str, str], ...]


def parse_filter(params: Mapping[str, str]) -> ListFilter:
    """The filter and order a query string asks for (`country`, `step`, `late`, `sort`, `dir`);
    InvalidCommand, saying what may be given, for anything else. Empty values are absent."""
    country = params.get("country", "").strip()
    step = params.get("step", "").strip()
    late = params.get("late", "").strip()
    sort = params.get("sort", "").strip() or "urgent"
    direction = params.get("dir", "").strip()
    if country and not _COUNTRY.fullmatch(country):
        raise InvalidCommand(_("a country is given by its two-letter code, such as MA."))
    if step and not _STEP.fullmatch(step):
        raise InvalidCommand(
            _("a step is given by its name in the workflow, such as situation_analysis.")
        )
    if late not in ("", "0", "1", "on", "true"):
        raise InvalidCommand(_("“only late” is 1 (only the late processes) or 0 (all)."))
    if sort not in LIST_SORTS:
        raise InvalidCommand(_("the list can be sorted by %(sorts)s.", sorts=", ".join(LIST_SORTS)))
    if direction and direction not in DIRECTIONS:
        raise InvalidCommand(_("a direction is asc (ascending) or desc (descending)."))
    return ListFilter(
        country=country.upper() or None,
        step=step or None,
        late=late in ("1", "on", "true"),
        sort=sort,
        descending=DIRECTIONS[direction] if direction else None,
    )


def is_descending(which: ListFilter) -> bool:
    """Whether the list runs largest first (the natural direction of its sort, unless turned)."""
    if which.descending is not None:
        return which.descending
    return which.sort in queries.LARGEST_FIRST


def _reach(account: Account) -> frozenset[str] | None:
    """The keys of the processes an account may see (None: every process)."""
    return frozenset() if account.disabled else account.processes


def visible_processes(
    ctx: Context,
    account: Account,
    which: ListFilter | None = None,
    *,
    offset: int = 0,
    limit: int | None = None,
) -> VisibleProcesses:
    """The processes an account may see that pass `which` (default: all, most urgent first), each
    with its current step, due date and lateness: `limit` of them (None: all) from `offset`,
    filtered, sorted and paged in the database."""
    if offset < 0 or (limit is not None and not 1 <= limit <= MAX_LIST_PAGE):
        raise InvalidCommand(
            _(
                "a page of the list starts at 0 or later and holds 1 to "
                "%(max_list_page)s processes.",
                max_list_page=MAX_LIST_PAGE,
            )
        )
    now = ctx.clock.now()
    with ctx.db.reading() as session:
        total, rows = listing.process_list(
            session, _reach(account), now, which or ListFilter(), offset=offset, limit=limit
        )
        listed = []
        for row in rows:
            process = row.process
            step = (process.suspended_from if process.state == SUSPENDED else process.state) or ""
            titles = {s.id: s.title for s in definition_for(ctx, session, process).states}
            days = 0
            if row.step_late and row.due_at is not None:
                calendar = ctx.calendar(process)
                days = calendar.between(calendar.local_day(row.due_at), calendar.local_day(now))
            listed.append(
                VisibleProcess(
                    **vars(summary(process)),
                    due_at=iso(row.due_at),
                    overdue=row.step_late,
                    timezone=process.timezone,
                    step=step,
                    step_title=titles.get(step, step),
                    working_days_overdue=days,
                    overdue_requests=row.overdue_requests,
                    late=row.step_late or row.overdue_requests > 0,
                    last_activity_at=iso(row.last_activity_at),
                )
            )
    return VisibleProcesses(processes=listed, total=total, offset=offset, limit=limit)


def list_choices(ctx: Context, account: Account) -> ListChoices:
    """The countries and steps of the processes an account may see (steps in workflow order,
    titled in the reader's language), for the list's filter."""
    with ctx.db.reading() as session:
        countries, samples = queries.list_choices(session, _reach(account))
        steps: dict[str, str] = {}
        for process in samples:
            for step in definition_for(ctx, session, process).steps:
                steps.setdefault(step.id, step.title)
    return ListChoices(countries=tuple(countries), steps=tuple(steps.items()))
