"""Who may act from the command line: a person or account known to ibmflow, or `cli:NAME`.

The command line is the one channel where the actor is typed rather than authenticated (`--as`,
`cli.actor`, `IBMFLOW_CLI_ACTOR`), so what it names is checked before it reaches the audit chain.
"""

from __future__ import annotations

import re

from ibmflow.errors import InvalidCommand
from ibmflow.i18n import _
from ibmflow.services.context import Context
from ibmflow.storage import repository as repo
from ibmflow.storage.queries import accounts, roster

CLI_PREFIX = "cli:"
# The name after `cli:` (a login name): letters, digits and . _ - @ +, no space or control character.
_CLI_NAME = re.compile(r"[\w.@+-]{1,64}")


def known_actor(
    ctx: Context,
    actor: str,
    *,
    process: str | None = None,
    appointing: str | None = None,
    source: str = "--as",
) -> str:
    """The actor as it goes on the audit log, or InvalidCommand naming what is accepted.

    Accepted: `cli:NAME`; a console account that is not disabled; a person on the roster of
    `process` (of any process when the command concerns none, e.g. `user add`); and `appointing`,
    the coordinator a command is appointing (who is on no roster yet)."""
    text = actor.strip()
    if text.startswith(CLI_PREFIX):
        if _CLI_NAME.fullmatch(text.removeprefix(CLI_PREFIX)):
            return text
        raise InvalidCommand(
            _(
                "%(source)s: %(actor)r is not a valid cli: actor; write cli:NAME with a "
                "name of letters, digits, '.', '_', '-', '@' or '+' (at most 64).",
                source=source,
                actor=actor,
            )
        )
    email = text.lower()
    if appointing is not None and email == appointing.strip().lower():
        return email
    with ctx.db.reading() as session:
        account = accounts.by_email(session, email)
        if account is not None and not account.disabled:
            return email
        # An unknown process is refused here, naming the known ones.
        process_id = repo.get_process(session, process).id if process is not None else None
        if email and roster.on_a_roster(session, email, process_id):
            return email
    where = f"on the roster of {process}" if process else "on a process's roster"
    disabled = " (its account is disabled)" if account is not None else ""
    raise InvalidCommand(
        _(
            "%(source)s: %(actor)r is not known to ibmflow%(disabled)s; act as a "
            "person %(where)s (`ibmflow roster show`), a console account (`ibmflow "
            "user list`), or cli:NAME (e.g. cli:$USER, the default when cli.actor "
            "and IBMFLOW_CLI_ACTOR are unset).",
            source=source,
            actor=actor,
            disabled=disabled,
            where=where,
        )
    )
