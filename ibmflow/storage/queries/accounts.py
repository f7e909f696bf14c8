"""The queries on console accounts: accounts, the processes they may see, their browser sessions, API
tokens and login attempts (the tables of `storage.account_tables`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from ibmflow.storage.account_tables import (
    AccountProcessRow,
    ApiTokenRow,
    LoginAttemptRow,
    UserAccountRow,
    WebSessionRow,
)
from ibmflow.storage.db import table_of
from ibmflow.storage.tables import ProcessRow

_ATTEMPTS = table_of(LoginAttemptRow)
_SESSIONS = table_of(WebSessionRow)


def by_email(session: Session, email: str) -> UserAccountRow | None:
    """The account with this address (compared as stored: trimmed, lower case), or None."""
    return session.exec(
        select(UserAccountRow).where(UserAccountRow.email == email.strip().lower())
    ).one_or_none()


def ordered_by_email(session: Session) -> list[UserAccountRow]:
    """Every account, by address."""
    return list(session.exec(select(UserAccountRow).order_by(col(UserAccountRow.email))))


def emails(session: Session) -> set[str]:
    """The addresses of every account."""
    return set(session.exec(select(UserAccountRow.email)))


def process_keys(session: Session, account_id: int | None) -> list[str]:
    """The keys of the processes an account may see (an administrator's are not listed)."""
    return list(
        session.exec(
            select(ProcessRow.key)
            .join(AccountProcessRow, col(AccountProcessRow.process_id) == col(ProcessRow.id))
            .where(AccountProcessRow.account_id == account_id)
        )
    )


def process_links(session: Session, account_id: int | None) -> list[AccountProcessRow]:
    """The rows giving an account its processes."""
    return list(
        session.exec(select(AccountProcessRow).where(AccountProcessRow.account_id == account_id))
    )


def live_sessions(session: Session, account_id: int | None) -> list[WebSessionRow]:
    """An account's browser sessions not ended (expired ones included: ending them is harmless)."""
    return list(
        session.exec(
            select(WebSessionRow).where(
                WebSessionRow.account_id == account_id, col(WebSessionRow.ended_at).is_(None)
            )
        )
    )


def live_tokens(session: Session, account_id: int | None) -> list[ApiTokenRow]:
    """An account's API tokens in force."""
    return list(
        session.exec(
            select(ApiTokenRow).where(
                ApiTokenRow.account_id == account_id, col(ApiTokenRow.revoked_at).is_(None)
            )
        )
    )


def live_token_counts(session: Session) -> dict[int, int]:
    """How many API tokens each account has in force (accounts with none are left out)."""
    rows = session.exec(
        select(ApiTokenRow.account_id, func.count())
        .where(col(ApiTokenRow.revoked_at).is_(None))
        .group_by(col(ApiTokenRow.account_id))
    )
    return {account_id: count for account_id, count in rows}


def by_session_token(session: Session, token_hash: str, now: datetime) -> UserAccountRow | None:
    """The account of a browser session in force at `now` (not ended, not expired), if the account
    is not disabled."""
    return session.exec(
        select(UserAccountRow)
        .join(WebSessionRow, col(WebSessionRow.account_id) == col(UserAccountRow.id))
        .where(
            WebSessionRow.token_hash == token_hash,
            col(WebSessionRow.ended_at).is_(None),
            col(WebSessionRow.expires_at) > now,
            col(UserAccountRow.disabled).is_(False),
        )
    ).one_or_none()


def by_api_token(session: Session, token_hash: str) -> UserAccountRow | None:
    """The account of an API token in force, if the account is not disabled."""
    return session.exec(
        select(UserAccountRow)
        .join(ApiTokenRow, col(ApiTokenRow.account_id) == col(UserAccountRow.id))
        .where(
            ApiTokenRow.token_hash == token_hash,
            col(ApiTokenRow.revoked_at).is_(None),
            col(UserAccountRow.disabled).is_(False),
        )
    ).one_or_none()


def end_session(session: Session, token_hash: str, now: datetime) -> None:
    """End the browser session with this token hash, if it is still open."""
    session.connection().execute(
        sa.update(_SESSIONS)
        .where(_SESSIONS.c.token_hash == token_hash, _SESSIONS.c.ended_at.is_(None))
        .values(ended_at=now)
    )


def recent_failures(
    session: Session, by: Literal["email", "client"], value: str, since: datetime, limit: int
) -> list[datetime]:
    """When the latest failed logins of an address (`by="email"`) or a client happened after
    `since`, newest first, at most `limit` of them."""
    column = LoginAttemptRow.email if by == "email" else LoginAttemptRow.client
    return list(
        session.exec(
            select(LoginAttemptRow.at)
            .where(
                column == value,
                col(LoginAttemptRow.succeeded).is_(False),
                col(LoginAttemptRow.at) > since,
            )
            .order_by(col(LoginAttemptRow.at).desc())
            .limit(limit)
        )
    )


def purge_before(session: Session, moment: datetime) -> None:
    """Forget the login attempts made, and the browser sessions expired, before `moment`."""
    conn = session.connection()
    conn.execute(sa.delete(_ATTEMPTS).where(_ATTEMPTS.c.at < moment))
    conn.execute(sa.delete(_SESSIONS).where(_SESSIONS.c.expires_at < moment))


def forget_failed_logins(session: Session, emails: Iterable[str]) -> None:
    """Forget the failed logins of these addresses (the pause they put on the accounts ends)."""
    session.connection().execute(
        sa.delete(_ATTEMPTS).where(
            _ATTEMPTS.c.email.in_(list(emails)), _ATTEMPTS.c.succeeded.is_(False)
        )
    )


def chosen_languages(session: Session, emails: Iterable[str]) -> dict[str, str]:
    """The language each of these addresses' accounts chose (accounts without one are left out)."""
    wanted = sorted({email.strip().lower() for email in emails})
    if not wanted:
        return {}
    rows = session.connection().execute(_CHOSEN, {"emails": wanted})
    return {email: language for email, language in rows if language}


_ACCOUNTS = table_of(UserAccountRow)
# Built once, with an expanding parameter (building the select each call cost more than running it).
_CHOSEN = sa.select(_ACCOUNTS.c.email, _ACCOUNTS.c.language).where(
    _ACCOUNTS.c.email.in_(sa.bindparam("emails", expanding=True)),
    _ACCOUNTS.c.language.is_not(None),
)
