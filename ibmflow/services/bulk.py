"""Acting on several requests at once: remind, extend or waive the requests ticked on the process
page, with one reason for all, all or nothing in one transaction (a request that may not be so
handled refuses the whole, and says which), one audit event per request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ibmflow.errors import InvalidCommand
from ibmflow.i18n import N_, _
from ibmflow.services import extensions, remind
from ibmflow.services.common import on_process
from ibmflow.services.context import Context
from ibmflow.services.requests import close_in

# The actions, and what a message says only an open request can be.
ACTIONS = {
    "remind": N_("reminded"),
    "extend": N_("extended"),
    "waive": N_("waived"),
}


@dataclass(frozen=True)
class Bulk:
    """What was done to which requests."""

    process: str
    action: str
    requests: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"process": self.process, "action": self.action, "requests": list(self.requests)}


def check_action(value: str, what: str = "") -> str:
    """One of the actions, as a form or the command line names it."""
    action = value.strip().lower()
    if action not in ACTIONS:
        raise InvalidCommand(
            _(
                "%(action)r is not something done to several requests at once; choose remind, "
                "extend or waive.",
                action=value,
            )
        )
    return action


def apply(
    ctx: Context,
    key: str,
    *,
    request_ids: Sequence[int],
    action: str,
    reason: str,
    actor: str,
    days: int | None = None,
) -> Bulk:
    """Remind, extend by `days` working days, or waive every request of `request_ids`, with one
    reason, in one transaction: either every one is done, or none."""
    action = check_action(action)
    if not request_ids:
        raise InvalidCommand(_("Tick at least one request; nothing was done."))
    if not reason.strip():
        raise InvalidCommand(_("Give a reason: it is kept on the audit log."))
    if action == "extend" and not days:
        raise InvalidCommand(
            _("Give the number of working days to extend the deadlines by; nothing was done.")
        )
    with on_process(ctx, key) as (tx, process, now):
        ids = [
            r.id or 0
            for r in remind.open_requests(tx, process, request_ids, doing=_(ACTIONS[action]))
        ]
        if action == "remind":
            remind.remind_in(ctx, tx, process, now, ids, actor=actor, reason=reason)
        elif action == "extend":
            for request_id in ids:
                extensions.extend_in(
                    ctx,
                    tx,
                    process,
                    now,
                    reason=reason,
                    actor=actor,
                    request_id=request_id,
                    days=days,
                )
        else:
            for request_id in ids:
                close_in(tx, process, now, request_id, status="waived", reason=reason, actor=actor)
        return Bulk(process.key, action, tuple(ids))
