"""Reading a roster file's text into raw records, each located for messages: the TOML tables, or
the CSV rows (a person per row, an institution's cells merged across its rows). The checks of the
values and the rules between records are `ibmflow.roster`'s. `in_one_person_words` says the problems
of a one-person roster built from a command (`person add`) in that command's words."""

from __future__ import annotations

import csv
import io
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import ParamSpec, TypeVar, cast

from ibmflow.errors import InvalidCommand, Problem, RosterError
from ibmflow.text import escape, normalise

CSV_COLUMNS = (
    *("institution_code", "institution_name", "short_name", "category", "involved", "weekend"),
    *("person_name", "email", "roles", "deputy_for"),
    *("institution_language", "language"),
)
CSV_REQUIRED = ("institution_code", "institution_name", "category", "person_name", "email", "roles")
_INSTITUTION_KEYS = ("code", "name", "short_name", "category", "involved", "weekend", "language")
_PERSON_KEYS = ("name", "email", "institution", "roles", "deputy_for", "language")
_INSTITUTION_COLUMN = {
    "code": "institution_code",
    "name": "institution_name",
    "language": "institution_language",
}
_PERSON_COLUMN = {"name": "person_name", "institution": "institution_code"}
BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


@dataclass(frozen=True)
class Entry:
    """One raw record: a TOML table (`person[2]`) or CSV row(s) (`row 7`, then `columns` is set)."""

    values: Mapping[str, object]
    label: str
    columns: Mapping[str, str] | None = None  # CSV: key -> column
    rows: Mapping[str, int] = field(default_factory=dict)  # CSV: the row that gave each key

    def where(self, key: str) -> str:
        if self.columns is None:
            return f"{self.label}.{key}"
        label = f"row {self.rows[key]}" if key in self.rows else self.label
        return f"{label}, {self.columns.get(key, key)}"


class Problems:
    """The problems found in one file so far, each where it is and what is wrong."""

    def __init__(self, filename: str, fmt: str) -> None:
        self.filename, self.csv = filename, fmt == "csv"
        self.problems: list[Problem] = []

    def add(self, where: str, what: str) -> None:
        self.problems.append(Problem(self.filename, where, what))


def _esc(value: str) -> str:
    """Show refused characters as escapes so that a message stays on one line."""
    return escape(value)[1:-1]


def quoted(value: object) -> str:
    """A value as messages show it: text quoted and escaped, anything else as Python writes it."""
    return escape(value) if isinstance(value, str) else repr(value)


def toml_entries(c: Problems, text: str) -> tuple[list[Entry], list[Entry]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"at line (\d+)", str(exc))
        message = re.sub(r"\s*\(at [^)]*\)$", "", str(exc))
        where = f"line {line.group(1)}" if line else "end of file"
        c.add(where, f"is not valid TOML ({message}); correct the syntax")
        return [], []
    for key in data:
        if key not in ("institution", "person"):
            c.add(_esc(key), "unknown section; a roster has only [[institution]] and [[person]]")

    def tables(kind: str, allowed: tuple[str, ...]) -> list[Entry]:
        found, entries = data.get(kind, []), []
        for i, table in enumerate(found if isinstance(found, list) else [found], start=1):
            label = f"{kind}[{i}]" if isinstance(found, list) else kind
            if not isinstance(table, dict) or not isinstance(found, list):
                c.add(label, f"write each {kind} as a [[{kind}]] table (two brackets)")
                continue
            for key in [k for k in table if k not in allowed]:
                c.add(f"{label}.{_esc(key)}", f"unknown key; the keys are {', '.join(allowed)}")
            entries.append(Entry(table, label))
        return entries

    return tables("institution", _INSTITUTION_KEYS), tables("person", _PERSON_KEYS)


def _csv_rows(c: Problems, text: str) -> list[tuple[int, dict[str, str | None]]]:
    """The data rows as (line number, column -> cell or None); [] when the header is wrong."""
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        c.add(f"row {start}", f"cannot be read as CSV ({exc}); check the double quotes")
    rows = [(n, row) for n, row in rows if any(cell.strip() for cell in row)]
    columns = ",".join(CSV_COLUMNS)
    if not rows:
        c.add("row 1", f"the file is empty; the first row must be the header {columns}")
        return []
    header = [cell.strip().lower() for cell in rows[0][1]]
    for name in sorted({h for h in header if h not in CSV_COLUMNS or header.count(h) > 1}):
        c.add("row 1", f"column {quoted(name)} is unknown or repeated; the columns are {columns}")
    if missing := [name for name in CSV_REQUIRED if name not in header]:
        c.add("row 1", f"the header lacks {', '.join(missing)}; the columns are {columns}")
    if c.problems:
        return []
    result: list[tuple[int, dict[str, str | None]]] = []
    for n, row in rows[1:]:
        if len(row) > len(header):
            what = f"has {len(row)} cells for {len(header)} columns; quote values with commas"
            c.add(f"row {n}", what)
            continue
        cells: dict[str, str | None] = dict.fromkeys(CSV_COLUMNS)
        cells.update(
            (h, cell if cell.strip(" ") else None) for h, cell in zip(header, row, strict=False)
        )
        result.append((n, cells))
    return result


