"""Header hygiene: no value that comes from data (names, titles, addresses) can inject a header.

The standard library's own folding has had header-injection bugs (CVE-2024-6923 and relatives, present
in the Python 3.11.7 these machines run), so every value is checked here before it reaches an
`EmailMessage`: CR, LF and every other control character are removed or refused.
"""

from __future__ import annotations

import re
import unicodedata

from ibmflow.errors import InvalidCommand

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
_ADDRESS = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")


def clean_header(value: str, *, limit: int = 900) -> str:
    """A header value on one line: control characters (CR and LF included) become spaces."""
    text = _CONTROL.sub(" ", unicodedata.normalize("NFC", value))
    return " ".join(text.split())[:limit]


def clean_display_name(value: str) -> str:
    """A person's name for a `To:`/`From:` display name: one line, no quotes or angle brackets."""
    return clean_header(value, limit=120).replace('"', "'").replace("<", "(").replace(">", ")")


def clean_address(value: str) -> str:
    """A bare address, lower-cased; refused (InvalidCommand) if it is not one plain address."""
    address = value.strip().lower()
    if not _ADDRESS.match(address) or len(address) > 254:
        raise InvalidCommand(
            f"{value!r} is not a single plain mail address; correct it in the roster."
        )
    return address


def has_control(value: str) -> bool:
    """Whether a text holds a character that must never reach a header."""
    return bool(_CONTROL.search(value))
