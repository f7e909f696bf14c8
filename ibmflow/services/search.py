"""The console's search: one box that finds a process, an institution, a person (by name or email)
or a request by its number (`42` or `#42`), among the processes an account follows."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ibmflow.access import Account
from ibmflow.errors import InvalidCommand
from ibmflow.i18n import _
from ibmflow.requestkinds import KINDS
from ibmflow.services.context import Context
from ibmflow.storage.queries import search as queries

SEARCH_PAGE = 25  # results of each kind to a page
# The most results of each kind a search counts and lists: the first that many found (the earliest
# added; a result listed stays listed as rows are added), by name. A search
# reads at most this many rows of a kind however many match (a word found in every process's
# roster at 10,000 processes costs what it costs at 1,000), and says "more than 1,000" past it.
SEARCH_LIMIT = 1000
MAX_QUERY = 200  # characters
_NUMBER = re.compile(r"#?\s*(\d{1,12})")


@dataclass(frozen=True)
class Hit:
    """A result: what it is, in which process, and where it is shown."""

    process: str
    process_title: str
    name: str  # the process's title, the institution's or person's name, the request's kind label
    detail: str  # the institution's code, the person's email and institution, ...
    url: str
    request_id: int | None = None


@dataclass(frozen=True)
class Found:
    """The results of one kind: a page of them and how many there are in all (at most
    `SEARCH_LIMIT`; `more` when more than that match)."""

    kind: str  # processes, institutions, people, requests
    total: int
    hits: tuple[Hit, ...]
    more: bool = False


@dataclass(frozen=True)
class SearchResults:
    """What a search found, by kind, a page at a time."""

    query: str
    page: int
    size: int
    groups: tuple[Found, ...]
    limit: int = SEARCH_LIMIT

    @property
    def total(self) -> int:
        return sum(g.total for g in self.groups)

    @property
    def beyond_limit(self) -> bool:
        """Whether a kind has more matches than the search lists."""
        return any(g.more for g in self.groups)

    @property
    def has_more(self) -> bool:
        """Whether a kind has results after this page."""
        return any(g.total > self.page * self.size for g in self.groups)


def clean_query(text: str) -> str:
    """The text searched for: spaces squeezed; refused when too long."""
    text = " ".join(text.split())
    if len(text) > MAX_QUERY:
        raise InvalidCommand(
            _(
                "The search is %(length)s characters long; search for at most %(most)s, a name, "
                "an email, a process key or a request number.",
                length=len(text),
                most=MAX_QUERY,
            )
        )
    return text


def _found(kind: str, total: int, hits: tuple[Hit, ...]) -> Found:
    """A kind's results, its total said as at most `SEARCH_LIMIT` and `more` beyond."""
    return Found(kind, min(total, SEARCH_LIMIT), hits, more=total > SEARCH_LIMIT)


def search(ctx: Context, account: Account, text: str, page: int = 1) -> SearchResults:
    """Processes, institutions, people and a request by number matching `text` (cleaned first),
    among the account's processes; `page` of each kind, among the first `SEARCH_LIMIT` found."""
    text = clean_query(text)
    size, offset = SEARCH_PAGE, (page - 1) * SEARCH_PAGE
    # a page never reaches past the first SEARCH_LIMIT; one more is found to tell "more than"
    limit, found_limit = max(0, min(size, SEARCH_LIMIT - offset)), SEARCH_LIMIT + 1
    if not text or account.disabled:
        return SearchResults(query=text, page=page, size=size, groups=())
    who = None if account.processes is None else account.id
    groups: list[Found] = []
    with ctx.db.reading() as session:
        number = _NUMBER.fullmatch(text)
        if number:
            found = queries.request_by_number(session, who, int(number.group(1)))
            hits: tuple[Hit, ...] = ()
            if found is not None and page == 1:
                r, i, p = found
                kind = KINDS.get(r.kind)
                hits = (
                    Hit(
                        process=p.key,
                        process_title=p.title,
                        name=kind.label if kind else r.kind,
                        detail=i.short_name,
                        url=f"/p/{p.key}#request-{r.id}",
                        request_id=r.id,
                    ),
                )
            groups.append(Found("requests", int(found is not None), hits))
        total, processes = queries.processes(session, who, text, offset, limit, found_limit)
        groups.append(
            _found(
                "processes",
                total,
                tuple(Hit(p.key, p.title, p.title, p.country, f"/p/{p.key}") for p in processes),
            )
        )
        total, institutions = queries.institutions(session, who, text, offset, limit, found_limit)
        groups.append(
            _found(
                "institutions",
                total,
                tuple(
                    Hit(p.key, p.title, i.short_name, i.code, f"/p/{p.key}")
                    for i, p in institutions
                ),
            )
        )
        total, people = queries.people(session, who, text, offset, limit, found_limit)
        groups.append(
            _found(
                "people",
                total,
                tuple(
                    Hit(
                        p.key,
                        p.title,
                        person.name,
                        person.email + (f", {i.short_name}" if i is not None else ""),
                        f"/p/{p.key}",
                    )
                    for person, i, p in people
                ),
            )
        )
    return SearchResults(query=text, page=page, size=size, groups=tuple(groups))
