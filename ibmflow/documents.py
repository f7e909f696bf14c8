"""Content-addressed storage of attached documents under the data folder, by SHA-256."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ibmflow.errors import InvalidCommand

MAX_DOCUMENT_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class StoredBlob:
    """A stored file's fingerprint."""

    sha256: str
    size: int


class DocumentStore:
    """Files kept once per content at `documents/ab/abcdef...`; writes are atomic (temp + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        """Where the content with this digest lives."""
        return self.root / sha256[:2] / sha256

    def put(self, content: bytes) -> StoredBlob:
        """Store content (idempotent) and return its digest and size."""
        if len(content) > MAX_DOCUMENT_BYTES:
            raise InvalidCommand(
                f"the document is {len(content)} bytes; the limit is "
                f"{MAX_DOCUMENT_BYTES} bytes. Split or compress it."
            )
        digest = hashlib.sha256(content).hexdigest()
        target = self.path_of(digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(content)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        return StoredBlob(sha256=digest, size=len(content))

    def put_file(self, path: Path) -> StoredBlob:
        """Store a file from disk."""
        try:
            return self.put(path.read_bytes())
        except OSError as exc:
            raise InvalidCommand(f"cannot read {path}: {exc.strerror}; check the path.") from None

    def read(self, sha256: str) -> bytes:
        """The content with this digest (verified on the way out)."""
        content = self.path_of(sha256).read_bytes()
        if hashlib.sha256(content).hexdigest() != sha256:
            raise InvalidCommand(
                f"stored document {sha256} is corrupted on disk; restore it from a backup."
            )
        return content
