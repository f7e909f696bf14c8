"""Header hygiene: no value that comes from data (names, titles, addresses) can inject a header.

The standard library's own folding has had header-injection bugs (CVE-2024-6923 and relatives, present
in the Python 3.11.7 these machines run), and its header parser decodes RFC 2047 encoded words in any
value set on an `EmailMessage`: a title written `=?utf-8?q?x=0D=0AReply-To:_...?=` would become a CR/LF
and a header of its own. So every value is decoded here first (repeatedly, as long as decoding changes
it), then sanitised (control characters, CR and LF included, become spaces; lone surrogates become
U+FFFD; `=?` left after decoding is split so that nothing decodes again), and only then handed to the
`EmailMessage`, which encodes what needs encoding.
"""

from __future__ import annotations

import re
import unicodedata
from email import policy

from ibmflow.errors import InvalidCommand

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_ADDRESS = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")
# Decoding an encoded word shortens the text; a value nested deeper than this is an attack, and
# what is left of it is split (`= ?`) so that no reader decodes it.
_MAX_ROUNDS = 8
MAX_HEADER_CHARS = 32 * 1024


def _sanitised(value: str) -> str:
    text = _SURROGATE.sub("\ufffd", unicodedata.normalize("NFC", value))
    return " ".join(_CONTROL.sub(" ", text).split())


def _decode_once(value: str) -> str:
    """The text a mail reader shows for an unstructured header holding `value`."""
    if "=?" not in value:
        return value
    try:
        return str(policy.default.header_factory("Subject", value))
    except Exception:  # the parser is lenient, but has raised on odd input: keep the text as is
        return value


def decoded(value: str, *, max_chars: int = MAX_HEADER_CHARS) -> str:
    """`value` with its RFC 2047 encoded words decoded (and the result's, and so on), one line.

    Only the first `max_chars` characters are read: the standard parser slows down more than
    linearly on long runs of encoded words, and no honest header is that long.
    """
    text = _sanitised(value[:max_chars])
    for _ in range(_MAX_ROUNDS):
        once = _sanitised(_decode_once(text))
        if once == text:
            break
        text = once
    return text


def clean_header(value: str, *, limit: int = 900) -> str:
    """A header value on one line: encoded words decoded, control characters (CR and LF included)
    made spaces, and no `=?` left that a mail reader could decode again."""
    text = decoded(value, max_chars=limit * 16).replace("=?", "= ?")
    return text[:limit].rstrip()


def clean_display_name(value: str) -> str:
    """A person's name for a `To:`/`From:` display name: one line, no quotes or angle brackets."""
    name = clean_header(value, limit=120).replace('"', "'").replace("<", "(").replace(">", ")")
    return name.replace("\\", "/")


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
