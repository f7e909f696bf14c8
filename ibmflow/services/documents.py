"""Attaching a document to a process: the content stored by SHA-256, the row, and its audit event."""

from __future__ import annotations

from datetime import datetime

from ibmflow.audit import AuditRecord, JSONValue
from ibmflow.errors import InvalidCommand
from ibmflow.facts import DOCUMENT_KINDS
from ibmflow.services.context import Context
from ibmflow.storage.db import Tx
from ibmflow.storage.tables import DocumentRow, ProcessRow


def attach(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    *,
    content: bytes,
    filename: str,
    kind: str,
    step: str,
    actor: str,
    now: datetime,
    detail: dict[str, JSONValue] | None = None,
) -> DocumentRow:
    """Store `content` once per digest and attach it to `step` of the process, in the caller's
    transaction; the audit event records the digest, so the file can be checked later."""
    if kind not in DOCUMENT_KINDS:
        raise InvalidCommand(f"unknown document kind {kind!r}; one of {', '.join(DOCUMENT_KINDS)}.")
    blob = ctx.documents.put(content)
    row = DocumentRow(
        process_id=process.id or 0,
        step=step,
        kind=kind,
        filename=(filename or "attachment")[:255],
        sha256=blob.sha256,
        size=blob.size,
        uploaded_by=actor,
        uploaded_at=now,
    )
    tx.session.add(row)
    tx.session.flush()
    tx.audit(
        AuditRecord(
            at=now,
            actor=actor,
            action="document.attached",
            process=process.key,
            entity=f"document:{row.id}",
            after={
                "kind": kind,
                "filename": row.filename,
                "sha256": blob.sha256,
                "size": blob.size,
                "step": step,
                **(detail or {}),
            },
        )
    )
    return row
