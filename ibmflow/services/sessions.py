"""Logging in and staying logged in: password logins with a persisted rate limit, browser sessions
and API tokens, each looked up by the SHA-256 of its secret.

The rate limit counts failed logins per account and per client address over a sliding window
(`web.login_max_failures` in `web.login_window_min`); the attempts are rows in the database, so the
limit holds however many server processes run. While it is hit, no password is even checked.
"""

from __future__ import annotations

import math
import secrets
from datetime import datetime, timedelta

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlmodel import Session

from ibmflow.access import Account
from ibmflow.errors import LoginRefused, LoginThrottled
from ibmflow.i18n import _, ngettext
from ibmflow.services.accounts import HASHER, MAX_PASSWORD, account_of, secret_hash
from ibmflow.services.context import Context
from ibmflow.storage.account_tables import LoginAttemptRow, UserAccountRow, WebSessionRow
from ibmflow.storage.queries import accounts as q

KEEP_ATTEMPTS = timedelta(days=1)
# Checked when the email is unknown, so that an unknown address takes as long as a wrong password.
_DUMMY_HASH = HASHER.hash("no account has this password")


def _throttled(session: Session, ctx: Context, email: str, client: str, now: datetime) -> None:
    """Raise LoginThrottled while the account or the address has too many recent failures."""
    limit = ctx.settings.web_login_max_failures
    window = timedelta(minutes=ctx.settings.web_login_window_min)
    waits = []
    since = now - window
    for recent in (
        q.recent_failures(session, "email", email, since, limit),
        q.recent_failures(session, "client", client, since, limit),
    ):
        if len(recent) >= limit:
            waits.append(recent[-1] + window - now)
    if waits:
        wait_s = max(1, math.ceil(max(waits).total_seconds()))
        minutes = math.ceil(wait_s / 60)
        raise LoginThrottled(
            ngettext(
                "Too many failed logins for this account or from this address: logins are "
                "paused for %(num)s minute. Try again then; if you forgot your password, ask an "
                "administrator for a new one.",
                "Too many failed logins for this account or from this address: logins are "
                "paused for %(num)s minutes. Try again then; if you forgot your password, ask an "
                "administrator for a new one.",
                minutes,
            ),
            retry_after_s=wait_s,
        )


def _verify(stored: str, password: str) -> bool:
    try:
        return HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def log_in(ctx: Context, email: str, password: str, *, client: str) -> tuple[Account, str]:
    """Check an email and password; return the account and a new session token (shown to the
    browser once; only its SHA-256 is stored). Raise LoginThrottled or LoginRefused."""
    now = ctx.clock.now()
    email = email.strip().lower()[:254]
    client = (client or "unknown")[:64]
    with ctx.db.reading() as session:
        _throttled(session, ctx, email, client, now)
        row = q.by_email(session, email)
        found = None if row is None else (row.id, row.password_hash, row.disabled)
    # The slow hash runs outside any write transaction, so that it never holds the database.
    password = password[: MAX_PASSWORD + 1]
    matches = _verify(found[1] if found else _DUMMY_HASH, password)
    ok = found is not None and matches and not found[2]
    account: Account | None = None
    token = secrets.token_urlsafe(32)
    with ctx.db.transaction() as tx:
        # Checked again in the write transaction, which serialises logins: attempts made at the
        # same moment cannot all slip under the limit.
        _throttled(tx.session, ctx, email, client, now)
        tx.session.add(LoginAttemptRow(at=now, email=email, client=client, succeeded=ok))
        q.purge_before(tx.session, now - KEEP_ATTEMPTS)
        if ok and found is not None:
            stored = tx.session.get(UserAccountRow, found[0])
            assert stored is not None
            if HASHER.check_needs_rehash(stored.password_hash):
                stored.password_hash = HASHER.hash(password)
                tx.session.add(stored)
            tx.session.add(
                WebSessionRow(
                    account_id=stored.id or 0,
                    token_hash=secret_hash(token),
                    created_at=now,
                    expires_at=now + timedelta(hours=ctx.settings.web_session_hours),
                )
            )
            account = account_of(tx.session, stored)
    if account is None:
        raise LoginRefused(
            _(
                "The email or the password is wrong, or the account is disabled. Check "
                "them and try again: after %(web_login_max_failures)s failures in "
                "%(web_login_window_min)s minutes, logins are paused for a while.",
                web_login_max_failures=ctx.settings.web_login_max_failures,
                web_login_window_min=ctx.settings.web_login_window_min,
            )
        )
    return account, token


def session_account(ctx: Context, token: str | None) -> Account | None:
    """The account a browser session token stands for; None if unknown, ended or expired, or if
    the account is disabled."""
    if not token or len(token) > 200:
        return None
    now = ctx.clock.now()
    with ctx.db.reading() as session:
        found = q.by_session_token(session, secret_hash(token), now)
        return None if found is None else account_of(session, found)


def log_out(ctx: Context, token: str | None) -> None:
    """End a browser session (nothing happens for an unknown token)."""
    if not token or len(token) > 200:
        return
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        q.end_session(tx.session, secret_hash(token), now)


def token_account(ctx: Context, token: str | None) -> Account | None:
    """The account an API bearer token stands for; None if unknown, revoked or disabled."""
    if not token or len(token) > 200:
        return None
    with ctx.db.reading() as session:
        found = q.by_api_token(session, secret_hash(token))
        return None if found is None else account_of(session, found)
