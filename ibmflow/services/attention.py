"""The coordinator's desk, "Needs my attention": across every process an account follows, what is
overdue, awaited or stuck, grouped by kind, each item with the address where it is acted on; and the
exact count the console's navigation shows.

Which kinds an account sees follows from its role (data, below): a manager reads the deadlines
(steps, requests and votes), a chair also the IAWG's open decisions, a coordinator or an
administrator everything (the quarantine, failed mails, out-of-office notices too).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from ibmflow.access import Account
from ibmflow.i18n import N_
from ibmflow.requestkinds import KINDS
from ibmflow.services.common import definition_for
from ibmflow.services.context import Context
from ibmflow.storage.queries import attention as queries
from ibmflow.storage.queries.attention import Window
from ibmflow.storage.tables import InstitutionRow, ProcessRow, RequestRow

GROUP_CAP = 50  # the items listed per kind (the total is always exact)
WEEK_DAYS = 7  # "this week": what falls due within the next seven days
RECENT_DAYS = 14  # failed mails, bounces and out-of-office notices of the last fourteen days


@dataclass(frozen=True)
class Kind:
    """A kind of item on the desk: who sees it (a permission), its heading, the queries it sums."""

    name: str
    permission: str
    heading: str  # English, marked with N_; the page translates it
    parts: tuple[str, ...]


KINDS_SHOWN = (
    Kind("overdue_steps", "view", N_("Overdue steps"), ("overdue_steps",)),
    Kind("overdue_requests", "view", N_("Overdue requests"), ("overdue_requests",)),
    Kind("votes", "view", N_("Votes awaited"), ("votes",)),
    Kind("decisions", "decide", N_("Decisions open"), ("decisions",)),
    Kind("quarantine", "quarantine", N_("Replies in quarantine"), ("quarantine",)),
    Kind("failed_mails", "mail", N_("Mails that failed or bounced"), ("failed_mails", "bounces")),
    Kind("out_of_office", "request", N_("Out-of-office notices"), ("out_of_office",)),
    Kind("due_soon", "view", N_("Falling due this week"), ("steps_due_soon", "requests_due_soon")),
)


@dataclass(frozen=True)
class Item:
    """One thing to look at, with the address where it is acted on. Which fields are filled
    depends on its part: a step, a request, a vote, a decision, a received or a failed mail."""

    part: str  # the query it came from: overdue_steps, bounces, ...
    process: str
    process_title: str
    timezone: str
    url: str
    request_id: int | None = None
    object_id: int | None = None  # the decision, received mail or outgoing mail
    label: str = ""  # a request kind's English label (translated by the page), a decision's title
    step_title: str = ""
    institution: str = ""
    due_at: datetime | None = None
    working_days_overdue: int | None = None
    votes_cast: int | None = None
    sender: str = ""
    subject: str = ""
    reason: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class Group:
    """The items of one kind: the first `GROUP_CAP`, and how many there are in all."""

    kind: str
    heading: str
    total: int
    items: tuple[Item, ...]

    @property
    def more(self) -> int:
        """How many are not listed."""
        return self.total - len(self.items)


@dataclass(frozen=True)
class Desk:
    """What needs an account's attention, by kind (only the kinds its role sees)."""

    at: datetime
    week_end: datetime
    since: datetime
    groups: tuple[Group, ...]

    @property
    def total(self) -> int:
        return sum(g.total for g in self.groups)


def _window(ctx: Context, account: Account) -> Window:
    now = ctx.clock.now()
    return Window(
        account_id=None if account.processes is None else account.id,
        now=now,
        week_end=now + timedelta(days=WEEK_DAYS),
        since=now - timedelta(days=RECENT_DAYS),
    )


def kinds_for(account: Account) -> tuple[Kind, ...]:
    """The kinds of items an account's role sees."""
    return tuple(k for k in KINDS_SHOWN if account.may(k.permission))


