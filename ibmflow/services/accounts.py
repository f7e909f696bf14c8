"""Use cases on web console accounts: add, change password, disable, give processes, issue API tokens.

Passwords are hashed with argon2id (memory-hard); API tokens are random and kept as SHA-256 only, so
neither can be read back. Every change is an audit event, which never holds a password or a hash.

Long because: an account's life is one unit (add, password, role, processes, tokens, language),
each a short audited use case; the language choice made it pass 400 lines.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from sqlmodel import Session

from ibmflow.access import ADMINISTRATOR, CHAIR, COORDINATOR, MANAGER, ROLES, Account
from ibmflow.audit import JSONValue
from ibmflow.errors import InvalidCommand, NotFound
from ibmflow.i18n import _
from ibmflow.services.common import iso
from ibmflow.services.context import Context
from ibmflow.storage import repository as repo
from ibmflow.storage.account_tables import AccountProcessRow, ApiTokenRow, UserAccountRow
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import accounts as q
from ibmflow.text import ACCOUNT_NAME, TOKEN_LABEL, clean, clean_optional

MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # hashing is deliberately slow: refuse to spend it on a megabyte of input
TOKEN_PREFIX = "ibf_"
HASHER = PasswordHasher()
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")

# The demo's accounts: the people of the demo roster who use the console, and an administrator.
DEMO_ACCOUNTS = (
    ("coordinator@interior.example", "Karim Benali", COORDINATOR),
    ("chair@interior.example", "Youssef Amrani", CHAIR),
    ("manager@cabinet.example", "Aicha Ouazzani", MANAGER),
    ("admin@ibmflow.example", "Demo administrator", ADMINISTRATOR),
)


def secret_hash(value: str) -> str:
    """The stored form of a session or API token."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    """An argon2id hash of a password that passes the policy (InvalidCommand otherwise)."""
    if len(password) < MIN_PASSWORD:
        raise InvalidCommand(
            _(
                "the password is too short: use at least %(min_password)s characters (a "
                "few words make a good one).",
                min_password=MIN_PASSWORD,
            )
        )
    if len(password) > MAX_PASSWORD:
        raise InvalidCommand(
            _(
                "the password is too long: at most %(max_password)s characters.",
                max_password=MAX_PASSWORD,
            )
        )
    return HASHER.hash(password)


def _email(value: str) -> str:
    email = value.strip().lower()
    if not _EMAIL.fullmatch(email):
        raise InvalidCommand(
            _("%(value)r is not a mail address such as karim@interior.example.", value=value)
        )
    return email


def _role(value: str) -> str:
    if value not in ROLES:
        raise InvalidCommand(
            _("unknown role %(value)r; one of %(roles)s.", value=value, roles=", ".join(ROLES))
        )
    return value


def _language(ctx: Context, value: str | None) -> str | None:
    if value is None:
        return None
    language = value.strip().replace("-", "_")
    if language not in ctx.settings.languages:
        offered = ", ".join(ctx.settings.languages)
        raise InvalidCommand(f"language {value!r} is not offered; give one of {offered}.")
    return language


def account_of(session: Session, row: UserAccountRow) -> Account:
    """The Account a stored row describes, with the keys of the processes it may see."""
    keys: frozenset[str] | None = None
    if row.role != ADMINISTRATOR:
        keys = frozenset(q.process_keys(session, row.id))
    return Account(
        id=row.id or 0,
        email=row.email,
        name=row.name,
        role=row.role,
        processes=keys,
        disabled=row.disabled,
    )


def _row(tx: Tx, email: str) -> UserAccountRow:
    row = q.by_email(tx.session, email)
    if row is None:
        raise NotFound(
            _("no account %(email)r; `ibmflow user list` shows the accounts.", email=email)
        )
    return row


def _audit(tx: Tx, now: datetime, actor: str, action: str, email: str, **data: JSONValue) -> None:
    tx.acting(actor, now).record(
        f"account.{action}", f"account:{email}", after=dict(data) if data else None
    )


def _give_processes(tx: Tx, row: UserAccountRow, keys: Sequence[str]) -> list[JSONValue]:
    """Replace the processes an account may see; return their keys as stored."""
    wanted = {repo.get_process(tx.session, key).id: key.strip().upper() for key in keys}
    for link in q.process_links(tx.session, row.id):
        if link.process_id in wanted:
            del wanted[link.process_id]
        else:
            tx.session.delete(link)
    for process_id in wanted:
        tx.session.add(AccountProcessRow(account_id=row.id or 0, process_id=process_id or 0))
    tx.session.flush()
    return list[JSONValue](sorted(q.process_keys(tx.session, row.id)))


def add_user(
    ctx: Context,
    *,
    email: str,
    name: str,
    role: str,
    password: str,
    actor: str,
    processes: Sequence[str] = (),
    language: str | None = None,
) -> Account:
    """Create an account; an administrator sees every process, the others only `processes`. Its
    console and its mails speak `language` (None: the deployment's, until the account chooses)."""
    email, role = _email(email), _role(role)
    language = _language(ctx, language)
    name = clean(name, ACCOUNT_NAME)
    hashed = hash_password(password)
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        if q.by_email(tx.session, email) is not None:
            raise InvalidCommand(
                _(
                    "an account %(email)s already exists; change it with `ibmflow user "
                    "passwd` or `ibmflow user processes`.",
                    email=email,
                )
            )
        row = UserAccountRow(
            email=email,
            name=name,
            role=role,
            password_hash=hashed,
            language=language,
            created_at=now,
            updated_at=now,
        )
        tx.session.add(row)
        tx.session.flush()
        keys = [] if role == ADMINISTRATOR else _give_processes(tx, row, processes)
        _audit(
            tx,
            now,
            actor,
            "added",
            email,
            name=row.name,
            role=role,
            processes=keys if role != ADMINISTRATOR else "all",
            **({"language": language} if language else {}),
        )
        return account_of(tx.session, row)


def _end_sessions(tx: Tx, row: UserAccountRow, now: datetime) -> None:
    for session_row in q.live_sessions(tx.session, row.id):
        session_row.ended_at = now
        tx.session.add(session_row)


def set_password(ctx: Context, email: str, password: str, *, actor: str) -> None:
    """Give an account a new password; its browsers are logged out."""
    hashed = hash_password(password)
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        row = _row(tx, email)
        row.password_hash, row.updated_at = hashed, now
        tx.session.add(row)
        _end_sessions(tx, row, now)
        _audit(tx, now, actor, "password_changed", row.email)


def set_disabled(ctx: Context, email: str, disabled: bool, *, actor: str) -> None:
    """Disable an account (its sessions end, its API tokens stop working) or enable it again."""
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        row = _row(tx, email)
        if row.disabled == disabled:
            return
        row.disabled, row.updated_at = disabled, now
        tx.session.add(row)
        if disabled:
            _end_sessions(tx, row, now)
        _audit(tx, now, actor, "disabled" if disabled else "enabled", row.email)


def set_language(ctx: Context, email: str, language: str, *, actor: str) -> bool:
    """Set the language of an account's console and mails; False when it already had it."""
    chosen = _language(ctx, language)
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        row = _row(tx, email)
        if row.language == chosen:
            return False
        before = row.language
        row.language, row.updated_at = chosen, now
        tx.session.add(row)
        tx.acting(actor, now).record(
            "account.language_set",
            f"account:{row.email}",
            before={"language": before},
            after={"language": chosen},
        )
        return True


def remember_language(ctx: Context, email: str, language: str) -> bool:
    """The language an account switched its console to (`?lang=` while logged in), kept as its own
    so that its next login and its mails follow it; False when nothing changed. The account acts."""
    if language not in ctx.settings.languages:
        return False
    with ctx.db.reading() as session:
        row = q.by_email(session, email)
        if row is None or row.language == language:
            return False
    return set_language(ctx, email, language, actor=email)


def own_language(ctx: Context, email: str) -> str | None:
    """The language an account chose (None: it has not, and reads the deployment's)."""
    with ctx.db.reading() as session:
        row = q.by_email(session, email)
        if row is None or row.language not in ctx.settings.languages:
            return None
        return row.language


def set_processes(ctx: Context, email: str, processes: Sequence[str], *, actor: str) -> Account:
    """Set the processes a (non-administrator) account may see."""
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        row = _row(tx, email)
        if row.role == ADMINISTRATOR:
            raise InvalidCommand(
                _("%(email)s is an administrator and sees every process.", email=row.email)
            )
        keys = _give_processes(tx, row, processes)
        row.updated_at = now
        tx.session.add(row)
        _audit(tx, now, actor, "processes_set", row.email, processes=keys)
        return account_of(tx.session, row)


def issue_token(ctx: Context, email: str, *, actor: str, label: str = "") -> str:
    """A new API token for an account, returned once (only its SHA-256 is stored)."""
    label = clean_optional(label, TOKEN_LABEL) or ""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        row = _row(tx, email)
        if row.disabled:
            raise InvalidCommand(
                _("%(email)s is disabled; enable it before giving it a token.", email=row.email)
            )
        token_row = ApiTokenRow(
            account_id=row.id or 0,
            token_hash=secret_hash(token),
            label=label,
            created_at=now,
        )
        tx.session.add(token_row)
        tx.session.flush()
        _audit(tx, now, actor, "token_issued", row.email, token_id=token_row.id, label=label)
    return token


def revoke_tokens(ctx: Context, email: str, *, actor: str) -> int:
    """Revoke every API token of an account; return how many were in force."""
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        row = _row(tx, email)
        live = q.live_tokens(tx.session, row.id)
        for token_row in live:
            token_row.revoked_at = now
            tx.session.add(token_row)
        if live:
            _audit(tx, now, actor, "tokens_revoked", row.email, count=len(live))
        return len(live)


@dataclass(frozen=True)
class AccountSummary:
    """One account as `ibmflow user list` shows it."""

    email: str
    name: str
    role: str
    disabled: bool
    processes: tuple[str, ...] | None  # None: an administrator, who sees every process
    api_tokens: int  # how many are in force
    created_at: datetime
    language: str | None = None  # None: the deployment's

    @property
    def processes_text(self) -> str:
        """The processes in words: "all" for an administrator, else their keys."""
        return "all" if self.processes is None else ", ".join(self.processes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "name": self.name,
            "role": self.role,
            "disabled": self.disabled,
            "processes": "all" if self.processes is None else list(self.processes),
            "api_tokens": self.api_tokens,
            "created_at": iso(self.created_at),
            "language": self.language,
        }


def list_users(ctx: Context) -> list[AccountSummary]:
    """Every account: role, processes, whether disabled, how many API tokens are in force."""
    with ctx.db.reading() as session:
        tokens = q.live_token_counts(session)
        out = []
        for row in q.ordered_by_email(session):
            account = account_of(session, row)
            out.append(
                AccountSummary(
                    email=row.email,
                    name=row.name,
                    role=row.role,
                    disabled=row.disabled,
                    processes=None
                    if account.processes is None
                    else tuple(sorted(account.processes)),
                    api_tokens=tokens.get(row.id or 0, 0),
                    created_at=row.created_at,
                    language=row.language,
                )
            )
        return out


def ensure_demo_accounts(ctx: Context, *process_keys: str) -> list[tuple[str, str, str]]:
    """The demo's accounts, each with one fresh random password and every one of `process_keys`
    among its processes: (email, password, role), what the quick start prints. Run again, it
    gives new passwords and lifts the pause that failed logins put on these accounts, so that the
    passwords it returns are the ones that work."""
    out = []
    actor = "demo"
    wanted = frozenset(key.strip().upper() for key in process_keys)
    with ctx.db.reading() as session:
        existing = q.emails(session)
    for email, name, role in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(12)
        if email not in existing:
            add_user(
                ctx,
                email=email,
                name=name,
                role=role,
                password=password,
                actor=actor,
                processes=sorted(wanted),
            )
        else:
            set_password(ctx, email, password, actor=actor)
            set_disabled(ctx, email, False, actor=actor)
            if role != ADMINISTRATOR:
                with ctx.db.reading() as session:
                    row = q.by_email(session, email)
                    assert row is not None
                    keys = account_of(session, row).processes or frozenset()
                set_processes(ctx, email, sorted(keys | wanted), actor=actor)
        out.append((email, password, role))
    with ctx.db.transaction() as tx:
        q.forget_failed_logins(tx.session, [email for email, _, _ in DEMO_ACCOUNTS])
    return out
