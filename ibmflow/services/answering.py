"""Recording an answer on its request (in the caller's transaction, for the one intake,
`services.intake`): its files attached, its links consumed, `request.answered` on the audit chain,
and a receipt mailed to the answerer, threaded under the request."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ibmflow.audit import JSONValue
from ibmflow.requestkinds import KINDS
from ibmflow.services import documents, mailings
from ibmflow.services.context import Context
from ibmflow.services.documents import Upload
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import answers as queries
from ibmflow.storage.tables import InstitutionRow, ProcessRow, RequestRow


def _files(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    request: RequestRow,
    uploads: Sequence[Upload],
    actor: str,
    now: datetime,
) -> list[int]:
    ids = []
    for upload in uploads:
        row = documents.attach(
            ctx,
            tx,
            process,
            upload,
            kind="other",
            step=request.step,
            actor=actor,
            now=now,
            detail={"request": request.id},
        )
        ids.append(row.id or 0)
    return ids


def record(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    request: RequestRow,
    now: datetime,
    *,
    via: str,
    actor: str,
    text: str | None,
    fields: dict[str, Any],
    uploads: Sequence[Upload] = (),
    detail: dict[str, JSONValue] | None = None,
) -> None:
    """Record an answer on a request (in the caller's transaction), consume its links, and send the
    answerer a receipt threaded under the request."""
    document_ids = _files(ctx, tx, process, request, uploads, actor, now)
    request.status, request.answered_at, request.answered_via = "answered", now, via
    request.answered_by, request.answer_text = actor, text
    request.answer_fields = {**fields, **({"documents": document_ids} if document_ids else {})}
    tx.session.add(request)
    for link in queries.unused_links(tx.session, request.id or 0):
        link.used_at = now
        tx.session.add(link)
    tx.acting(actor, now, process.key).record(
        "request.answered",
        f"request:{request.id}",
        after={
            "kind": request.kind,
            "via": via,
            "text": text,
            "fields": dict(request.answer_fields),
            **(detail or {}),
        },
    )
    if via != "cli" and "@" in actor:
        institution = tx.session.get(InstitutionRow, request.institution_id)
        assert institution is not None
        mailings.send(
            ctx,
            tx,
            process,
            "answer_receipt",
            [actor],
            {
                "institution": {"name": institution.name, "short_name": institution.short_name},
                "request": {
                    "id": request.id,
                    "kind_label": KINDS[request.kind].source_label,
                    "answered_at": now,
                    "via": via,
                },
            },
            now,
            request_id=request.id,
            thread=[request.message_id] if request.message_id else [],
        )
