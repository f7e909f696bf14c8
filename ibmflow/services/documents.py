"""Attaching a document to a process: the content stored by SHA-256, the row, and its audit event;
and the one check of the files sent with an answer or from a console form."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ibmflow.audit import AuditRecord, JSONValue
from ibmflow.documents import safe_filename
from ibmflow.errors import InvalidCommand
from ibmflow.facts import DOCUMENT_KINDS
from ibmflow.services.context import Context
from ibmflow.storage.db import Tx
from ibmflow.storage.tables import DocumentRow, ProcessRow


@dataclass(frozen=True)
class Upload:
    """A file sent with an answer or from a console form: its bytes (a reply's attachment, a file
    read by the command line), or the file the web form was streamed into (`path`, under the
    store's incoming folder), moved into the store when the answer is recorded."""

    filename: str
    content: bytes = b""
    path: Path | None = None

    @property
    def size(self) -> int:
        """How many bytes the file has."""
        return self.path.stat().st_size if self.path is not None else len(self.content)

    @property
    def data(self) -> bytes | Path:
        """What `attach` stores: the bytes, or the received file."""
        return self.path if self.path is not None else self.content


def upload_problems(ctx: Context, uploads: Sequence[Upload]) -> list[str]:
    """What is wrong with files sent together: a type not accepted, an empty file, more than
    `answers.max_upload_mb` in all (one sentence each, named by the file's safe name)."""
    limit_mb = ctx.settings.answers_max_upload_mb
    allowed = ctx.settings.answers_allowed_types
    problems = []
    sizes = [upload.size for upload in uploads]
    for upload, size in zip(uploads, sizes, strict=True):
        name = safe_filename(upload.filename)
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if extension not in allowed:
            problems.append(
                f"{name}: files of this type are not accepted; send {', '.join(allowed)}."
            )
        elif size == 0:
            problems.append(f"{name} is empty; choose the file again.")
    if len(uploads) == 1 and sizes[0] > limit_mb * 1024 * 1024:
        problems.append(f"{safe_filename(uploads[0].filename)}: larger than {limit_mb} MB.")
    elif sum(sizes) > limit_mb * 1024 * 1024:
        problems.append(
            f"The files are larger than {limit_mb} MB in all; send fewer or smaller files."
        )
    return problems


def attach(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    *,
    content: bytes | Path,
    filename: str,
    kind: str,
    step: str,
    actor: str,
    now: datetime,
    detail: dict[str, JSONValue] | None = None,
) -> DocumentRow:
    """Store `content` (bytes, or a file received under the store's incoming folder, moved in) once
    per digest and attach it to `step` of the process under a safe file name, in the caller's
    transaction; the audit event records the digest, so the file can be checked later."""
    if kind not in DOCUMENT_KINDS:
        raise InvalidCommand(f"unknown document kind {kind!r}; one of {', '.join(DOCUMENT_KINDS)}.")
    if isinstance(content, Path):
        blob = ctx.documents.put_received(content)
    else:
        blob = ctx.documents.put(content)
    row = DocumentRow(
        process_id=process.id or 0,
        step=step,
        kind=kind,
        filename=safe_filename(filename),
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
