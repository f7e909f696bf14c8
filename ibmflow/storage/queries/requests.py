"""Named writes of the requests a command sends: the requests and their link tokens, with one
statement per batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session

from ibmflow.storage.db import table_of
from ibmflow.storage.tables import LinkTokenRow, RequestRow

_TOKENS, _REQUESTS = table_of(LinkTokenRow), table_of(RequestRow)
_REQUEST_COLUMNS = [c.name for c in _REQUESTS.columns if c.name != "id"]
_INSERT_REQUESTS = sa.insert(_REQUESTS).returning(_REQUESTS.c.id, sort_by_parameter_order=True)


def add_requests(session: Session, rows: Sequence[RequestRow]) -> None:
    """Store these new requests with one statement, in the session's transaction: each gets its
    id and is then in the session as if loaded (later changes to it are flushed as updates)."""
    if not rows:
        return
    session.flush()  # what they refer to (a decision just opened...) is written first
    values = [{name: getattr(row, name) for name in _REQUEST_COLUMNS} for row in rows]
    ids = session.connection().execute(_INSERT_REQUESTS, values).scalars().all()
    for row, new_id in zip(rows, ids, strict=True):
        row.id = new_id
        make_transient_to_detached(row)
        session.add(row)


def add_link_tokens(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write these link tokens (every column but the id given) with one statement, in the
    session's transaction."""
    if rows:
        session.connection().execute(sa.insert(_TOKENS), list(rows))
