"""The exception tree of ibmflow; every error says what is wrong and what to do next.

::

    IbmflowError
    ├── ConfigError              a setting has a wrong value (names the key and what is expected)
    ├── ProblemsError            carries every problem found in a file, each a `Problem`
    │   ├── DefinitionError      a workflow file is invalid (carries every problem found)
    │   └── RosterError          a roster file is malformed (carries every problem, by row)
    ├── NotFound                 a process, person, decision... does not exist
    ├── InvalidCommand           the command does not fit the facts (wrong voter, no reason given...)
    │   └── NotAnswerer          who sent an answer may not answer that request (`services.answerers`)
    ├── TransitionRefused        a step's exit guards are unmet (carries the blockers as sentences)
    ├── ConcurrencyConflict      someone else changed the process since it was read
    ├── DatabaseNotReady         the schema is missing or behind: run `ibmflow init`
    ├── AuditChainBroken         `audit verify` found an edited, missing, inserted or reordered event
    ├── LinkRefused              an answer link is unknown, expired, used or its request closed
    ├── StorageFailed            a file could not be stored: disk full, over quota, read-only...
    ├── LoginRefused             wrong email or password, or a disabled account
    │   └── LoginThrottled       too many failed logins lately: wait (carries how long)
    └── Forbidden                the account's role may not do this

    Problem                      not an error: one problem a `ProblemsError` carries
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ibmflow.i18n import ngettext


class IbmflowError(Exception):
    """Base of every error ibmflow raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        process: str | None = None,
        step: str | None = None,
        trigger: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.process = process
        self.step = step
        self.trigger = trigger

    def __str__(self) -> str:
        return self.message


class ConfigError(IbmflowError):
    """A configuration value is wrong; the message names the key and the value expected."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a file: where it is and what is wrong."""

    file: str
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.what}"


class ProblemsError(IbmflowError):
    """An error that carries every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{self.heading(len(self.problems))}\n{lines}")

    def heading(self, n: int) -> str:
        """The first line for `n` problems, in the reader's language (it ends with its colon)."""
        return ngettext("%(num)s problem found:", "%(num)s problems found:", n)


class DefinitionError(ProblemsError):
    """A workflow definition is invalid; `problems` lists every mistake found."""

    def heading(self, n: int) -> str:
        return ngettext(
            "%(num)s problem in the workflow definition:",
            "%(num)s problems in the workflow definition:",
            n,
        )


class RosterError(ProblemsError):
    """A roster file is malformed; nothing was imported; `problems` lists every row at fault."""

    def heading(self, n: int) -> str:
        return ngettext(
            "%(num)s problem in the roster; nothing was imported:",
            "%(num)s problems in the roster; nothing was imported:",
            n,
        )


class NotFound(IbmflowError):
    """The named object does not exist."""


class InvalidCommand(IbmflowError):
    """The command cannot be carried out as given (the message says why and what to do)."""


class NotAnswerer(InvalidCommand):
    """Who sent an answer may not answer that request, or cast that vote (the message says who may);
    a channel may say so in its own words (a link: "this link no longer lets you answer")."""


class TransitionRefused(IbmflowError):
    """A trigger was refused; nothing changed. `blockers` says what must be true first."""

    def __init__(
        self,
        message: str,
        blockers: Sequence[str],
        *,
        process: str | None = None,
        step: str | None = None,
        trigger: str | None = None,
    ) -> None:
        super().__init__(message, process=process, step=step, trigger=trigger)
        self.blockers = tuple(blockers)


class ConcurrencyConflict(IbmflowError):
    """The process changed since it was read; nothing was written. Review its status and retry."""


class DatabaseNotReady(IbmflowError):
    """The database has no schema or an old one; `ibmflow init` creates or upgrades it."""


class AuditChainBroken(IbmflowError):
    """The audit chain does not verify; the message names the first event at fault."""

    def __init__(self, message: str, *, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


class LinkRefused(IbmflowError):
    """An answer link cannot be used: unknown (or forged), expired, already used, or closed."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class StorageFailed(IbmflowError):
    """A file could not be written under the data folder (no space left, over quota, read-only file
    system, not a folder...); nothing was recorded. The message says what to free or fix."""


class LoginRefused(IbmflowError):
    """A login failed: unknown email, wrong password or disabled account (never said which)."""


class LoginThrottled(LoginRefused):
    """Too many failed logins for this account or from this address lately; `retry_after_s` says
    how long until the next attempt is heard."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Forbidden(IbmflowError):
    """The account's role does not allow this action (the message names the roles that may)."""
