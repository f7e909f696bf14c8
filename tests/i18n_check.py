"""Finding English that escaped the catalogs: render a page or mail in the pseudo-locale (en_XA, where
every catalog message is accented and bracketed in ⟦ ⟧) and look for English words left outside the
brackets. Data (names, titles, addresses, numbers, dates) is not translated; pass it as `data`."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from functools import cache

from babel.messages.pofile import read_po

from ibmflow import catalogs

_TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S | re.I)
_MARKED = re.compile(f"{catalogs.OPEN}.*?{catalogs.CLOSE}", re.S)
_WORD = re.compile(r"[A-Za-z][a-z]{2,}")
_URL = re.compile(r"https?://\S+|\S+@\S+")
# Words that are data or names in any language, never sentences to translate.
_ALWAYS = {"ibmflow", "IBM", "IAWG", "UTC", "CSV", "JSON", "XLSX", "PDF"}


@cache
def english_words() -> frozenset[str]:
    """Every word of three letters or more in the English messages of the catalog."""
    with catalogs.POT.open("rb") as handle:
        template = read_po(handle)
    words: set[str] = set()
    for message in template:
        for text in message.id if isinstance(message.id, tuple) else (message.id,):
            text = re.sub(r"%\([a-z_]+\)[sd]|<[^>]+>", " ", text or "")
            words.update(w.lower() for w in _WORD.findall(text))
    return frozenset(words - {w.lower() for w in _ALWAYS})


def visible_text(page: str) -> str:
    """The text a reader sees of an HTML page or a mail (tags dropped, entities decoded)."""
    return html.unescape(_TAG.sub(" ", page))


def unmarked_english(page: str, data: Iterable[str] = ()) -> list[str]:
    """The English words of the catalog that appear outside the pseudo-locale's brackets, once
    the given data values are taken out: each is a sentence not marked for translation."""
    text = _MARKED.sub(" ", visible_text(page))
    for value in sorted((d for d in data if d), key=len, reverse=True):
        text = text.replace(value, " ")
    text = _URL.sub(" ", text)
    vocabulary = english_words()
    return sorted({w for w in _WORD.findall(text) if w.lower() in vocabulary})
