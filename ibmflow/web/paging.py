"""Paging of the console's long lists (the processes, the deadline report): which page a request
asks for, and the links to the pages before and after it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import Request

from ibmflow.i18n import N_, _, ngettext
from ibmflow.web.refusals import Refusal

# The sentences of a pager, per kind of item (whole sentences: the translator needs each one).
TEXTS: dict[str, dict[str, str]] = {
    "processes": {
        "nav": N_("Pages of the processes"),
        "previous": N_("Previous processes (%(items)s)"),
        "next": N_("Next processes (%(items)s)"),
        "position": N_("Processes %(first)s-%(last)s of %(total)s (page %(page)s of %(pages)s)"),
    },
    "requests": {
        "nav": N_("Pages of the requests"),
        "previous": N_("Previous requests (%(items)s)"),
        "next": N_("Next requests (%(items)s)"),
        "position": N_("Requests %(first)s-%(last)s of %(total)s (page %(page)s of %(pages)s)"),
    },
    "events": {
        "nav": N_("Pages of the events"),
        "previous": N_("Previous events (%(items)s)"),
        "next": N_("Next events (%(items)s)"),
        "position": N_("Events %(first)s-%(last)s of %(total)s (page %(page)s of %(pages)s)"),
    },
}


def page_number(request: Request) -> int:
    """The page asked for by `?page=N` (1 when absent); a refusal for anything but a whole number
    from 1."""
    value = request.query_params.get("page", "")
    if value == "":
        return 1
    if not value.isdigit() or int(value) < 1 or len(value) > 9:
        raise Refusal(400, _("This page number cannot be used"), _("Give a whole number from 1."))
    return int(value)


@dataclass(frozen=True)
class Pager:
    """Where a page of `size` items stands among `total`, and the links to its neighbours."""

    page: int
    size: int
    total: int
    what: str  # the items, plural: "processes" or "events" (a key of TEXTS)
    previous_url: str | None
    next_url: str | None

    @property
    def offset(self) -> int:
        """How many items come before this page."""
        return (self.page - 1) * self.size

    @property
    def pages(self) -> int:
        """How many pages the items fill (at least one)."""
        return max(1, -(-self.total // self.size))

    @property
    def first(self) -> int:
        """The 1-based position of the page's first item."""
        return self.offset + 1

    @property
    def last(self) -> int:
        """The 1-based position of the page's last item."""
        return min(self.total, self.offset + self.size)

    def _items(self, page: int) -> str:
        """The positions of the items page `page` shows, as "51-100"."""
        return f"{(page - 1) * self.size + 1}-{min(self.total, page * self.size)}"

    def _text(self, name: str) -> str:
        return TEXTS[self.what][name]

    @property
    def nav_label(self) -> str:
        """The name of the pager's navigation landmark."""
        return _(self._text("nav"))

    @property
    def previous_label(self) -> str:
        """The name of the link to the page before (the last page, from past the end)."""
        return _(self._text("previous"), items=self._items(min(self.page - 1, self.pages)))

    @property
    def next_label(self) -> str:
        """The name of the link to the page after."""
        return _(self._text("next"), items=self._items(self.page + 1))

    @property
    def position_label(self) -> str:
        """Which items this page shows, among how many."""
        return _(
            self._text("position"),
            first=self.first,
            last=self.last,
            total=self.total,
            page=self.page,
            pages=self.pages,
        )

    @property
    def past_label(self) -> str:
        """What a page after the last one says."""
        if self.what == "requests":
            return ngettext(
                "Page %(page)s is past the last page (%(pages)s) of the %(num)s request.",
                "Page %(page)s is past the last page (%(pages)s) of the %(num)s requests.",
                self.total,
                page=self.page,
                pages=self.pages,
            )
        if self.what == "events":
            return ngettext(
                "Page %(page)s is past the last page (%(pages)s) of the %(num)s event.",
                "Page %(page)s is past the last page (%(pages)s) of the %(num)s events.",
                self.total,
                page=self.page,
                pages=self.pages,
            )
        return ngettext(
            "Page %(page)s is past the last page (%(pages)s) of the %(num)s process.",
            "Page %(page)s is past the last page (%(pages)s) of the %(num)s processes.",
            self.total,
            page=self.page,
            pages=self.pages,
        )

    @property
    def past_the_end(self) -> bool:
        """Whether the page lies after the last item."""
        return self.total > 0 and self.offset >= self.total


def pager(
    path: str,
    page: int,
    size: int,
    total: int,
    what: str,
    keep: dict[str, str] | None = None,
    anchor: str = "",
) -> Pager:
    """The pager of page `page` at `path`; the links keep the query parameters in `keep` and
    lead to `anchor` ("#requests") when given."""

    def url(number: int) -> str:
        query = {**(keep or {}), **({"page": str(number)} if number > 1 else {})}
        return (f"{path}?{urlencode(query)}" if query else path) + anchor

    pages = max(1, -(-total // size))
    return Pager(
        page=page,
        size=size,
        total=total,
        what=what,
        previous_url=url(min(page - 1, pages)) if page > 1 else None,
        next_url=url(page + 1) if page < pages else None,
    )
