"""The exception tree drawn in `ibmflow.errors`' docstring is complete and true to the code."""

from __future__ import annotations

import inspect
import re

from ibmflow import errors

# A line of the drawing: the branches (`│   `, `├── `, `└── `), then a class name.
LINE = re.compile(r"^    (?P<branches>(?:[│ ]   )*(?:[├└]── )?)(?P<name>[A-Z]\w+)\b")


def _drawing() -> dict[str, str | None]:
    """Each class named in the drawing, with the class it is drawn under (None at the top)."""
    doc = errors.__doc__ or ""
    drawn: dict[str, str | None] = {}
    above: list[str] = []  # the class drawn last at each depth
    for line in doc.split("::", 1)[1].splitlines():
        match = LINE.match(line)
        if match is None:
            continue
        depth = len(match["branches"]) // 4
        del above[depth:]
        drawn[match["name"]] = above[-1] if above else None
        above.append(match["name"])
    return drawn


def _classes() -> dict[str, type]:
    return {
        name: cls
        for name, cls in inspect.getmembers(errors, inspect.isclass)
        if cls.__module__ == errors.__name__
    }


def test_every_class_of_the_module_is_drawn_in_its_docstring() -> None:
    missing = sorted(set(_classes()) - set(_drawing()))
    assert missing == [], f"add to the tree in ibmflow/errors.py's docstring: {missing}"


def test_the_drawing_names_no_class_the_module_lacks() -> None:
    assert sorted(set(_drawing()) - set(_classes())) == []


def test_each_error_is_drawn_under_its_base_class() -> None:
    drawn = _drawing()
    for name, cls in _classes().items():
        if issubclass(cls, errors.IbmflowError) and cls is not errors.IbmflowError:
            assert drawn[name] == cls.__base__.__name__, name
        else:
            assert drawn[name] is None, name
