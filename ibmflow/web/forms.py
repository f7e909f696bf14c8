"""Reading a posted form for the gate: the fields, and the files streamed to disk, within their caps;
what cannot be read is refused (400, 413, 507) with nothing changed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Request
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from ibmflow.errors import StorageFailed
from ibmflow.i18n import _, format_number
from ibmflow.services.context import Context
from ibmflow.services.documents import Upload
from ibmflow.web.common import FORM_ALLOWANCE, MB, BodyTooLarge, Capped
from ibmflow.web.refusals import Refusal
from ibmflow.web.statuses import status_of
from ibmflow.web.uploads import FormUnreadable
from ibmflow.web.uploads import read_form as read_upload_form

MAX_FIELDS = 200
MAX_FILES = 10


@asynccontextmanager
async def read_upload(
    ctx: Context, request: Request
) -> AsyncIterator[tuple[FormData, tuple[tuple[str, Upload], ...]]]:
    """A posted form with files: the files streamed to disk, `answers.max_upload_mb` in all
    checked as they arrive (413 past it), 400 when malformed, 507 when the disk refuses."""
    limit_mb = ctx.settings.answers_max_upload_mb
    try:
        async with read_upload_form(
            request,
            folder=ctx.documents.incoming,
            files_cap=limit_mb * MB,
            fields_cap=FORM_ALLOWANCE,
            max_files=MAX_FILES,
            max_fields=MAX_FIELDS,
        ) as received:
            yield received.fields, tuple(received.files)
    except BodyTooLarge as exc:
        raise Refusal(
            413,
            _("This form is too large"),
            _(
                "Nothing was changed: the files are larger than %(mb)s MB in all. Send a smaller "
                "file.",
                mb=format_number(limit_mb),
            ),
            close=exc.close,
        ) from None
    except FormUnreadable as exc:
        raise Refusal(
            400, _("This form cannot be read"), _("Nothing was changed (%(why)s).", why=str(exc))
        ) from None
    except StorageFailed as exc:
        raise Refusal(
            status_of(exc),
            _("The file could not be stored"),
            _("Nothing was changed: %(why)s", why=exc.message),
        ) from None


@asynccontextmanager
async def read_form(
    request: Request, cap: int
) -> AsyncIterator[tuple[FormData, tuple[tuple[str, Upload], ...]]]:
    """The posted form without files, read up to `cap` bytes (413 past it, 400 when
    malformed)."""
    header = request.headers.get("content-length", "")
    declared = int(header) if header.isdigit() else None
    body = Capped.of(request, cap)
    try:
        if declared is not None and declared > cap:
            raise BodyTooLarge
        async with body.request.form(max_files=0, max_fields=MAX_FIELDS) as form:
            yield form, ()
    except BodyTooLarge:
        refusal = await body.refuse(request.receive, declared)
        raise Refusal(
            413,
            _("This form is too large"),
            _("Nothing was changed: send at most %(mb)s MB at once.", mb=format_number(cap // MB)),
            close=refusal.close,
        ) from None
    except HTTPException as exc:  # a malformed form, too many files or fields
        raise Refusal(
            400, _("This form cannot be read"), _("Nothing was changed (%(why)s).", why=exc.detail)
        ) from None


def text_field(form: FormData, name: str) -> str:
    """A text field of a form ("" when absent or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""
