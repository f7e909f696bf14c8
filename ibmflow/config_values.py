"""The parsers of setting values: each takes what a configuration file or an environment variable
holds and returns the checked value, or raises ValueError saying what was expected (`config` adds the
key and where the value came from)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ibmflow.i18n import NAMES as _CATALOGUED

# English and every language with a catalog; en_XA is the pseudo-locale of the tests (ibmflow/i18n.py)
LANGUAGES = tuple(_CATALOGUED)


def nonblank(value: Any) -> str:
    """A non-empty text, stripped."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a non-empty text")
    return value.strip()


def country(value: Any) -> str:
    """A two-letter country code, upper-cased."""
    text = nonblank(value).upper()
    if not re.fullmatch(r"[A-Z]{2}", text):
        raise ValueError("a two-letter ISO 3166 country code such as MA, SN or ES")
    return text


def timezone(value: Any) -> str:
    """An IANA time zone name."""
    text = nonblank(value)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("an IANA time zone such as Africa/Casablanca or Europe/Madrid") from None
    return text


def language(value: Any) -> str:
    """One of the languages ibmflow writes in."""
    text = nonblank(value)
    if text not in LANGUAGES:
        raise ValueError(f"one of {', '.join(LANGUAGES)}")
    return text


def languages(value: Any) -> tuple[str, ...]:
    """A list of the languages ibmflow writes in (or a comma-separated text), without repeats."""
    items = value.split(",") if isinstance(value, str) else value
    expected = f'a list of languages among {", ".join(LANGUAGES)}, such as ["en", "fr"]'
    if not isinstance(items, list | tuple) or not items:
        raise ValueError(expected)
    chosen: list[str] = []
    for item in items:
        if not isinstance(item, str) or item.strip() not in LANGUAGES:
            raise ValueError(expected)
        if item.strip() not in chosen:
            chosen.append(item.strip())
    return tuple(chosen)


def positive_int(value: Any) -> int:
    """A whole number of milliseconds, at least 1."""
    expected = "a whole number of milliseconds, at least 1"
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(expected)
    if isinstance(value, str) and not value.strip().isdigit():
        raise ValueError(expected)
    number = int(value)
    if number < 1:
        raise ValueError(expected)
    return number


def whole(unit: str, minimum: int = 1, maximum: int | None = None) -> Callable[[Any], int]:
    """A parser of whole numbers of `unit` from `minimum` (to `maximum`)."""
    expected = f"a whole number of {unit} from {minimum}" + (f" to {maximum}" if maximum else "")

    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(expected)
        if isinstance(value, str) and not value.strip().isdigit():
            raise ValueError(expected)
        number = int(value)
        if number < minimum or (maximum is not None and number > maximum):
            raise ValueError(expected)
        return number

    return parse


def flag(value: Any) -> bool:
    """true or false (also yes/no, 1/0, on/off, as environment variables write them)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise ValueError("true or false")


def choice(*choices: str) -> Callable[[Any], str]:
    """A parser of one of `choices`, lower-cased."""

    def parse(value: Any) -> str:
        text = nonblank(value).lower()
        if text not in choices:
            raise ValueError(f"one of {', '.join(choices)}")
        return text

    return parse


def address(value: Any) -> str:
    """One mail address, lower-cased."""
    text = nonblank(value)
    if not re.fullmatch(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", text):
        raise ValueError("one mail address such as ibmflow@interior.example")
    return text.lower()


def url(value: Any) -> str:
    """An http(s) address, without a trailing slash."""
    text = nonblank(value).rstrip("/")
    if not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", text):
        raise ValueError("an http:// or https:// address such as https://ibmflow.interior.example")
    return text


def extensions(value: Any) -> tuple[str, ...]:
    """A list of file extensions (or a comma-separated text), lower-cased, without dots."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ValueError('a list of file extensions such as ["pdf", "docx"]')
    out = tuple(str(item).strip().lower().lstrip(".") for item in items)
    if not all(re.fullmatch(r"[a-z0-9]{1,10}", x) for x in out):
        raise ValueError('a list of file extensions such as ["pdf", "docx"]')
    return out


def proxies(value: Any) -> tuple[str, ...]:
    """A list of proxy addresses or networks (or a comma-separated text)."""
    expected = 'a list of proxy addresses or networks such as ["127.0.0.1", "10.0.0.0/8"]'
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError(expected)
    out = tuple(str(item).strip() for item in items if str(item).strip())
    try:
        for item in out:
            ipaddress.ip_network(item, strict=False)
    except ValueError:
        raise ValueError(expected) from None
    return out


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def weekend(value: Any) -> tuple[int, ...]:
    """The weekend's weekday names, as weekday numbers (Monday 0), leaving working days."""
    expected = (
        'a list of weekday names such as ["sat", "sun"] or ["fri", "sat"], leaving working days'
    )
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError(expected)
    names = [str(item).strip().lower()[:3] for item in items if str(item).strip()]
    if any(name not in _WEEKDAYS for name in names) or len(set(names)) == len(_WEEKDAYS):
        raise ValueError(expected)
    return tuple(sorted({_WEEKDAYS.index(name) for name in names}))


def weekly(value: Any) -> tuple[str, int, int]:
    """A weekday and a UTC time ("mon 07:00") as (weekday, hour, minute)."""
    expected = 'a weekday and a UTC time such as "mon 07:00"'
    match = re.fullmatch(r"\s*([a-z]{3})[a-z]*\s+(\d{1,2}):(\d{2})\s*", str(value).lower())
    if not match or match[1] not in _WEEKDAYS or int(match[2]) > 23 or int(match[3]) > 59:
        raise ValueError(expected)
    return match[1], int(match[2]), int(match[3])


def database_url(value: Any) -> str:
    """A SQLite or PostgreSQL URL; `postgresql://` is given the psycopg driver."""
    text = nonblank(value)
    if not re.match(r"^(sqlite|postgresql(\+psycopg)?)://", text):
        raise ValueError("a URL starting with sqlite:/// or postgresql+psycopg://")
    if text.startswith("postgresql://"):
        text = "postgresql+psycopg://" + text.removeprefix("postgresql://")
    return text
