"""Rendering mails from the Jinja2 templates in `notifications/`, in the recipient's language.

Each message kind has three templates: `KIND.subject.txt`, `KIND.txt` (plain text) and `KIND.html`,
one set for every language: their sentences are marked for translation and come from the catalogs
(`ibmflow/locale`), their dates and numbers are formatted by the i18n filters at render time.
HTML is autoescaped; `StrictUndefined` makes a missing variable an error (a test fails, a real mail is
never sent with a hole in it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
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

_ONE_LINE = re.compile(r"[ \t\r\n]+")
# The formatting filters whose result depends only on their arguments and the reader's language:
# a sweep formats the same few due dates in hundreds of mails, each through Babel.
_PURE_FILTERS = ("datetime_full", "datetime_short", "date", "weekday")
_MEMO_SIZE = 4096  # results kept per filter (then forgotten all at once)

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
        for name in _PURE_FILTERS:  # one memo per filter, shared by the text and HTML templates
            memoized = _memoized(self._text.filters[name])
            self._text.filters[name] = self._html.filters[name] = memoized

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
                subject = _render(self._text.get_template(f"{kind}.subject.txt"), context)
                text = _render(self._text.get_template(f"{kind}.txt"), context)
                html = _render(self._html.get_template(f"{kind}.html"), context)
        except TemplateNotFound as exc:
            raise InvalidCommand(f"template {exc.name} is missing in {self.folder}.") from None
        except UndefinedError as exc:
            raise InvalidCommand(f"template for {kind!r} uses an undefined value: {exc}.") from None
        # One line: the template's line breaks and indents collapsed, a no-break space kept (French
        # puts one before a colon).
        return Rendered(subject=_ONE_LINE.sub(" ", subject).strip(), text=text, html=html)


def _render(template: Template, context: Mapping[str, Any]) -> str:
    """`template.render(context)`, the same text for less work.

    `Template.render` merges the environment's globals (i18n's functions and Jinja's own, some 17
    names) into the context by copying the template's `ChainMap` of them name by name in Python, at
    every render: a tenth of a mail's rendering. Merged as one dict instead and passed whole
    (`new_context`'s `shared`, which adds nothing more), they are the same names and values: our
    templates are loaded without globals of their own, so theirs are the environment's."""
    environment = template.environment
    names = template.new_context({**environment.globals, **context}, shared=True)
    try:
        return environment.concat(template.root_render_func(names))
    except Exception:
        environment.handle_exception()  # raises it again, as `Template.render` does


def _memoized(function: Callable[..., str]) -> Callable[..., str]:
    """`function` remembering its results by arguments and the reader's language."""
    memo: dict[tuple[Any, ...], str] = {}

    def call(*args: Any, **kwargs: Any) -> str:
        key = (i18n.language(), args, tuple(sorted(kwargs.items())))
        try:
            return memo[key]
        except KeyError:
            pass
        except TypeError:  # an argument that cannot be a key: format it every time
            return function(*args, **kwargs)
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        value = memo[key] = function(*args, **kwargs)
        return value

    return call
