"""The SQL stays where the tables are: outside `ibmflow/storage/` no module builds a SELECT, INSERT,
UPDATE or DELETE statement beyond the few allowed below, each with its reason. Services ask
`storage.repository` or a module of `storage.queries` by name."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "ibmflow"

# A statement built with SQLModel's or SQLAlchemy's `select(`, `insert(`, `update(`, `delete(`
# (bare or as `sa.`); not a method of another object, such as IMAP's `conn.select(folder)`.
STATEMENT = re.compile(r"(?:(?<![\w.])|(?<=\bsa\.))(?:select|insert|update|delete)\(")

# Where statements are still built outside storage, file by file. These services belong to the
# parts of issue 10 other branches carry out; the lead shrinks this list as they merge, down to the
# handful with a reason of their own.
ALLOWED: dict[str, tuple[int, str]] = {
    "services/audit_log.py": (2, "issue 11 item 3 (audit verify near its floor) moves these"),
    "services/dispatch.py": (5, "issue 11 item 4 (dispatch near its floor) moves these"),
}


def _statements() -> Counter[str]:
    found: Counter[str] = Counter()
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name.startswith("storage/"):
            continue
        count = len(STATEMENT.findall(path.read_text(encoding="utf-8")))
        if count:
            found[name] = count
    return found


def test_no_sql_statement_is_built_outside_storage_beyond_the_allowed_few() -> None:
    over = {
        name: count
        for name, count in _statements().items()
        if count > ALLOWED.get(name, (0, ""))[0]
    }
    assert not over, (
        f"SQL statements built outside ibmflow/storage/: {over}. Put the query in "
        "storage/repository.py or a module of storage/queries/ and call it by name."
    )


def test_the_allow_list_is_no_longer_than_it_needs_to_be() -> None:
    """An entry whose file now builds fewer statements is shrunk (or removed) with it, so the list
    only ever gets shorter."""
    found = _statements()
    loose = {
        name: (allowed, found.get(name, 0))
        for name, (allowed, _) in ALLOWED.items()
        if found.get(name, 0) < allowed
    }
    assert not loose, f"shrink the allow-list to what these files build now: {loose}"


def test_the_pattern_counts_statements_and_not_other_methods() -> None:
    text = (
        "select(PersonRow)\nsa.select(t.c.id)\nsa.update(t)\nsa.insert(t)\nsa.delete(t)\n"
        "conn.select(folder)\nsession.delete(row)\nvalues.update(other)\nreselect(x)\n"
    )
    assert len(STATEMENT.findall(text)) == 5
