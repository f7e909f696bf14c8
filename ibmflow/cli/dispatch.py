"""The command line's way into the table of commands (`services.commands`): a command's options,
read by Typer, become its arguments; the actor is the one `--as` names (checked)."""

from __future__ import annotations

import typer

from ibmflow.cli import state


def dispatch(
    ctx: typer.Context,
    name: str,
    process: str,
    /,
    *,
    object_id: int = 0,
    actor: str | None = None,
    **args: object,
) -> object:
    """Run command `name` of the table on `process` (and the object `object_id` names) with
    `args`; what its service returns."""
    from ibmflow.services import commands  # on first use: `ibmflow --help` stays quick

    s = state(ctx)
    on = commands.On(
        process=process, actor=s.actor if actor is None else actor, object_id=object_id
    )
    return commands.run(s.context, name, on, args)
