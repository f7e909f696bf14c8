"""`json_writer` (ibmflow/json_writer.py) writes what `json.dumps` writes with the same options:
the audit chain's values, a mail's kept context and SQLite's JSON columns go through it."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibmflow.json_writer import json_writer

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
_OPTIONS: list[dict[str, Any]] = [
    {},
    {"ensure_ascii": False, "separators": (",", ":")},
    {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False, "allow_nan": False},
]


@pytest.mark.parametrize("options", _OPTIONS)
@given(value=_JSON)
def test_it_writes_what_json_dumps_writes(options: dict[str, Any], value: Any) -> None:
    assert json_writer(**options)(value) == json.dumps(value, **options)


def test_its_default_and_its_refusals_are_json_dumps_ones() -> None:
    def default(value: Any) -> Any:
        if isinstance(value, date):
            return {"$date": value.isoformat()}
        raise TypeError(f"no JSON for {type(value).__name__}")

    value = {"when": date(2026, 11, 30), "who": ["Émilie", "\u212aaspar"], "n": 1.5}
    assert json_writer(default=default)(value) == json.dumps(value, default=default)
    with pytest.raises(TypeError, match="no JSON for object"):
        json_writer(default=default)({"x": object()})
    with pytest.raises(TypeError):
        json_writer()({"x": date(2026, 11, 30)})
    for out_of_range in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="Out of range float"):
            json_writer(allow_nan=False)([out_of_range])
    assert json_writer()([float("inf")]) == json.dumps([float("inf")])
