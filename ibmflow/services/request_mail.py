"""The mail that carries a request: one per addressee, each with a link of its own.

A request's link carries a token of 192 random bits; only its SHA-256 is stored, with an expiry (the
due date plus a grace period). Looking at a link never consumes it; answering does.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from ibmflow import i18n
from ibmflow.requestkinds import KINDS
from ibmflow.services import languages, mailings, outbox
from ibmflow.services.common import definition_for
from ibmflow.services.context import Context
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import outbox as outbox_queries
from ibmflow.storage.queries import requests as requests_queries
from ibmflow.storage.shapes import Institution, Person, Request
from ibmflow.storage.tables import DecisionRow, ProcessRow, RequestRow


def token_hash(token: str) -> str:
    """The stored form of a link token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def mail_request(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    request: Request,
    institution: Institution,
    people: Sequence[Person],
    now: datetime,
    *,
    representing: Mapping[int, Person] | None = None,
    thread: Sequence[str] = (),
    dedupe_key: str | None = None,
    template: str | None = None,
    extra: dict[str, Any] | None = None,
    into: outbox.MailRows | None = None,
    message_id_kept: bool = False,
) -> list[str]:
    """One mail per person, each with a link of its own; returns the Message-IDs.

    The first mail's Message-ID becomes the request's, under which reminders and receipts thread.
    A reminder passes its own `template` and `extra` context, and the request's thread. The mails
    and their tokens are written at once (a statement each), or kept in `into` for the caller,
    which then stores the Message-ID of a request row too (a record's is stored at once, unless
    `message_id_kept`: the caller stores those of a batch of new requests, `requests.send_all`).
    """
    definition_title = mailings.step_title(ctx, tx, process, request.step)
    definition = definition_for(ctx, tx.session, process)
    instructions: dict[str, str] = {}  # the request's instructions in each reader's language
    decision = tx.session.get(DecisionRow, request.decision_id) if request.decision_id else None
    expires = (request.due_at or now) + timedelta(days=ctx.settings.mail_token_grace_days)
    kind = template or KINDS[request.kind].template
    reply_to = mailings.reply_address(ctx, request.reply_key or "")
    base = mailings.base_context(ctx, tx, process)
    tokens, mails = [], []
    for person in people:
        token = secrets.token_urlsafe(24)
        tokens.append(
            {
                "request_id": request.id or 0,
                "person_id": person.id,
                "token_hash": token_hash(token),
                "created_at": now,
                "expires_at": expires,
                "used_at": None,
            }
        )
        rep = (representing or {}).get(person.id or 0)
        lang = languages.of_person(ctx, tx, process, person)
        if lang not in instructions:
            with i18n.using(lang):
                instructions[lang] = definition.instructions(
                    request.step, request.kind, request.instructions
                )
        context: dict[str, Any] = {
            "recipient": {"name": person.name, "email": person.email},
            "institution": {
                "code": institution.code,
                "name": institution.name,
                "short_name": institution.short_name,
            },
            "request": {
                "id": request.id,
                "kind": request.kind,
                "kind_label": KINDS[request.kind].source_label,
                "instructions": instructions[lang],
                "due_at": request.due_at,
            },
            "step": {"id": request.step, "title": definition_title},
            "link": f"{ctx.settings.mail_base_url}/r/{token}",
            "decision": {"id": decision.id, "title": decision.title} if decision else None,
            "representing": {"name": rep.name} if rep else None,
            **(extra or {}),
        }
        mail = outbox.deferred({**base, **context}, lang)
        mails.append(
            outbox.row_values(
                kind=kind,
                to=[person.email],
                mail=mail,
                now=now,
                domain=mailings.domain(ctx),
                process_id=process.id,
                request_id=request.id,
                reply_to=reply_to,
                thread=thread,
                dedupe_key=f"{dedupe_key}:{person.id}" if dedupe_key else None,
            )
        )
    if into is not None:
        into.tokens += tokens
        into.mails += mails
    else:  # Core inserts, one statement each for all the addressees (no ORM objects to flush)
        requests_queries.add_link_tokens(tx.session, tokens)
        outbox_queries.add_mails(tx.session, mails)
    ids = [str(m["message_id"]) for m in mails]
    if ids and request.message_id is None:
        request.message_id = ids[0]
        if message_id_kept:
            pass  # the caller stores it with the other new requests' (`requests.send_all`)
        elif not isinstance(request, RequestRow):  # a record (a sweep's batch reads them): now
            requests_queries.set_message_ids(tx.session, {request.id or 0: ids[0]})
        elif into is None:
            tx.session.add(request)  # written with the session's other changes
    return ids
