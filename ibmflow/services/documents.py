"""Files, whatever the channel: the `Upload` every channel hands in, the one check of files sent
together (type, size, name), and attaching a document to a process (the content stored by SHA-256,
the row, and its audit event)."""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ibmflow.audit import JSONValue
from ibmflow.documents import safe_filename
from ibmflow.errors import InvalidCommand
from ibmflow.facts import DOCUMENT_KINDS
from ibmflow.i18n import _
from ibmflow.services.context import Context
from ibmflow.storage.db import Tx
from ibmflow.storage.tables import DocumentRow, ProcessRow


@dataclass(frozen=True)
class Upload:
    """A file sent with an answer or to attach, whatever the channel: its name, its type as the
    sender declared it, and its data: the bytes (a reply's attachment, a file the command line
    read), or the file a web form was streamed into (under the store's incoming folder, moved into
    the store when it is recorded, so a large upload is never held in memory)."""

    filename: str
    content_type: str = "application/octet-stream"
    data: bytes | Path = b""

    @classmethod
    def read(cls, path: Path) -> Upload:
        """A file on disk, read whole (what the command line attaches)."""
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise InvalidCommand(
                _(
                    "cannot read %(path)s: %(strerror)s; check the path.",
                    path=path,
                    strerror=exc.strerror,
                )
            ) from None
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return cls(path.name, kind, content)

    @property
    def path(self) -> Path | None:
        """The received file the data is in (None when the data is in memory)."""
        return self.data if isinstance(self.data, Path) else None

    @property
    def size(self) -> int:
        """How many bytes the file has."""
        return self.data.stat().st_size if isinstance(self.data, Path) else len(self.data)


def _problem(ctx: Context, upload: Upload, size: int) -> str | None:
    name = safe_filename(upload.filename)
    allowed = ctx.settings.answers_allowed_types
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in allowed:
        return f"{name}: files of this type are not accepted; send {', '.join(allowed)}."
    if size == 0:
        return f"{name} is empty; choose the file again."
    return None


def check_uploads(ctx: Context, uploads: Sequence[Upload]) -> tuple[list[Upload], list[str]]:
    """The one check of files sent together, from any channel: those that pass, and what is wrong
    with the others (a type not in `answers.allowed_types`, an empty file, more than
    `answers.max_upload_mb` in all), one sentence each, named by the file's safe name.

    A file that would take the files past the limit is refused, the earlier ones pass."""
    limit = ctx.settings.answers_max_upload_mb * 1024 * 1024
    passed: list[Upload] = []
    problems: list[str] = []
    total, too_large = 0, 0
    for upload in uploads:
        size = upload.size
        problem = _problem(ctx, upload, size)
        if problem is not None:
            problems.append(problem)
        elif total + size > limit:
            too_large += 1
        else:
            passed.append(upload)
            total += size
    limit_mb = ctx.settings.answers_max_upload_mb
    if too_large and len(uploads) == 1:
        problems.append(f"{safe_filename(uploads[0].filename)}: larger than {limit_mb} MB.")
    elif too_large:
        problems.append(
            f"The files are larger than {limit_mb} MB in all; send fewer or smaller files."
        )
    return passed, problems


def upload_problems(ctx: Context, uploads: Sequence[Upload]) -> list[str]:
    """What is wrong with files sent together (`check_uploads`), nothing when all pass."""
    return check_uploads(ctx, uploads)[1]


def checked_upload(ctx: Context, upload: Upload | None, what: str) -> Upload:
    """One file to attach, checked (`check_uploads`); InvalidCommand saying what is wrong, or that
    `what` was not chosen at all."""
    if upload is None:
        raise InvalidCommand(_("%(what)s is required: choose the file.", what=what))
    problems = upload_problems(ctx, [upload])
    if problems:
        raise InvalidCommand(" ".join(problems))
    return upload


def attach(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    upload: Upload,
    *,
    kind: str,
    step: str,
    actor: str,
    now: datetime,
    detail: dict[str, JSONValue] | None = None,
) -> DocumentRow:
    """Store the upload's data (bytes, or a file received under the store's incoming folder, moved
    in) once per digest and attach it to `step` of the process under a safe file name, in the
    caller's transaction; the audit event records the digest, so the file can be checked later."""
    if kind not in DOCUMENT_KINDS:
        raise InvalidCommand(
            _(
                "unknown document kind %(kind)r; one of %(kinds)s.",
                kind=kind,
                kinds=", ".join(DOCUMENT_KINDS),
            )
        )
    if isinstance(upload.data, Path):  # a web form's file, streamed to the store's incoming folder
        blob = ctx.documents.put_received(upload.data)
    else:
        blob = ctx.documents.put(upload.data)
    row = DocumentRow(
        process_id=process.id or 0,
        step=step,
        kind=kind,
        filename=safe_filename(upload.filename),
        sha256=blob.sha256,
        size=blob.size,
        uploaded_by=actor,
        uploaded_at=now,
    )
    tx.session.add(row)
    tx.session.flush()
    tx.acting(actor, now, process.key).record(
        "document.attached",
        f"document:{row.id}",
        after={
            "kind": kind,
            "filename": row.filename,
            "sha256": blob.sha256,
            "size": blob.size,
            "step": step,
            **(detail or {}),
        },
    )
    return row
