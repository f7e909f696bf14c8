"""Named writes of the requests a command sends: their link tokens, with one statement per batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from ibmflow.storage.db import table_of
from ibmflow.storage.tables import LinkTokenRow

_TOKENS = table_of(LinkTokenRow)


def add_link_tokens(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write these link tokens (every column but the id given) with one statement, in the
    session's transaction."""
    if rows:
        session.connection().execute(sa.insert(_TOKENS), list(rows))