NAVIGATION_CAP = 999  # the navigation counts this many items at most, then says "more than 999"


def attention_count(ctx: Context, account: Account, *, cap: int = NAVIGATION_CAP) -> int:
    """How many items need the account's attention, for the navigation on every page: one
    statement, each kind counted up to `cap` + 1 items, so that it costs the same however many
    there are. A result above `cap` means "more than `cap`" (the page itself counts them all)."""
    parts = tuple(p for k in kinds_for(account) for p in k.parts)
    if account.disabled or not parts:
        return 0
    with ctx.db.reading() as session:
        found = queries.counts(session, _window(ctx, account), parts, up_to=cap + 1)
    return min(sum(found.values()), cap + 1)


def desk(ctx: Context, account: Account, *, cap: int = GROUP_CAP) -> Desk:
    """What needs the account's attention, each kind's first `cap` items and exact total."""
    window = _window(ctx, account)
    kinds = () if account.disabled else kinds_for(account)
    parts = tuple(p for k in kinds for p in k.parts)
    with ctx.db.reading() as session:
        totals = queries.counts(session, window, parts)
        reader = _Reader(ctx, session, window, cap, captured=ctx.settings.smtp_host is None)
        groups = []
        for kind in kinds:
            items: list[Item] = []
            for part in kind.parts:
                if totals[part]:
                    items.extend(READERS[part](reader))
            if len(kind.parts) > 1:  # read from two tables: in the order of each, then capped
                if kind.name == "due_soon":  # the soonest due first
                    items.sort(key=lambda i: (i.due_at or window.now, i.process))
                else:  # failed and bounced mails: the newest first
                    items.sort(key=lambda i: i.at or window.now, reverse=True)
            groups.append(
                Group(
                    kind=kind.name,
                    heading=kind.heading,
                    total=sum(totals[p] for p in kind.parts),
                    items=tuple(items[:cap]),
                )
            )
    return Desk(at=window.now, week_end=window.week_end, since=window.since, groups=tuple(groups))


