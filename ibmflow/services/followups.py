"""What a transition causes besides the state change: the notifications its definition declares and
the requests the entered step opens, all written in the transition's own transaction; and the requests
of the current step that people named during the step are still owed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ibmflow.definitions import Definition, StateDef
from ibmflow.engine import SUSPENDED, Outcome
from ibmflow.facts import Facts
from ibmflow.services import mailings, requests
from ibmflow.services.common import definition_for
from ibmflow.services.context import Context
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.tables import ProcessRow


def _step(process: ProcessRow, state: StateDef, due: datetime | None) -> dict[str, Any]:
    return {
        "id": state.id,
        "title": state.title_text,
        "description": state.description_text,
        "due_at": due,
    }


def _notify(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    definition: Definition,
    state: StateDef,
    on: str,
    context: dict[str, Any],
    now: datetime,
) -> None:
    for notification in definition.notifications(state.id, on):
        to = mailings.addresses_for_roles(tx, process, notification.to)
        mailings.announce(ctx, tx, process, notification.template, to, context, now)


def entered(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    definition: Definition,
    state_id: str,
    now: datetime,
    actor: str,
    *,
    due_at: datetime | None,
) -> None:
    """A step was entered (its stay due at `due_at`): its `enter` notifications, then the requests
    it opens."""
    if state_id == SUSPENDED:
        return
    state = definition.state(state_id)
    context = {"step": _step(process, state, due_at)}
    _notify(ctx, tx, process, definition, state, "enter", context, now)
    _open(ctx, tx, process, state, now, actor, covered=())


def _open(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    state: StateDef,
    now: datetime,
    actor: str,
    *,
    covered: tuple[str, ...],
) -> list[int]:
    rounds = [
        requests.Round(
            kind=opening.kind,
            scope=opening.scope,
            # stored in the workflow's first language; shown in the reader's (`instructions`)
            instructions=opening.instructions_text.first,
            due_days=opening.due_days,
        )
        for opening in state.opens
    ]
    return requests.issue_rounds(ctx, tx, process, now, rounds, actor=actor, also_covered=covered)


def open_missing(ctx: Context, tx: Tx, process: ProcessRow, now: datetime, actor: str) -> list[int]:
    """Send the current step's `opens` requests that people or institutions named since the step
    was entered are owed (a roster import, `person add`, the console); return the new ids.

    What the step already sent is left alone, and so is what the coordinator withdrew: only the
    missing requests go out, in the caller's transaction (audited, mailed through the outbox).
    """
    definition = definition_for(ctx, tx.session, process)
    if process.state not in {s.id for s in definition.steps}:
        return []  # suspended or finished: resuming does not re-send, `request send` does
    state = definition.state(process.state)
    return _open(ctx, tx, process, state, now, actor, covered=("withdrawn",))


def reads(definition: Definition, state_id: str, trigger: str) -> frozenset[str]:
    """The fact groups that what `trigger` causes from `state_id` reads (`after`'s `facts`): the
    adoption, for the notices of a completed step."""
    if trigger != "complete" or state_id not in {s.id for s in definition.states}:
        return frozenset()  # nothing is caused, or the engine refuses (suspended, unknown state)
    if definition.notifications(state_id, "complete"):
        return frozenset({"adoption"})
    return frozenset()


def completed(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    definition: Definition,
    outcome: Outcome,
    now: datetime,
    facts: Facts | None = None,
) -> None:
    """A step was completed: its `complete` notifications (adoption details for the last one).
    `facts` holds the groups `reads` names, read in this transaction (else they are read here)."""
    state = definition.state(outcome.before)
    if not definition.notifications(state.id, "complete"):
        return  # nobody to tell: nothing to read
    nxt = definition.state(outcome.after)
    if facts is None:
        facts = repo.load_facts(tx.session, process, now, reads(definition, state.id, "complete"))
    adoption = facts.adoption
    context = {
        "step": _step(process, state, None),
        "next_step": None if nxt.final else {"title": nxt.title_text},
        "adoption": None
        if adoption is None
        else {
            "authority": adoption.authority,
            "reference": adoption.reference,
            "adopted_on": adoption.adopted_on,
        },
    }
    _notify(ctx, tx, process, definition, state, "complete", context, now)


def after(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    definition: Definition,
    outcome: Outcome,
    now: datetime,
    actor: str,
    *,
    due_at: datetime | None,
    facts: Facts | None = None,
) -> None:
    """Everything a transition causes, in the order a reader expects the mails (`due_at`: when the
    stay in the step entered is due; `facts`: the groups `reads` names, if already read)."""
    if outcome.trigger == "complete":
        completed(ctx, tx, process, definition, outcome, now, facts)
    if outcome.trigger in ("complete", "return_to"):
        entered(ctx, tx, process, definition, outcome.after, now, actor, due_at=due_at)
