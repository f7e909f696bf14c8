"""The outbox: every mail is a row written in the transaction of the event that causes it.

A dispatcher sends the rows afterwards; nothing is sent from inside a transaction, and no row is ever
deleted. Each row carries its own `Message-ID`, so a retry re-sends the very same message.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ibmflow.mail.headers import clean_address, clean_header
from ibmflow.mail.render import Rendered
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import outbox as queries
from ibmflow.storage.queries import requests as request_queries


def new_message_id(domain: str) -> str:
    """A globally unique Message-ID under ibmflow's own domain."""
    return f"<ibmflow.{uuid.uuid4().hex}@{domain}>"


def row_values(
    *,
    kind: str,
    to: Sequence[str],
    mail: Rendered,
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
    """
    return {
        "kind": kind,
        "to_addrs": sorted({clean_address(address) for address in to}),
        "subject": clean_header(mail.subject),
        "text_body": mail.text,
        "html_body": mail.html,
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
    mail: Rendered,
    now: datetime,
    domain: str,
    process_id: int | None = None,
) -> list[str]:
    """Write the same mail once per address (each row to one person alone), with one statement for
    all of them; return their Message-IDs, in the order of `to`."""
    rows = [
        row_values(
            kind=kind, to=[address], mail=mail, now=now, domain=domain, process_id=process_id
        )
        for address in dict.fromkeys(clean_address(address) for address in to)
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