class _Reader:
    """Reads each part's rows and makes them items (step titles and calendars remembered)."""

    def __init__(
        self, ctx: Context, session: Session, window: Window, cap: int, *, captured: bool
    ) -> None:
        self.ctx, self.session, self.window, self.cap = ctx, session, window, cap
        self.captured = captured
        self._titles: dict[int, dict[str, str]] = {}

    def step_title(self, process: ProcessRow, step: str) -> str:
        titles = self._titles.get(process.definition_pk)
        if titles is None:
            definition = definition_for(self.ctx, self.session, process)
            titles = self._titles[process.definition_pk] = {
                s.id: str(s.title) for s in definition.steps
            }
        return titles.get(step, step.replace("_", " "))

    def late(self, process: ProcessRow, due: datetime, weekend: str | None = None) -> int:
        """Working days overdue: after the local due day up to today, in the institution's
        calendar for a request and the process's for a step (as the deadline report counts)."""
        calendar = self.ctx.calendar(process, weekend)
        return calendar.between(calendar.local_day(due), calendar.local_day(self.window.now))

    def stays(self, rows: Sequence[tuple[Any, ProcessRow]], part: str) -> list[Item]:
        return [
            Item(
                part=part,
                process=p.key,
                process_title=p.title,
                timezone=p.timezone,
                url=f"/p/{p.key}#blockers",
                step_title=self.step_title(p, stay.step),
                due_at=stay.due_at,
                working_days_overdue=self.late(p, stay.due_at) if part == "overdue_steps" else None,
            )
            for stay, p in rows
        ]

    def requests(self, rows: Sequence[queries.Addressed], part: str) -> list[Item]:
        return [self._request(r, i, p, part) for r, i, p in rows]

    def _request(self, r: RequestRow, i: InstitutionRow, p: ProcessRow, part: str) -> Item:
        overdue = (
            part != "requests_due_soon" and r.due_at is not None and r.due_at < self.window.now
        )
        anchor = f"decision-{r.decision_id}" if part == "votes" else f"request-{r.id}"
        kind = KINDS.get(r.kind)
        return Item(
            part=part,
            process=p.key,
            process_title=p.title,
            timezone=p.timezone,
            url=f"/p/{p.key}#{anchor}",
            request_id=r.id,
            object_id=r.decision_id,
            label=kind.source_label if kind else r.kind,
            step_title=self.step_title(p, r.step),
            institution=i.short_name,
            due_at=r.due_at,
            working_days_overdue=self.late(p, r.due_at, i.weekend)
            if overdue and r.due_at
            else None,
        )

    def decisions(self) -> list[Item]:
        rows = queries.open_decisions(self.session, self.window, self.cap)
        return [
            Item(
                part="decisions",
                process=p.key,
                process_title=p.title,
                timezone=p.timezone,
                url=f"/p/{p.key}#decision-{d.id}",
                object_id=d.id,
                label=d.title,
                step_title=self.step_title(p, d.step),
                votes_cast=cast,
                at=d.opened_at,
            )
            for d, p, cast in rows
        ]

    def received(self, rows: Sequence[tuple[Any, ProcessRow]], part: str) -> list[Item]:
        items = []
        for m, p in rows:
            if part == "quarantine":
                url = f"/p/{p.key}#inbound-{m.id}"
            elif m.request_id is not None:
                url = f"/p/{p.key}#request-{m.request_id}"
            else:
                url = f"/p/{p.key}#mail" if part == "bounces" else f"/p/{p.key}#requests"
            items.append(
                Item(
                    part=part,
                    process=p.key,
                    process_title=p.title,
                    timezone=p.timezone,
                    url=url,
                    request_id=m.request_id,
                    object_id=m.id,
                    sender=m.header_from or m.envelope_from or "",
                    subject=m.subject or "",
                    reason=m.reason or "",
                    at=m.received_at,
                )
            )
        return items

    def failed(self) -> list[Item]:
        rows = queries.failed_mails(self.session, self.window, self.cap)
        return [
            Item(
                part="failed_mails",
                process=p.key,
                process_title=p.title,
                timezone=p.timezone,
                url=f"/p/{p.key}/mail/{m.id}" if self.captured else f"/p/{p.key}#mail",
                request_id=m.request_id,
                object_id=m.id,
                sender=", ".join(m.to_addrs or []),
                subject=m.subject or m.kind,  # none: it failed before it could be rendered
                reason=(m.last_error or "")[:300],
                at=m.created_at,
            )
            for m, p in rows
        ]


def _rows(query: Callable[..., Any]) -> Callable[[_Reader], Any]:
    def read(reader: _Reader) -> Any:
        return query(reader.session, reader.window, reader.cap)

    return read


# part -> how its items are read
READERS: dict[str, Callable[[_Reader], list[Item]]] = {
    "overdue_steps": lambda r: r.stays(_rows(queries.overdue_stays)(r), "overdue_steps"),
    "steps_due_soon": lambda r: r.stays(_rows(queries.stays_due_soon)(r), "steps_due_soon"),
    "overdue_requests": lambda r: r.requests(
        _rows(queries.overdue_requests)(r), "overdue_requests"
    ),
    "votes": lambda r: r.requests(_rows(queries.votes_awaited)(r), "votes"),
    "requests_due_soon": lambda r: r.requests(
        _rows(queries.requests_due_soon)(r), "requests_due_soon"
    ),
    "decisions": lambda r: r.decisions(),
    "quarantine": lambda r: r.received(_rows(queries.quarantined)(r), "quarantine"),
    "bounces": lambda r: r.received(_rows(queries.bounces)(r), "bounces"),
    "out_of_office": lambda r: r.received(_rows(queries.out_of_office)(r), "out_of_office"),
    "failed_mails": lambda r: r.failed(),
}
