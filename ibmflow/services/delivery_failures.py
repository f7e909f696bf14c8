"""The notice to the coordinator that a mail could not be delivered, written in the transaction that
marks the mail failed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ibmflow.services import mailings
from ibmflow.services.context import Context
from ibmflow.storage.db import Tx
from ibmflow.storage.queries.outbox import Claimed
from ibmflow.storage.tables import ProcessRow

DELIVERY_FAILURE = "delivery_failure"


@dataclass(frozen=True)
class Failure:
    """What a delivery failure notice says of the mail that failed."""

    outbox_id: int
    kind: str
    subject: str
    attempts: int
    request_id: int | None

    @classmethod
    def of(cls, row: Claimed, tries: int) -> Failure:
        # A mail that could not be rendered has no subject: its kind says what it was.
        return cls(row.id, row.kind, row.subject or row.kind, tries, row.request_id)


def tell_coordinator(
    ctx: Context,
    tx: Tx,
    failure: Failure,
    process: ProcessRow | None,
    failed_to: Sequence[str],
    reason: str,
    now: datetime,
) -> None:
    """Tell the coordinator that a mail could not be delivered (once per mail)."""
    # A delivery failure about a delivery failure would loop (the coordinator's own address may be
    # the one failing): the audit event and `ibmflow mail list --status failed` are enough then.
    if failure.kind == DELIVERY_FAILURE or process is None:
        return
    to = mailings.addresses_for_roles(tx, process, ["coordinator"])
    if not to:
        return
    mailings.send(
        ctx,
        tx,
        process,
        DELIVERY_FAILURE,
        to,
        {
            "failure": {
                "outbox_id": failure.outbox_id,
                "to": list(failed_to),
                "subject": failure.subject,
                "reason": reason,
                "kind": failure.kind,
                "attempts": failure.attempts,
            }
        },
        now,
        request_id=failure.request_id,
        dedupe_key=f"{DELIVERY_FAILURE}:{failure.outbox_id}",
    )
