"""Reading a process's audit history as people do: the filters a coordinator gives (checked, with
what is wrong said), a page of the events they keep, newest first, and every one of them for an
export, each event in words (`audit_text`) with its time in the process's time zone.

The filters arrive as the text the form sent (`AuditAsked`); `audit_filter` turns them into the
query's `EventFilter` or refuses them with `InvalidCommand`. Mail deliveries (one event per mail
sent) are left out unless asked for (`deliveries`) or filtered on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from ibmflow import audit_text
from ibmflow.audit import ChainedEvent, JSONValue, utc_text
from ibmflow.errors import InvalidCommand
from ibmflow.i18n import N_, _, format_datetime, format_short_datetime, language, using, zone_name
from ibmflow.services.common import definition_for
from ibmflow.services.context import Context
from ibmflow.storage import repository as repo
from ibmflow.storage.queries import audit as queries
from ibmflow.storage.queries.audit import EventFilter
from ibmflow.storage.tables import ProcessRow

EXPORT_BATCH = 1000  # events read at a time by an export
_ACTOR_MAX = 254


@dataclass(frozen=True)
class AuditAsked:
    """The filters as the form sends them ("" for none): an action, part of an actor's address,
    a kind of entity, the first and last local days (YYYY-MM-DD), and whether to show mail
    deliveries."""

    action: str = ""
    actor: str = ""
    entity: str = ""
    since: str = ""
    until: str = ""
    deliveries: bool = False

    @classmethod
    def of(cls, params: Mapping[str, str]) -> AuditAsked:
        """The filters of a query string (unknown parameters ignored)."""
        return cls(
            action=params.get("action", "").strip(),
            actor=params.get("actor", "").strip(),
            entity=params.get("entity", "").strip(),
            since=params.get("from", "").strip(),
            until=params.get("to", "").strip(),
            deliveries=params.get("deliveries", "") in ("1", "on", "show"),
        )

    def query(self) -> dict[str, str]:
        """The filters as query parameters (those given only), for links that keep them."""
        given = {
            "action": self.action,
            "actor": self.actor,
            "entity": self.entity,
            "from": self.since,
            "to": self.until,
            "deliveries": "1" if self.deliveries else "",
        }
        return {name: value for name, value in given.items() if value}


@dataclass(frozen=True)
class AuditLine:
    """One event as the page and the exports show it."""

    seq: int
    at: datetime  # UTC
    at_local: str  # short, in the process's zone
    at_full: str  # with the weekday and the zone named
    actor: str  # as recorded
    who: str  # as people say it
    on_behalf_of: str | None
    action: str
    action_label: str
    description: str
    entity: str | None
    entity_label: str
    href: str | None  # where the entity is shown, when it is
    reason: str | None
    before: JSONValue
    after: JSONValue
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditPage:
    """A page of a process's history: the filters, how many events they keep, this page's."""

    key: str
    timezone: str
    zone: str  # the time zone as people name it
    asked: AuditAsked
    total: int
    lines: tuple[AuditLine, ...]
    actions: tuple[tuple[str, str], ...]  # the filter's choices: (action, label), by label
    entity_kinds: tuple[tuple[str, str], ...]


def _day(text: str, refusal: str) -> date | None:
    """A day written YYYY-MM-DD (None for none); `refusal` says what is wrong otherwise."""
    if not text:
        return None
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidCommand(_(refusal, value=text)) from None


def audit_filter(process: ProcessRow, asked: AuditAsked) -> EventFilter:
    """The query's filter for what was asked, the days taken in the process's time zone; every
    value that cannot be used refused with what to give instead."""
    if asked.action and asked.action not in audit_text.ACTIONS:
        raise InvalidCommand(
            _("There is no action %(value)r: choose one from the list.", value=asked.action)
        )
    if asked.entity and asked.entity not in audit_text.ENTITY_KINDS:
        raise InvalidCommand(
            _("There is no kind of entity %(value)r: choose one from the list.", value=asked.entity)
        )
    if len(asked.actor) > _ACTOR_MAX:
        raise InvalidCommand(
            _(
                "The actor is longer than %(max)s characters: give part of an address.",
                max=_ACTOR_MAX,
            )
        )
    since = _day(asked.since, N_("The first day %(value)r is not a date: write it as 2026-03-31."))
    until = _day(asked.until, N_("The last day %(value)r is not a date: write it as 2026-03-31."))
    if since and until and since > until:
        raise InvalidCommand(
            _(
                "The first day (%(since)s) comes after the last (%(until)s): swap them.",
                since=asked.since,
                until=asked.until,
            )
        )
    zone = ZoneInfo(process.timezone)

    def start(day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=zone)

    shown = asked.deliveries or asked.action == audit_text.DELIVERED
    return EventFilter(
        action=asked.action or None,
        hidden=() if shown else (audit_text.DELIVERED,),
        actor=asked.actor or None,
        entity_kind=asked.entity or None,
        since=start(since) if since else None,
        until=start(until + timedelta(days=1)) if until else None,
    )


class _Namer:
    """Names the events of a process: its steps' titles, its requests' institutions (read once
    per batch of events), where each entity is shown."""

    def __init__(
        self, ctx: Context, session: Session, process: ProcessRow, mail_links: bool = True
    ) -> None:
        self.key, self.timezone = process.key, process.timezone
        self.process_id = process.id or 0
        self.session = session
        self.steps = {s.id: s.title for s in definition_for(ctx, session, process).steps}
        # a mail is shown only when captured, and only to whom may read the captured mail
        self.captured = mail_links and ctx.settings.smtp_host is None

    def lines(self, events: Sequence[ChainedEvent]) -> list[AuditLine]:
        ids = [int(i) for k, i in map(_entity_of, events) if k == "request" and i.isdigit()]
        institutions = queries.request_institutions(self.session, self.process_id, ids)
        return [self.line(e, institutions) for e in events]

    def href(self, kind: str, ident: str) -> str | None:
        if not ident.isdigit():
            return None
        if kind == "request":
            return f"/p/{self.key}#request-{ident}"
        if kind == "outbox" and self.captured:
            return f"/p/{self.key}/mail/{ident}"
        if kind == "document":
            return f"/p/{self.key}/documents/{ident}"
        return None

    def line(self, event: ChainedEvent, institutions: Mapping[int, str]) -> AuditLine:
        r = event.record
        kind, ident = _entity_of(event)
        entity = audit_text.entity_label(r.entity, self.steps)
        after = r.after if isinstance(r.after, dict) else {}
        to = after.get("to")
        institution = (
            institutions.get(int(ident), "") if kind == "request" and ident.isdigit() else ""
        )
        who = audit_text.actor_label(r.actor)
        parts = {
            "who": who,
            "entity": entity,
            "institution": institution,
            "to": ", ".join(str(t) for t in to) if isinstance(to, list) else "",
        }
        return AuditLine(
            seq=event.seq,
            at=r.at,
            at_local=format_short_datetime(r.at, self.timezone),
            at_full=format_datetime(r.at, self.timezone),
            actor=r.actor,
            who=who,
            on_behalf_of=r.on_behalf_of,
            action=r.action,
            action_label=audit_text.action_label(r.action),
            description=audit_text.describe(r.action, **parts),
            entity=r.entity,
            entity_label=entity,
            href=self.href(kind, ident),
            reason=r.reason,
            before=r.before,
            after=r.after,
            prev_hash=event.prev_hash,
            hash=event.hash,
        )


def _entity_of(event: ChainedEvent) -> tuple[str, str]:
    return audit_text.split_entity(event.record.entity)


def _choices(labels: Mapping[str, object], translate: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(((code, translate(code)) for code in labels), key=lambda c: c[1].lower()))


def audit_page(
    ctx: Context, key: str, asked: AuditAsked, offset: int, limit: int, *, mail_links: bool = True
) -> AuditPage:
    """The events of a process the filters keep, `limit` after the first `offset`, newest first
    (a mail linked to its page when `mail_links`: the reader may read the captured mail)."""
    with ctx.db.reading() as session:
        process = repo.get_process(session, key)
        wanted = audit_filter(process, asked)
        total = queries.count_matching(session, process.key, wanted)
        events = queries.newest_matching(session, process.key, wanted, offset, limit)
        lines = _Namer(ctx, session, process, mail_links).lines(events)
        return AuditPage(
            key=process.key,
            timezone=process.timezone,
            zone=zone_name(process.timezone),
            asked=asked,
            total=total,
            lines=tuple(lines),
            actions=_choices(audit_text.ACTIONS, audit_text.action_label),
            entity_kinds=_choices(audit_text.ENTITY_KINDS, lambda k: _(audit_text.ENTITY_KINDS[k])),
        )


@dataclass(frozen=True)
class AuditExport:
    """What an export says before its events: the process, its zone, and the events to come
    (read a batch at a time as they are written out)."""

    key: str
    timezone: str
    lines: Iterator[AuditLine]


def audit_export(ctx: Context, key: str, asked: AuditAsked) -> AuditExport:
    """Every event of a process the filters keep, in the chain's order (oldest first), up to the
    last one recorded now; the filters are checked before anything is written out."""
    with ctx.db.reading() as session:
        process = repo.get_process(session, key)
        wanted = audit_filter(process, asked)
        upto = queries.last_seq(session)
        key, zone = process.key, process.timezone
    lang = language()  # the export is written after the request's language block has ended

    def lines() -> Iterator[AuditLine]:
        after = 0
        while True:
            # One session per batch: the batches may be read from different threads.
            with using(lang), ctx.db.reading() as session:
                found = repo.get_process(session, key)
                batch = queries.matching_after(
                    session, found.key, wanted, after, upto, EXPORT_BATCH
                )
                if not batch:
                    return
                out = _Namer(ctx, session, found).lines(batch)
            yield from out
            after = batch[-1].seq

    return AuditExport(key, zone, lines())


def export_header(zone: str) -> tuple[str, ...]:
    """The columns of an audit export, in the reader's language."""
    return (
        _("Number"),
        _("Time (UTC)"),
        _("Time (%(zone)s)", zone=zone_name(zone)),
        _("Actor"),
        _("On behalf of"),
        _("Action"),
        _("Description"),
        _("Entity"),
        _("Reason"),
        _("Before"),
        _("After"),
        _("Previous hash"),
        _("Hash"),
    )


def export_row(line: AuditLine, zone: str) -> tuple[str | int | None, ...]:
    """An event as a row under `export_header`: the recorded values and the chain's hashes."""
    return (
        line.seq,
        utc_text(line.at),
        line.at.astimezone(ZoneInfo(zone)).isoformat(timespec="seconds"),
        line.actor,
        line.on_behalf_of,
        line.action,
        line.description,
        line.entity,
        line.reason,
        _json(line.before),
        _json(line.after),
        line.prev_hash,
        line.hash,
    )


def export_json(line: AuditLine, zone: str) -> dict[str, JSONValue]:
    """An event as an object of the JSON export."""
    return {
        "seq": line.seq,
        "at": utc_text(line.at),
        "at_local": line.at.astimezone(ZoneInfo(zone)).isoformat(timespec="seconds"),
        "actor": line.actor,
        "on_behalf_of": line.on_behalf_of,
        "action": line.action,
        "description": line.description,
        "entity": line.entity,
        "reason": line.reason,
        "before": line.before,
        "after": line.after,
        "prev_hash": line.prev_hash,
        "hash": line.hash,
    }


def _json(value: JSONValue) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)