def csv_entries(
    c: Problems, text: str, known: Mapping[str, str]
) -> tuple[list[Entry], list[Entry]]:
    groups: dict[str, list[tuple[int, dict[str, str | None]]]] = {}
    people: list[Entry] = []
    for n, cells in _csv_rows(c, text):
        code = cells["institution_code"]
        if code is not None:
            groups.setdefault(code.strip(" "), []).append((n, cells))
        values: dict[str, object] = {k: cells[_PERSON_COLUMN.get(k, k)] for k in _PERSON_KEYS}
        values["roles"] = _split(cells["roles"])
        if cells["person_name"] is not None:
            people.append(Entry(values, f"row {n}", _PERSON_COLUMN))
            continue
        if code is None:
            c.add(f"row {n}, institution_code", "is missing; every row belongs to an institution")
        given = [c for c in ("email", "roles", "deputy_for", "language") if cells[c] is not None]
        if given:
            what = f"is empty but {', '.join(given)} given; add the name or empty those cells"
            c.add(f"row {n}, person_name", what)
    institutions = []
    for code, group in groups.items():
        merged: dict[str, object] = {"code": code}
        first: dict[str, int] = {}
        for n, cells in group:
            for key in _INSTITUTION_KEYS[1:]:
                col = _INSTITUTION_COLUMN.get(key, key)
                value = cells[col]
                if value is not None and key not in merged:
                    merged[key], first[key] = value, n
                elif value is not None and _norm(key, value) != _norm(key, str(merged[key])):
                    what = f"disagrees with {quoted(merged[key])} on row {first[key]}"
                    c.add(f"row {n}, {col}", f"{quoted(value)} {what}; give one value or none")
        if code in known and len(merged) == 1:
            continue  # the rows only refer to an institution already in the process
        if code in known:
            merged.setdefault("category", known[code])
        merged["weekend"] = _split(cast(str | None, merged.get("weekend")))
        institutions.append(Entry(merged, f"row {group[0][0]}", _INSTITUTION_COLUMN, first))
    return institutions, people


def _split(cell: str | None) -> list[str] | None:
    """The `;`-separated words of a CSV cell (None for an empty cell)."""
    return None if cell is None else [s for s in cell.split(";") if s.strip(" ")]


def _norm(key: str, value: str) -> str:
    """A CSV institution cell as compared between rows (case and spaces ignored but in names)."""
    if key in ("name", "short_name"):
        return normalise(value)
    word = value.replace(" ", "").lower()
    return str(BOOLEANS.get(word, word)) if key == "involved" else word


_ONE_PERSON = {
    "name": "the person's name",
    "email": "the person's email",
    "institution": "the institution",
    "roles": "the role",
    "deputy_for": "the deputised focal point",
    "language": "the language",
}
_NOT_IN_THE_FILE = "is neither declared in the roster nor known; declare it or correct the code"
_NOT_IN_THE_PROCESS = (
    "is not an institution of this process; import it with a roster or correct the code"
)


P = ParamSpec("P")
T = TypeVar("T")


def in_one_person_words(add: Callable[P, T], command: str) -> Callable[P, T]:
    """`add` (a use case checking one person as a roster of one record, such as
    `services.roster.add_person`), its RosterError turned into `one_person_refusal`."""

    @wraps(add)
    def adding(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return add(*args, **kwargs)
        except RosterError as exc:
            raise one_person_refusal(exc, command) from None

    return adding


def one_person_refusal(error: RosterError, command: str) -> InvalidCommand:
    """The refusal of one person given to `command` (checked as a roster of one record), in the
    command's words: `the person's name "..." contains ...`, not `person[1].name` of a roster."""
    lines = [_in_words(problem) for problem in error.problems]
    if len(lines) == 1:
        return InvalidCommand(f"{command}: {lines[0]}")
    listed = "\n".join(f"  {line}" for line in lines)
    return InvalidCommand(f"{command}: {len(lines)} problems; nobody was added:\n{listed}")


def _in_words(problem: Problem) -> str:
    record, _, key = problem.where.partition(".")
    label = _ONE_PERSON.get(key)
    if record != "person[1]" or label is None:
        return f"{problem.where}: {problem.what}"
    what = problem.what.replace(_NOT_IN_THE_FILE, _NOT_IN_THE_PROCESS)
    return f"{label} {what.removeprefix('role ') if key == 'roles' else what}"
