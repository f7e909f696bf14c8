"""Reading the header fields of a received mail: raw 8-bit bytes read as the text their sender meant
(UTF-8, else Windows-1252), RFC 2047 encoded words decoded, each value on one line. Pure: standard
library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.headerregistry import Address
from email.message import Message
from email.utils import getaddresses
from typing import Any

from ibmflow.mail.headers import MAX_HEADER_CHARS, decoded

_ESCAPED = re.compile(r"[\ud800-\udfff]")
_CP1252_UNDEFINED = frozenset({0x81, 0x8D, 0x8F, 0x90, 0x9D})


def one_line(value: str, limit: int = 998) -> str:
    """Encoded words decoded (to the end: see `headers.decoded`), control characters removed."""
    return decoded(value)[:limit]


def text_of_8bit(data: bytes) -> str:
    """Bytes in an undeclared charset, as their sender most likely meant them: UTF-8 when they are
    valid UTF-8, else Windows-1252 (which Latin-1 mail clients really write), Latin-1 for the five
    bytes Windows-1252 leaves undefined."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return "".join(
            chr(b) if b in _CP1252_UNDEFINED else bytes([b]).decode("cp1252") for b in data
        )


def unescaped(value: str) -> str:
    """A string read from raw 8-bit bytes (the parser keeps each byte >= 0x80 as a lone surrogate,
    "surrogateescape") turned into the text those bytes hold."""
    if not _ESCAPED.search(value):
        return value
    try:
        return text_of_8bit(value.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:  # a surrogate that stands for no byte: nothing to recover
        return _ESCAPED.sub("\ufffd", value)


def values(msg: Message, name: str) -> list[Any]:
    """Every field `name` of a message, parsed, with raw 8-bit bytes read as text first (the
    standard parser would keep them as surrogates, which nothing downstream can store)."""
    wanted = name.lower()
    return [
        # Cut before parsing: the standard parser is slow on very long runs of encoded words.
        msg.policy.header_fetch_parse(
            key, unescaped(raw[:MAX_HEADER_CHARS]) if isinstance(raw, str) else raw
        )
        for key, raw in msg.raw_items()
        if key.lower() == wanted
    ]


def header(msg: Message, name: str, problems: list[str]) -> str:
    """The first field `name` of a message as one line of text ("" when absent or unreadable: the
    reason goes to `problems`)."""
    try:
        found = values(msg, name)
        return one_line(str(found[0])) if found else ""
    except Exception as exc:  # the stdlib header parser has raised on odd input; keep going
        problems.append(f"header {name} unreadable: {exc}")
        return ""


def addresses(msg: Message, name: str, problems: list[str]) -> list[tuple[str, str]]:
    """(display name, address) pairs of an address header, addresses lower-cased."""
    out: list[tuple[str, str]] = []
    try:
        for value in values(msg, name):
            parsed: Iterable[Address] = getattr(value, "addresses", ())
            found = [(a.display_name, a.addr_spec) for a in parsed if a.addr_spec]
            if not found:
                found = [(n, a) for n, a in getaddresses([str(value)]) if a]
            out.extend((one_line(n, 200), a.strip().strip("<>").lower()) for n, a in found)
    except Exception as exc:  # see header()
        problems.append(f"header {name} unreadable: {exc}")
    return [(n, a) for n, a in out if "@" in a]
