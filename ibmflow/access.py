"""Who may do what in the web console and the API: roles, permissions, and an account's reach.

Deny by default: a permission not listed here is held by nobody, and an account sees only the
processes it was given (an administrator sees every process). Pure: no I/O.

Choices where the domain is silent: the **chair** (the IAWG chair, the initiator before a coordinator
exists) records the coordinator's appointment and runs the IAWG: opens motions, records votes cast at
a meeting and representatives' nominations; moving the process, requests, documents and the roster
stay the coordinator's. A **manager** only reads. An **administrator** may do what a coordinator
does, on every process (and manages accounts, from the command line only).
"""

from __future__ import annotations

from dataclasses import dataclass

COORDINATOR, CHAIR, MANAGER, ADMINISTRATOR = "coordinator", "chair", "manager", "administrator"
ROLES = (COORDINATOR, CHAIR, MANAGER, ADMINISTRATOR)

_EVERYONE = frozenset(ROLES)
_RUNS_IT = frozenset({COORDINATOR, ADMINISTRATOR})
_IAWG = frozenset({COORDINATOR, CHAIR, ADMINISTRATOR})

# permission -> the roles that hold it, and what it covers (for messages and the README).
PERMISSIONS: dict[str, tuple[frozenset[str], str]] = {
    "view": (_EVERYONE, "see a process, its requests, decisions and audit history"),
    "report": (_EVERYONE, "see the deadline report"),
    "mail": (_RUNS_IT, "read the captured outgoing mail"),
    "move": (_RUNS_IT, "advance, return, suspend or resume a process"),
    "request": (_RUNS_IT, "open, waive, withdraw or reopen requests to focal points"),
    "appoint": (_IAWG, "record the coordinator's appointment"),
    "decide": (_IAWG, "open an IAWG decision"),
    "vote": (_IAWG, "record a vote on an IAWG decision"),
    "nominate": (_IAWG, "record a member's representative"),
    "document": (_RUNS_IT, "attach documents"),
    "roster": (_RUNS_IT, "add people to the roster"),
    "record": (_RUNS_IT, "record task forces, chapters, the consultation's closure, the adoption"),
    "quarantine": (_RUNS_IT, "assign or reject mails in quarantine"),
    "extend": (_RUNS_IT, "extend deadlines"),
}


def roles_for(permission: str) -> frozenset[str]:
    """The roles holding a permission (none for an unknown one)."""
    entry = PERMISSIONS.get(permission)
    return entry[0] if entry else frozenset()


def normal_key(key: str) -> str:
    """A process key as stored (keys are case-insensitive)."""
    return key.strip().upper()


@dataclass(frozen=True)
class Account:
    """A person who logs in to the web console or calls the API."""

    id: int
    email: str
    name: str
    role: str
    # The keys of the processes this account may see; None: every process (administrators).
    processes: frozenset[str] | None
    disabled: bool = False

    def sees(self, key: str) -> bool:
        """Whether this account may see the process `key`."""
        if self.disabled:
            return False
        return self.processes is None or normal_key(key) in self.processes

    def may(self, permission: str) -> bool:
        """Whether this account's role holds `permission`."""
        return not self.disabled and self.role in roles_for(permission)

    def refusal(self, permission: str) -> str:
        """Why `permission` is refused, in words."""
        entry = PERMISSIONS.get(permission)
        what = entry[1] if entry else permission
        holders = sorted(roles_for(permission)) or ["nobody"]
        return (
            f"As a {self.role} you may not {what}; that is for the {' or '.join(holders)}. "
            "Ask an administrator if your role is wrong."
        )
