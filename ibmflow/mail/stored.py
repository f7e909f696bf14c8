"""A mail's template context as the outbox keeps it: JSON, restored for rendering at dispatch.

A command writes what each mail says (its kind, this context, the reader's language) in the
transaction that causes it; the dispatcher renders it when it sends it (`services.dispatch`). JSON
has no type for some values a context holds; each is stored as a one-key object and restored:

- a moment (`datetime`, aware or not) as `{"$datetime": ISO 8601}`; a day as `{"$date": ...}`;
- a text of the workflow definition in every language (`definitions.Localized`) as
  `{"$localized": {language: text}}`: the mail prints it in the language it is rendered in;
- a sentence worded when printed (`i18n.Lazy`) is worded now, in the mail's language, and kept
  as a `$localized` of that one language (so the template's `|t` does not translate it again).

Anything else JSON cannot hold is a programming error, raised at once (in the command's
transaction, which then rolls back) rather than found by the dispatcher.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import partial
from typing import Any

from ibmflow import i18n
from ibmflow.definitions import Localized
from ibmflow.json_writer import json_writer

_MARKERS = ("$datetime", "$date", "$localized")


def dumps(context: Mapping[str, Any], language: str) -> str:
    """The context as stored text; `Lazy` sentences worded in `language`."""
    return (_WRITERS.get(language) or _writer(language))(context)


# One writer per language, built once (`json_writer`): `json.dumps` builds its encoder at every
# call, a third of what keeping a mail's context costs, and a step keeps some ten of them.
_WRITERS: dict[str, Callable[[Any], str]] = {}


def _writer(language: str) -> Callable[[Any], str]:
    """What writes a context as `json.dumps(context, default=partial(_default, language),
    ensure_ascii=False, separators=(",", ":"))` does, the same text, for mails in `language`."""
    write = json_writer(
        default=partial(_default, language), ensure_ascii=False, separators=(",", ":")
    )
    return _WRITERS.setdefault(language, write)


def _default(language: str, value: Any) -> Any:
    """A value of a context that JSON has no type for, as it is stored (see the module)."""
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Localized):
        return {"$localized": dict(value.texts)}
    if isinstance(value, i18n.Lazy):
        with i18n.using(language):
            return {"$localized": {language: str(value)}}
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(
        f"a mail's context holds a {type(value).__name__}, which the outbox cannot keep; "
        "pass plain values (str, numbers, lists, dicts, moments, Localized texts)"
    )


def loads(text: str) -> dict[str, Any]:
    """The stored context, its moments, days and texts restored."""
    value = json.loads(text, object_hook=_restore)
    if not isinstance(value, dict):
        raise ValueError("a stored mail context is a JSON object")
    return value


def _restore(value: dict[str, Any]) -> Any:
    if len(value) == 1:
        (key,) = value
        if key in _MARKERS:
            stored = value[key]
            if key == "$datetime":
                return datetime.fromisoformat(stored)
            if key == "$date":
                return date.fromisoformat(stored)
            return Localized.of(stored)
    return value
