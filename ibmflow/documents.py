"""Content-addressed storage of attached documents under the data folder, by SHA-256; files received
from the web are streamed into its `.incoming` folder first, then moved in; file names are made safe.

Every failure of the disk (full, over quota, read-only, not a folder) becomes a StorageFailed that
says what to do, never a raw OSError.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from ibmflow.errors import InvalidCommand, StorageFailed
from ibmflow.i18n import _

MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
INCOMING = ".incoming"
_READ_CHUNK = 1024 * 1024
MAX_NAME = 255


def safe_filename(name: str) -> str:
    """The name a file is kept under: no folder (either slash), no control or invisible formatting
    character, no leading dot or space, at most 255 characters; "attachment" when nothing is left."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    visible = "".join(c for c in base if not unicodedata.category(c).startswith(("C", "Zl", "Zp")))
    clean = visible.strip().lstrip(".").strip()
    if not clean:
        return "attachment"
    if len(clean) > MAX_NAME:
        stem, dot, extension = clean.rpartition(".")
        if dot and len(extension) < 16:
            return stem[: MAX_NAME - len(extension) - 1] + "." + extension
        return clean[:MAX_NAME]
    return clean


def storage_failed(exc: OSError, where: Path) -> StorageFailed:
    """The error to show for a disk failure while storing a file under `where`."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        text = _(
            "no space left on the disk of %(where)s (or its quota is used up): free space and "
            "retry; nothing was recorded.",
            where=where,
        )
    elif exc.errno == errno.EROFS:
        text = _(
            "%(where)s is on a read-only file system: make it writable and retry; nothing was "
            "recorded.",
            where=where,
        )
    elif exc.errno == errno.EFBIG:
        text = _(
            "the file is too large for the file system of %(where)s: send a smaller one, or raise "
            "the limit; nothing was recorded.",
            where=where,
        )
    else:
        text = _(
            "cannot store the file in %(where)s: %(error)s; check that it is a writable folder "
            "and retry; nothing was recorded.",
            where=where,
            error=exc.strerror or exc,
        )
    return StorageFailed(text)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


@dataclass(frozen=True)
class StoredBlob:
    """A stored file's fingerprint."""

    sha256: str
    size: int


@dataclass
class Incoming:
    """A file being received into a folder, chunk by chunk (a web upload), counted as it grows."""

    folder: Path
    path: Path = field(init=False)
    size: int = 0
    _fd: int = field(init=False, default=-1)

    def __post_init__(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=self.folder, prefix="upload-")
        except OSError as exc:
            raise storage_failed(exc, self.folder) from None
        self._fd, self.path = fd, Path(name)

    def write(self, data: bytes) -> None:
        """Append a chunk (StorageFailed when the disk refuses it)."""
        try:
            _write_all(self._fd, data)
        except OSError as exc:
            self.discard()
            raise storage_failed(exc, self.folder) from None
        self.size += len(data)

    def finish(self) -> None:
        """Flush the file to disk and close it."""
        try:
            os.fsync(self._fd)
        except OSError as exc:
            self.discard()
            raise storage_failed(exc, self.folder) from None
        self._close()

    def discard(self) -> None:
        """Close and remove the file (a refused or abandoned upload)."""
        self._close()
        self.path.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class DocumentStore:
    """Files kept once per content at `documents/ab/abcdef...`; writes are atomic (temp + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def incoming(self) -> Path:
        """Where files received from the web wait until their answer is recorded (same disk)."""
        return self.root / INCOMING

    def path_of(self, sha256: str) -> Path:
        """Where the content with this digest lives."""
        return self.root / sha256[:2] / sha256

    def put(self, content: bytes) -> StoredBlob:
        """Store content (idempotent) and return its digest and size."""
        if len(content) > MAX_DOCUMENT_BYTES:
            raise InvalidCommand(
                _(
                    "the document is %(size)s bytes; the limit is %(limit)s "
                    "bytes. Split or compress it.",
                    size=len(content),
                    limit=MAX_DOCUMENT_BYTES,
                )
            )
        digest = hashlib.sha256(content).hexdigest()
        target = self.path_of(digest)
        if target.exists():
            return StoredBlob(sha256=digest, size=len(content))
        tmp = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            try:
                _write_all(fd, content)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, target)
        except OSError as exc:
            raise storage_failed(exc, self.root) from None
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
        return StoredBlob(sha256=digest, size=len(content))

    def put_received(self, path: Path) -> StoredBlob:
        """Move a file received into `incoming` into the store (idempotent: a copy already stored
        is kept and the received one removed)."""
        digest, size = hashlib.sha256(), 0
        try:
            with path.open("rb") as received:
                while chunk := received.read(_READ_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
            target = self.path_of(digest.hexdigest())
            if target.exists():
                path.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
        except OSError as exc:
            raise storage_failed(exc, self.root) from None
        return StoredBlob(sha256=digest.hexdigest(), size=size)

    def put_file(self, path: Path) -> StoredBlob:
        """Store a file from disk."""
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
        return self.put(content)

    def read(self, sha256: str) -> bytes:
        """The content with this digest (verified on the way out)."""
        content = self.path_of(sha256).read_bytes()
        if hashlib.sha256(content).hexdigest() != sha256:
            raise InvalidCommand(
                _(
                    "stored document %(sha256)s is corrupted on disk; restore it from a backup.",
                    sha256=sha256,
                )
            )
        return content
