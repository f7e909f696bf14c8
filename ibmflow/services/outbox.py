"""The outbox: every mail is a row written in the transaction of the event that causes it.

A dispatcher sends the rows afterwards; nothing is sent from inside a transaction, and no row is ever
deleted. Each row carries its own `Message-ID`, so a retry re-sends the very same message.

A command writes what a mail says, not its text: its kind, its template context (`mail.stored`) and
its reader's language (`Deferred`). The dispatcher renders it when it sends it and keeps the text it
sent on the row; a first try's text is the text of every retry. Rendering is most of what a mail
costs, and a sweep writes thousands: measured in `bench/README.md` ("Rendering at dispatch").
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ibmflow.mail import stored
from ibmflow.mail.compose import OutboxMail
from ibmflow.mail.headers import clean_address, clean_header
from ibmflow.mail.render import Rendered, Renderer
from ibmflow.services.context import Context
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import outbox as queries
from ibmflow.storage.queries import requests as request_queries

_renderers: dict[tuple[Path, str], Renderer] = {}


def renderer(ctx: Context) -> Renderer:
    """The notification templates of this deployment (loaded once)."""
    key = (ctx.settings.notifications_dir, ctx.settings.language)
    if key not in _renderers:
        _renderers[key] = Renderer(*key)
    return _renderers[key]


@dataclass(frozen=True)
class Deferred:
    """A mail to be rendered when it is sent: its template context as stored text, and the
    language it is written in."""

    context: str
    language: str


def deferred(context: Mapping[str, Any], language: str) -> Deferred:
    """What a mail of `context` says, kept for rendering in `language` at dispatch."""
    return Deferred(stored.dumps(context, language), language)


class Unrendered(Protocol):
    """What rendering an outbox row reads of it (`OutboxRow`, `queries.outbox.Claimed`)."""

    @property
    def kind(self) -> str: ...
    @property
    def template_context(self) -> str | None: ...
    @property
    def language(self) -> str | None: ...


def render(ctx: Context, row: Unrendered) -> Rendered:
    """The text of a mail kept unrendered; InvalidCommand (a template missing or using a value the
    context lacks) or ValueError (a context that is not one) if it cannot be rendered."""
    if row.template_context is None:
        raise ValueError("the mail has neither a text nor a context to render it from")
    context = stored.loads(row.template_context)
    return renderer(ctx).render(row.kind, context, row.language)


class Stored(Unrendered, OutboxMail, Protocol):
    """An outbox row, rendered (its text, as composing reads it) or not (its context)."""


def text_of(ctx: Context, row: Stored) -> Rendered:
    """A mail's text: as it was sent, or as the dispatcher will render it."""
    if row.text_body is not None:
        return Rendered(subject=row.subject or "", text=row.text_body, html=row.html_body or "")
    mail = render(ctx, row)
    return dataclasses.replace(mail, subject=clean_header(mail.subject))  # as the row will keep it


_Row = TypeVar("_Row")


def with_text(ctx: Context, row: _Row) -> _Row:
    """The row, with its text rendered when it has none yet (a pending mail): a copy for a
    dataclass (`Claimed`), the same object for an ORM row, which the caller must not write back
    (the console shows it from a read-only session)."""
    if (
        getattr(row, "text_body", None) is not None
        or getattr(row, "template_context", None) is None
    ):
        return row
    mail = render(ctx, row)  # type: ignore[arg-type]
    text = {"subject": clean_header(mail.subject), "text_body": mail.text, "html_body": mail.html}
    if dataclasses.is_dataclass(row):
        return dataclasses.replace(row, **text)  # type: ignore[type-var]
    for name, value in text.items():
        setattr(row, name, value)
    return row


def new_message_id(domain: str) -> str:
    """A globally unique Message-ID under ibmflow's own domain: 128 random bits in hex, as long
    as a UUID's and without building one (a step writes some fourteen mails)."""
    return f"<ibmflow.{secrets.token_hex(16)}@{domain}>"


def row_values(
    *,
    kind: str,
    to: Sequence[str],
    mail: Rendered | Deferred,
    now: datetime,
    domain: str,
    process_id: int | None = None,
    request_id: int | None = None,
    reply_to: str | None = None,
    thread: Sequence[str] = (),
    dedupe_key: str | None = None,
) -> dict[str, Any]:
    """Every column of a new outbox row (but its id): the addresses and headers cleaned, a new
    Message-ID, due now.

    `thread` lists the Message-IDs this mail follows, oldest first: the last becomes `In-Reply-To`,
    all of them `References`, so a follow-up shows under the original request in the mail client.
    A `Deferred` mail is kept unrendered (its context and language), a `Rendered` one whole.
    """
    if isinstance(mail, Deferred):
        text: dict[str, Any] = {"subject": None, "text_body": None, "html_body": None}
        said: dict[str, Any] = {"template_context": mail.context, "language": mail.language}
    else:
        text = {
            "subject": clean_header(mail.subject),
            "text_body": mail.text,
            "html_body": mail.html,
        }
        said = {"template_context": None, "language": None}
    return {
        "kind": kind,
        "to_addrs": sorted({clean_address(address) for address in to}),
        **text,
        **said,
        "message_id": new_message_id(domain),
        "reply_to": clean_address(reply_to) if reply_to else None,
        "in_reply_to": thread[-1] if thread else None,
        "references": " ".join(thread) if thread else None,
        "process_id": process_id,
        "request_id": request_id,
        "dedupe_key": dedupe_key,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "claimed_until": None,
        "claimed_by": None,
        "last_error": None,
        "created_at": now,
        "sent_at": None,
    }


def enqueue_each(
    tx: Tx,
    *,
    kind: str,
    to: Sequence[str],
    mail: Rendered | Deferred,
    now: datetime,
    domain: str,
    process_id: int | None = None,
) -> list[str]:
    """Write the same mail once per address (each row to one person alone), with one statement for
    all of them; return their Message-IDs, in the order of `to`."""
    addresses = list(dict.fromkeys(clean_address(address) for address in to))
    if not addresses:
        return []
    # The rows differ only in their address and Message-ID: the first one's columns, copied.
    first = row_values(
        kind=kind, to=addresses[:1], mail=mail, now=now, domain=domain, process_id=process_id
    )
    rows = [first] + [
        {**first, "to_addrs": [address], "message_id": new_message_id(domain)}
        for address in addresses[1:]
    ]
    queries.add_mails(tx.session, rows)
    return [str(row["message_id"]) for row in rows]


@dataclass
class MailRows:
    """Outbox rows and link tokens kept to be written together (a sweep's batch writes its mails
    with one statement for the outbox and one for the tokens, not two per mail)."""

    mails: list[dict[str, Any]] = field(default_factory=list)
    tokens: list[dict[str, Any]] = field(default_factory=list)

    def write(self, tx: Tx) -> None:
        """Write what was kept, in the order it was kept, in the caller's transaction."""
        request_queries.add_link_tokens(tx.session, self.tokens)
        queries.add_mails(tx.session, self.mails)
        self.mails, self.tokens = [], []
