"""CSRF tokens: HMACs under a deployment secret, bound to what the form belongs to.

The secret lives in `<data_dir>/secret.key`, created on first use with 0600 permissions; it is never
part of the repository or the configuration.

- An answer link's form: bound to the link's token hash. The form carries the token in a hidden field
  and the browser in a `SameSite=Strict; HttpOnly` cookie; a POST needs both, and both must match.
- The console's forms: bound to the browser's session (the hash of its session cookie), so a form
  works only in the session whose page carried it.
- The login form, before any session: bound to a random nonce in a short-lived cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from ibmflow.errors import ConfigError

SECRET_FILE = "secret.key"
FIELD = "csrf_token"
_SECRET_BYTES = 32


def load_secret(data_dir: Path) -> bytes:
    """The deployment's secret, created (0600, owner only) the first time it is needed."""
    path = data_dir / SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # made earlier, or by a server starting at the same moment
    else:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(_SECRET_BYTES) + "\n")
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)  # someone loosened it: the secret is for the server's owner only
    text = path.read_text(encoding="ascii").strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) < 16:
        raise ConfigError(
            f"{path} does not hold a usable secret; delete it and ibmflow makes a new one "
            "(links already opened then need a reload before their form is sent)."
        )
    return secret


def _mac(secret: bytes, purpose: str, link_hash: str) -> str:
    return hmac.new(secret, f"{purpose}:{link_hash}".encode(), hashlib.sha256).hexdigest()


def token_for(secret: bytes, link_hash: str) -> str:
    """The CSRF token of one answer link (the same every time the link is opened)."""
    return _mac(secret, "csrf", link_hash)


def cookie_name(secret: bytes, link_hash: str) -> str:
    """A cookie name of its own per link, so that two links open in one browser do not collide."""
    return "ibmflow_csrf_" + _mac(secret, "cookie", link_hash)[:16]


def verify(secret: bytes, link_hash: str, form_value: str | None, cookie_value: str | None) -> bool:
    """Whether a POST carries this link's CSRF token both in its form and in its cookie."""
    if not form_value or not cookie_value:
        return False
    expected = token_for(secret, link_hash)
    return hmac.compare_digest(form_value.encode(), expected.encode()) and hmac.compare_digest(
        cookie_value.encode(), expected.encode()
    )


def session_token(secret: bytes, session_hash: str) -> str:
    """The CSRF token of every form of one console session."""
    return _mac(secret, "session", session_hash)


def login_token(secret: bytes, nonce: str) -> str:
    """The CSRF token of the login form shown with this nonce."""
    return _mac(secret, "login", nonce)


def matches(expected: str, given: str | None) -> bool:
    """Whether a form carried the expected token (compared in constant time)."""
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())
