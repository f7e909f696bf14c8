"""Reading a posted form as it arrives: text fields kept in memory (capped), each file streamed to a
temporary file under the document store's incoming folder, and the caps checked on every chunk, so
that reading stops as soon as the files together pass `files_cap` (BodyTooLarge) instead of after
the whole body is in. The temporary files are removed when the form is closed (those recorded were
moved into the store by then).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from ibmflow.documents import Incoming
from ibmflow.services.documents import Upload
from ibmflow.web.common import BodyTooLarge, Capped


class FormUnreadable(Exception):
    """The body is not a form we can read (malformed, too many fields or files); says why."""


@dataclass
class Received:
    """A posted form: its text fields, and its files by field name (each on disk)."""

    fields: FormData
    files: list[tuple[str, Upload]] = field(default_factory=list)

    def uploads(self, name: str) -> list[Upload]:
        """The files sent in field `name` (an empty file input sends none)."""
        return [upload for field_name, upload in self.files if field_name == name]

    def remove(self) -> None:
        """Remove the temporary files still there (those recorded were moved into the store)."""
        for _, upload in self.files:
            if upload.path is not None:
                upload.path.unlink(missing_ok=True)


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    content_type: str = "application/octet-stream"
    data: bytearray = field(default_factory=bytearray)
    file: Incoming | None = None


class _Multipart:
    """python-multipart's callbacks, with the caps; runs in a worker thread (files are written)."""

    def __init__(
        self, folder: Path, files_cap: int, fields_cap: int, max_files: int, max_fields: int
    ) -> None:
        self.folder, self.files_cap, self.fields_cap = folder, files_cap, fields_cap
        self.max_files, self.max_fields = max_files, max_fields
        self.fields: list[tuple[str, str]] = []
        self.files: list[tuple[str, Upload]] = []
        self.open: list[Incoming] = []
        self.file_bytes = self.field_bytes = 0
        self.part = _Part()
        self.header_name = self.header_value = b""
        self.disposition = b""

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
        }

    def on_part_begin(self) -> None:
        self.part, self.disposition = _Part(), b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        name = self.header_name.strip().lower()
        if name == b"content-disposition":
            self.disposition = self.header_value
        elif name == b"content-type" and self.header_value.strip():
            self.part.content_type = self.header_value.strip().decode("latin-1")[:200]
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        if b"name" not in options:
            raise FormUnreadable("a part of the form has no name")
        self.part.name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            self.part.filename = options[b"filename"].decode("utf-8", "replace")
            if len(self.files) + len(self.open) >= self.max_files:
                raise FormUnreadable(f"too many files: at most {self.max_files}")
            self.part.file = Incoming(self.folder)
            self.open.append(self.part.file)
        elif len(self.fields) >= self.max_fields:
            raise FormUnreadable(f"too many fields: at most {self.max_fields}")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        size = end - start
        if self.part.file is not None:
            self.file_bytes += size
            if self.file_bytes > self.files_cap:
                raise BodyTooLarge
            self.part.file.write(data[start:end])
        else:
            self.field_bytes += size
            if self.field_bytes > self.fields_cap:
                raise BodyTooLarge
            self.part.data.extend(data[start:end])

    def on_part_end(self) -> None:
        part = self.part
        if part.file is None:
            self.fields.append((part.name, part.data.decode("utf-8", "replace")))
            return
        self.open.remove(part.file)
        if not part.filename and part.file.size == 0:  # an empty file input
            part.file.discard()
            return
        part.file.finish()
        upload = Upload(part.filename or "attachment", part.content_type, part.file.path)
        self.files.append((part.name, upload))

    def discard(self) -> None:
        for incoming in self.open:
            incoming.discard()
        for _, upload in self.files:
            if upload.path is not None:
                upload.path.unlink(missing_ok=True)


@asynccontextmanager
async def read_form(
    request: Request,
    *,
    folder: Path,
    files_cap: int,
    fields_cap: int,
    max_files: int = 10,
    max_fields: int = 50,
) -> AsyncIterator[Received]:
    """The posted form, its files streamed into `folder`. Raises BodyTooLarge as soon as the files
    pass `files_cap` bytes in all or the text `fields_cap` (after reading and dropping a bounded
    rest of the body, so that a browser still hears the answer), FormUnreadable for a body that is
    not a readable form, StorageFailed when the disk refuses a file; nothing is left on disk then,
    nor after the block."""
    multipart, options = _multipart_options(request)
    cap = files_cap + fields_cap if multipart else fields_cap
    header = request.headers.get("content-length", "")
    declared = int(header) if header.isdigit() else None
    body = Capped.of(request, cap)
    try:
        if declared is not None and declared > cap:
            raise BodyTooLarge
        if multipart:
            reader = _Multipart(folder, files_cap, fields_cap, max_files, max_fields)
            received = await _stream(body.request, options, reader)
        else:  # a form without files: small, read by Starlette within the text's cap
            try:
                async with body.request.form(max_files=0, max_fields=max_fields) as form:
                    received = Received(FormData(form.multi_items()))
            except HTTPException as exc:
                raise FormUnreadable(str(exc.detail)) from None
    except BodyTooLarge:
        raise await body.refuse(request.receive, declared) from None
    try:
        yield received
    finally:
        received.remove()


def _multipart_options(request: Request) -> tuple[bool, dict[bytes, bytes]]:
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    return kind == b"multipart/form-data", options


async def _stream(request: Request, options: dict[bytes, bytes], reader: _Multipart) -> Received:
    if b"boundary" not in options:
        raise FormUnreadable("the multipart form has no boundary")
    parser = MultipartParser(options[b"boundary"], reader.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            await run_in_threadpool(parser.write, chunk)
        await run_in_threadpool(parser.finalize)
        if reader.open:
            raise FormUnreadable("the form ends in the middle of a file")
    except FormParserError as exc:
        reader.discard()
        raise FormUnreadable(f"the form is malformed ({exc})") from None
    except BaseException:
        reader.discard()
        raise
    fields: list[tuple[str, str | UploadFile]] = list(reader.fields)
    return Received(FormData(fields), reader.files)
