"""One JSON writer built once, for text written many times a second (a step's audit values, a
mail's kept context, SQLite's JSON columns). Pure: no I/O.

`json.dumps` builds a `JSONEncoder` and its C encoder at every call, which costs more than writing
a small value. `json_writer` builds them once with the arguments `JSONEncoder.iterencode` gives the
C encoder, and writes the same text as `json.dumps` with the same options, but with no `markers`:
the check for circular references keeps the containers being written in that dict, which a writer
shared by threads must not share. What it writes are trees built by code (a circular value would
end in `RecursionError` rather than `ValueError`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import (  # type: ignore[attr-defined]
    c_make_encoder,
    encode_basestring,
    encode_basestring_ascii,
)
from typing import Any


def json_writer(
    *,
    default: Callable[[Any], Any] | None = None,
    ensure_ascii: bool = True,
    separators: tuple[str, str] = (", ", ": "),
    sort_keys: bool = False,
    allow_nan: bool = True,
) -> Callable[[Any], str]:
    """What writes a value as `json.dumps(value, default=..., ensure_ascii=..., separators=...,
    sort_keys=..., allow_nan=...)` does: the same text."""
    encoder = json.JSONEncoder(
        default=default,
        ensure_ascii=ensure_ascii,
        separators=separators,
        sort_keys=sort_keys,
        allow_nan=allow_nan,
    )
    if c_make_encoder is None:  # no C accelerator: `json` itself
        return encoder.encode
    item_separator, key_separator = separators
    strings = encode_basestring_ascii if ensure_ascii else encode_basestring
    encode = c_make_encoder(
        None,
        encoder.default,
        strings,
        None,
        key_separator,
        item_separator,
        sort_keys,
        False,
        allow_nan,
    )
    return lambda value: "".join(encode(value, 0))
