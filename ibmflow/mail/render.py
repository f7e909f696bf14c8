"""Rendering mails from the Jinja2 templates in `notifications/<language>/`.

Each message kind has three templates: `KIND.subject.txt`, `KIND.txt` (plain text) and `KIND.html`.
HTML is autoescaped; `StrictUndefined` makes a missing variable an error (a test fails, a real mail is
never sent with a hole in it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    UndefinedError,
)

from ibmflow import i18n
from ibmflow.errors import InvalidCommand

MESSAGE_KINDS = (
    "request",
    "vote",
    "step_entered",
    "step_completed",
    "decision_result",
    "process_adopted",
    "answer_receipt",
    "delivery_failure",
    "quarantine_alert",
    "reminder",
    "escalation",
    "step_overdue",
    "chase_digest",
    "digest",
    "deadline_extended",
    "request_reopened",
)


@dataclass(frozen=True)
class Rendered:
    """A rendered mail: one-line subject, plain text, HTML."""

    subject: str
    text: str
    html: str


class Renderer:
    """The notification templates of one folder, rendered in the process's language."""

    def __init__(self, folder: Path, default_language: str = "en") -> None:
        self.folder = folder
        self.default_language = default_language
        common: dict[str, Any] = {
            "loader": FileSystemLoader(str(folder)),
            "undefined": StrictUndefined,
            "keep_trailing_newline": True,
            "trim_blocks": True,
            "lstrip_blocks": True,
        }
        self._text = Environment(autoescape=False, **common)
        self._html = Environment(autoescape=True, **common)
        i18n.install(self._text)
        i18n.install(self._html)

    def render(
        self, kind: str, context: Mapping[str, Any], language: str | None = None
    ) -> Rendered:
        """Render a message kind; raise InvalidCommand naming a missing template or variable."""
        if kind not in MESSAGE_KINDS:
            raise InvalidCommand(
                f"unknown message kind {kind!r}; one of {', '.join(MESSAGE_KINDS)}."
            )
        lang = language or self.default_language
        try:
            with i18n.using(lang):
                subject = self._pick(self._text, lang, f"{kind}.subject.txt").render(context)
                text = self._pick(self._text, lang, f"{kind}.txt").render(context)
                html = self._pick(self._html, lang, f"{kind}.html").render(context)
        except TemplateNotFound as exc:
            raise InvalidCommand(f"template {exc.name} is missing in {self.folder}.") from None
        except UndefinedError as exc:
            raise InvalidCommand(f"template for {kind!r} uses an undefined value: {exc}.") from None
        return Rendered(subject=" ".join(subject.split()), text=text, html=html)

    @staticmethod
    def _pick(env: Environment, language: str, name: str) -> Template:
        """The template in the language asked for, else the English one (not yet translated)."""
        try:
            return env.get_template(f"{language}/{name}")
        except TemplateNotFound:
            if language == "en":
                raise
            return env.get_template(f"en/{name}")
