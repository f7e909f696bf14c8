"""Reading one definition file: the `Checker` that collects every problem with its place, its plain
and multilingual texts, ids and key sets, and the workflow's declared languages."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ibmflow.definitions.model import Localized
from ibmflow.errors import Problem

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
DEFAULT_LANGUAGES = ("en",)


class Checker:
    """Collects problems while reading one file."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[Problem] = []
        self.languages: tuple[str, ...] = DEFAULT_LANGUAGES

    def add(self, where: str, what: str) -> None:
        self.problems.append(Problem(self.filename, where, what))

    def table(self, value: object, where: str, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.add(where, f"expected a table, found {type(value).__name__}")
            return {}
        for key in sorted(set(value) - allowed):
            self.add(
                f"{where}.{key}" if where else key,
                f"unknown key; allowed keys are {', '.join(sorted(allowed))}",
            )
        return value

    def text(self, data: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.add(f"{where}.{key}", "missing; add a non-empty text")
            return ""
        if not isinstance(value, str) or not value.strip():
            self.add(f"{where}.{key}", f"expected a non-empty text, found {value!r}")
            return ""
        return value.strip()

    def localized(
        self, data: Mapping[str, Any], key: str, where: str, *, required: bool = True
    ) -> Localized:
        """A text in every declared language: a plain string is the first language's text."""
        value = data.get(key)
        place = f"{where}.{key}"
        if value is None or (value == "" and not required):
            if required:
                self.add(place, "missing; add a non-empty text")
            return Localized()
        if isinstance(value, str):
            value = {self.languages[0]: value}
        if not isinstance(value, dict):
            self.add(place, f"expected a text or a table of languages, found {value!r}")
            return Localized()
        texts: dict[str, str] = {}
        for lang in sorted(set(value) - set(self.languages)):
            self.add(
                f"{place}.{lang}",
                f"{lang!r} is not one of the workflow's languages "
                f"({', '.join(self.languages)}); declare it in [workflow] languages",
            )
        for lang in self.languages:
            text = value.get(lang)
            if text is None:
                self.add(place, f'no "{lang}" text; add {key}.{lang} = "..."')
            elif not isinstance(text, str) or not text.strip():
                self.add(f"{place}.{lang}", f"expected a non-empty text, found {text!r}")
            else:
                texts[lang] = text.strip()
        return Localized.of(texts)

    def ident(self, data: Mapping[str, Any], key: str, where: str) -> str:
        value = self.text(data, key, where)
        if value and not ID_PATTERN.match(value):
            self.add(
                f"{where}.{key}",
                f"{value!r} is not a valid id; use lower-case letters, digits "
                "and underscores, starting with a letter",
            )
        return value


def read_languages(chk: Checker, raw: object) -> tuple[str, ...]:
    """The declared languages (the first is the fallback); English when none are declared."""
    if raw is None:
        return DEFAULT_LANGUAGES
    where = "workflow.languages"
    if not isinstance(raw, list) or not raw or not all(isinstance(x, str) for x in raw):
        chk.add(
            where, f'expected a non-empty list of language codes like ["en", "fr"], found {raw!r}'
        )
        return DEFAULT_LANGUAGES
    out: list[str] = []
    for lang in raw:
        if not LANGUAGE_PATTERN.match(lang):
            chk.add(where, f'{lang!r} is not a language code; write it like "en", "fr" or "pt_BR"')
        elif lang in out:
            chk.add(where, f"{lang!r} is declared twice")
        else:
            out.append(lang)
    return tuple(out) or DEFAULT_LANGUAGES
