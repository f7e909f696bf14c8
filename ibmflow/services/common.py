"""What the use cases share: a command's transaction on one locked process, and time formatting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlmodel import Session

from ibmflow.definitions import Definition
from ibmflow.engine import SUSPENDED
from ibmflow.errors import InvalidCommand
from ibmflow.i18n import _
from ibmflow.services.context import Context
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.tables import ProcessRow, WorkflowDefinitionRow


@contextmanager
def on_process(ctx: Context, key: str) -> Iterator[tuple[Tx, ProcessRow, datetime]]:
    """One transaction on one process, its row locked so commands on it are serialised."""
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        process = repo.get_process(tx.session, key, lock=True)
        yield tx, process, now


def require_step(process: ProcessRow, *steps: str, doing: str) -> None:
    """Refuse a command outside the steps where it makes sense."""
    if process.state == SUSPENDED:
        raise InvalidCommand(
            _(
                "process %(key)s is suspended; resume it before %(doing)s.",
                key=process.key,
                doing=doing,
            ),
            process=process.key,
            step=process.state,
        )
    if steps and process.state not in steps:
        raise InvalidCommand(
            _(
                "%(doing)s belongs to step %(steps)s, but process %(key)s is at %(state)s.",
                doing=doing,
                steps=" or ".join(steps),
                key=process.key,
                state=process.state,
            ),
            process=process.key,
            step=process.state,
        )


def require_step_that(ctx: Context, tx: Tx, process: ProcessRow, does: str, *, doing: str) -> None:
    """Refuse a command outside the step(s) of the process's definition for a piece of work
    (`Definition.steps_that`), e.g. submitting a chapter outside the step where chapters are drafted."""
    steps = definition_for(ctx, tx.session, process).steps_that(does)
    if not steps:
        raise InvalidCommand(
            _(
                "%(doing)s belongs to no step of the workflow process %(key)s runs on.",
                doing=doing,
                key=process.key,
            ),
            process=process.key,
            step=process.state,
        )
    require_step(process, *steps, doing=doing)


def due_after(
    ctx: Context, process: ProcessRow, start: datetime, days: int, *, weekend: str | None = None
) -> datetime:
    """The end of the `days`-th working day after `start`, in the process's country (public
    holidays) and time zone, with an institution's weekend when given (else the process default)."""
    return ctx.calendar(process, weekend).due_after(start, days)


def iso(value: datetime | None) -> str | None:
    """An ISO 8601 UTC timestamp with a Z, or None."""
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def definition_for(ctx: Context, session: Session, process: ProcessRow) -> Definition:
    """The definition version a process runs on."""
    known = ctx.known_definition(process.definition_pk)
    if known is not None:
        return known
    stored = session.get(WorkflowDefinitionRow, process.definition_pk)
    assert stored is not None
    return ctx.definition_of(process, stored)
