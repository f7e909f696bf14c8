"""The one place that says which HTTP status (and, for the API, which `error` code) answers an
error: ibmflow's typed errors, refused by a use case, and the HTTP errors the gate and Starlette
raise themselves. The console's pages, the answer pages and the API all ask here."""

from __future__ import annotations

from ibmflow.errors import (
    ConcurrencyConflict,
    Forbidden,
    IbmflowError,
    NotFound,
    StorageFailed,
)

# A typed error and the status and `error` code it is answered with; the first that fits wins.
# Any other IbmflowError (a transition refused, an invalid command...) is refused: nothing written.
ERROR_STATUSES: tuple[tuple[type[IbmflowError], int, str], ...] = (
    (NotFound, 404, "not_found"),
    (ConcurrencyConflict, 409, "conflict"),
    (Forbidden, 403, "forbidden"),
    (StorageFailed, 507, "storage"),
)
REFUSED = (400, "refused")

# The `error` code of an HTTP error raised without a typed error (no such path, wrong method, no
# valid token...); any other status is `refused`.
HTTP_ERRORS = {
    400: "refused",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


def _answer(exc: IbmflowError) -> tuple[int, str]:
    for kind, status, error in ERROR_STATUSES:
        if isinstance(exc, kind):
            return status, error
    return REFUSED


def status_of(exc: IbmflowError) -> int:
    """The HTTP status a refused command answers with."""
    return _answer(exc)[0]


def error_of(exc: IbmflowError) -> str:
    """The API's `error` code for a refused command."""
    return _answer(exc)[1]


def http_error_of(status: int) -> str:
    """The API's `error` code for an HTTP error of this status."""
    return HTTP_ERRORS.get(status, "refused")
