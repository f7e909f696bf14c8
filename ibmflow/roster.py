"""Parse a roster of institutions and people (TOML or CSV) into validated, frozen records."""

from __future__ import annotations

import csv
import io
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal, cast, get_args

from ibmflow.errors import Problem, RosterError

Category = Literal["permanent", "associated", "other"]
CATEGORIES: tuple[str, ...] = get_args(Category)
ROLES = ("focal_point", "iawg_member", "chair", "manager", "coordinator")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CSV_COLUMNS = (
    *("institution_code", "institution_name", "short_name", "category", "involved", "weekend"),
    *("person_name", "email", "roles", "deputy_for"),
)
CSV_REQUIRED = ("institution_code", "institution_name", "category", "person_name", "email", "roles")
_INSTITUTION_KEYS = ("code", "name", "short_name", "category", "involved", "weekend")
_PERSON_KEYS = ("name", "email", "institution", "roles", "deputy_for")
_INSTITUTION_COLUMN = {"code": "institution_code", "name": "institution_name"}
_PERSON_COLUMN = {"name": "person_name", "institution": "institution_code"}
_NO_INSTITUTION_ROLES = ("chair", "manager", "coordinator")
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_CODE_RE = re.compile(r"[A-Z][A-Z0-9_]{1,31}")
_EMAIL_RE = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class RosterInstitution:
    """An institution of the roster; `weekend` holds weekday numbers (Monday = 0)."""

    code: str
    name: str
    short_name: str
    category: Category
    involved: bool
    weekend: tuple[int, ...]


@dataclass(frozen=True)
class RosterPerson:
    """A person of the roster; `institution` is None only for a chair or manager."""

    name: str
    email: str
    institution: str | None
    roles: tuple[str, ...]
    deputy_for: str | None = None


@dataclass(frozen=True)
class Roster:
    """The institutions and people a roster file declares."""

    institutions: tuple[RosterInstitution, ...]
    people: tuple[RosterPerson, ...]


@dataclass(frozen=True)
class _Entry:
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


def _esc(text: str) -> str:
    """Show control characters as escapes so that a message stays on one line."""
    return _CONTROL_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _q(value: object) -> str:
    return f'"{_esc(value)}"' if isinstance(value, str) else repr(value)


class _Checker:
    """Collects the problems of one file; each check returns a placeholder when a value is wrong.

    Placeholders never leave the module: any problem raises RosterError at the end.
    """

    def __init__(self, filename: str, fmt: str) -> None:
        self.filename, self.csv = filename, fmt == "csv"
        self.problems: list[Problem] = []

    def add(self, where: str, what: str) -> None:
        self.problems.append(Problem(self.filename, where, what))

    def text(self, e: _Entry, key: str, example: str, *, required: bool = True) -> str | None:
        """Stripped one-line text; None when absent and optional, "" when wrong or missing."""
        value, where = e.values.get(key), e.where(key)
        if value is None:
            if not required:
                return None
            self.add(where, f"is missing; give it, e.g. {example}")
        elif not isinstance(value, str):
            self.add(where, f"{_q(value)} is not text; write it in quotes, e.g. {example}")
        elif _CONTROL_RE.search(value):
            self.add(where, f"{_q(value)} contains a control character; write it on one line")
        elif not value.strip():
            self.add(where, f"is empty; give a value, e.g. {example}")
        else:
            return value.strip()
        return ""

    def code(self, e: _Entry, key: str) -> str:
        text = self.text(e, key, '"MOF_CUSTOMS"') or ""
        if text and not _CODE_RE.fullmatch(text):
            what = "must be 2-32 capital letters, digits or _, starting with a letter"
            self.add(e.where(key), f'code {_q(text)} {what}, e.g. "MOF_CUSTOMS"')
        return text

    def choice(self, e: _Entry, key: str, allowed: tuple[str, ...]) -> str:
        text = (self.text(e, key, _q(allowed[0])) or "").lower()
        if text and text not in allowed:
            self.add(e.where(key), f"{key} {_q(text)} is not one of {', '.join(allowed)}")
            return ""
        return text

    def flag(self, e: _Entry, key: str) -> bool | None:
        value = e.values.get(key)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip(" ").lower() in _BOOLEANS:
            return _BOOLEANS[value.strip(" ").lower()]
        self.add(e.where(key), f"{_q(value)} is not a yes/no value; write true or false")
        return None

    def words(
        self, e: _Entry, key: str, allowed: tuple[str, ...], noun: str
    ) -> tuple[str, ...] | None:
        """Distinct words from `allowed`; None when absent; an empty list is a problem."""
        value, where = e.values.get(key), e.where(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            sample = '"a;b"' if self.csv else '["a", "b"]'
            self.add(where, f"{_q(value)} is not a list of words; write it like {sample}")
            return ()
        if not value:
            self.add(where, f"is empty; list at least one {noun} from {', '.join(allowed)}")
        found: list[str] = []
        for item in value:
            word = item.strip(" ").lower()
            if word not in allowed:
                self.add(where, f"{noun} {_q(item)} is not one of {', '.join(allowed)}")
            elif word in found:
                self.add(where, f"{noun} {_q(word)} is listed twice; give it once")
            else:
                found.append(word)
        return tuple(found)

    def email(self, e: _Entry, key: str, *, required: bool = True) -> str | None:
        text = self.text(e, key, '"name@domain.example"', required=required)
        if text and not _EMAIL_RE.fullmatch(text.lower()):
            self.add(e.where(key), f"{_q(text)} is not an email address; write it as name@domain")
            return ""
        return text.lower() if text else text


def _institution(c: _Checker, e: _Entry) -> RosterInstitution:
    code = c.code(e, "code")
    name = c.text(e, "name", '"Ministry of Health"') or ""
    short_name = c.text(e, "short_name", '"Customs Directorate"', required=False) or name
    category = c.choice(e, "category", CATEGORIES)
    involved = c.flag(e, "involved")
    days = c.words(e, "weekend", WEEKDAYS, "weekday")
    if days is not None and len(days) == len(WEEKDAYS):
        c.add(e.where("weekend"), "lists all seven days; a weekend must leave working days")
    weekend = (5, 6) if days is None else tuple(sorted(WEEKDAYS.index(d) for d in days))
    if involved is None:
        involved = category in ("permanent", "associated")
    category_ = cast(Category, category)  # "" only when a problem was recorded
    return RosterInstitution(code, name, short_name, category_, involved, weekend)


def _person(c: _Checker, e: _Entry) -> RosterPerson:
    name = c.text(e, "name", '"Amina El Idrissi"') or ""
    email = c.email(e, "email") or ""
    institution = c.text(e, "institution", '"MOF_CUSTOMS"', required=c.csv)
    roles = c.words(e, "roles", ROLES, "role")
    deputy_for = c.email(e, "deputy_for", required=False)
    if roles is None and not deputy_for:  # a deputy needs no other role
        c.add(
            e.where("roles"),
            f"is missing; give at least one of {', '.join(ROLES)} (or deputy_for, for a deputy)",
        )
    return RosterPerson(name, email, institution, roles or (), deputy_for)


def _check_links(
    c: _Checker,
    institutions: list[tuple[RosterInstitution, _Entry]],
    people: list[tuple[RosterPerson, _Entry]],
    known_institutions: Mapping[str, str],
    known_emails: Collection[str],
) -> None:
    """The rules between records: unique codes and emails, references, IAWG seats, deputies."""
    categories: dict[str, str] = dict(known_institutions)
    declared_in: dict[str, str] = {}
    for inst, e in institutions:
        if inst.code in declared_in:
            c.add(
                e.where("code"),
                f"{inst.code} is already declared in {declared_in[inst.code]}; keep one",
            )
        elif inst.code:
            declared_in[inst.code] = e.label
            categories[inst.code] = inst.category
    deputisable = {p.email for p, _ in people if p.email and "focal_point" in p.roles}
    deputisable |= {email.strip().lower() for email in known_emails}
    email_of: dict[str, str] = {}
    iawg_seat: dict[str, str] = {}
    for p, e in people:
        if p.email in email_of:
            c.add(e.where("email"), f"{p.email} is already used by {email_of[p.email]}; keep one")
        elif p.email:
            email_of[p.email] = e.label
        needing = " and ".join(r for r in p.roles if r not in _NO_INSTITUTION_ROLES)
        if p.institution is None and needing:
            c.add(e.where("institution"), f"a {needing} needs an institution; give its code")
        elif p.institution and p.institution not in categories:
            what = "is neither declared in the roster nor known; declare it or correct the code"
            c.add(e.where("institution"), f"{p.institution} {what}")
        elif p.institution and "iawg_member" in p.roles:
            category = categories[p.institution]
            if category and category != "permanent":
                what = f"only permanent institutions have one and {p.institution} is {category}"
                c.add(e.where("roles"), f"iawg_member: {what}; make them a focal_point")
            elif p.institution in iawg_seat:
                what = f"{p.institution} already has one ({iawg_seat[p.institution]})"
                c.add(e.where("roles"), f"iawg_member: {what}; keep one per institution")
            else:
                iawg_seat[p.institution] = e.label
        if p.deputy_for and p.deputy_for == p.email:
            c.add(e.where("deputy_for"), "is their own email; give their focal point's email")
        elif p.deputy_for and p.deputy_for not in deputisable:
            what = "is not a focal point of this roster nor a known person; give a focal point"
            c.add(e.where("deputy_for"), f"{p.deputy_for} {what}")


def _toml_entries(c: _Checker, text: str) -> tuple[list[_Entry], list[_Entry]]:
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

    def tables(kind: str, allowed: tuple[str, ...]) -> list[_Entry]:
        found, entries = data.get(kind, []), []
        for i, table in enumerate(found if isinstance(found, list) else [found], start=1):
            label = f"{kind}[{i}]" if isinstance(found, list) else kind
            if not isinstance(table, dict) or not isinstance(found, list):
                c.add(label, f"write each {kind} as a [[{kind}]] table (two brackets)")
                continue
            for key in [k for k in table if k not in allowed]:
                c.add(f"{label}.{_esc(key)}", f"unknown key; the keys are {', '.join(allowed)}")
            entries.append(_Entry(table, label))
        return entries

    return tables("institution", _INSTITUTION_KEYS), tables("person", _PERSON_KEYS)


def _csv_rows(c: _Checker, text: str) -> list[tuple[int, dict[str, str | None]]]:
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
        c.add("row 1", f"column {_q(name)} is unknown or repeated; the columns are {columns}")
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


def _csv_entries(
    c: _Checker, text: str, known: Mapping[str, str]
) -> tuple[list[_Entry], list[_Entry]]:
    groups: dict[str, list[tuple[int, dict[str, str | None]]]] = {}
    people: list[_Entry] = []
    for n, cells in _csv_rows(c, text):
        code = cells["institution_code"]
        if code is not None:
            groups.setdefault(code.strip(" "), []).append((n, cells))
        values: dict[str, object] = {k: cells[_PERSON_COLUMN.get(k, k)] for k in _PERSON_KEYS}
        values["roles"] = _split(cells["roles"])
        if cells["person_name"] is not None:
            people.append(_Entry(values, f"row {n}", _PERSON_COLUMN))
            continue
        if code is None:
            c.add(f"row {n}, institution_code", "is missing; every row belongs to an institution")
        if given := [col for col in ("email", "roles", "deputy_for") if cells[col] is not None]:
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
                    what = f"disagrees with {_q(merged[key])} on row {first[key]}"
                    c.add(f"row {n}, {col}", f"{_q(value)} {what}; give one value or none")
        if code in known and len(merged) == 1:
            continue  # the rows only refer to an institution already in the process
        if code in known:
            merged.setdefault("category", known[code])
        merged["weekend"] = _split(cast(str | None, merged.get("weekend")))
        institutions.append(_Entry(merged, f"row {group[0][0]}", _INSTITUTION_COLUMN, first))
    return institutions, people


def _split(cell: str | None) -> list[str] | None:
    """The `;`-separated words of a CSV cell (None for an empty cell)."""
    return None if cell is None else [s for s in cell.split(";") if s.strip(" ")]


def _norm(key: str, value: str) -> str:
    """A CSV institution cell as compared between rows (case and spaces ignored but in names)."""
    if key in ("name", "short_name"):
        return value.strip()
    word = value.replace(" ", "").lower()
    return str(_BOOLEANS.get(word, word)) if key == "involved" else word


def _position(problem: Problem) -> tuple[str, int]:
    """Sort key putting problems in file order: `row 2` < `row 10`, institutions < people."""
    match = re.match(r"(\D*)(\d*)", problem.where)
    return (match.group(1), int(match.group(2) or 0)) if match else (problem.where, 0)


def parse_roster_text(
    text: str,
    *,
    fmt: Literal["toml", "csv"],
    filename: str,
    known_institutions: Mapping[str, Category] = {},
    known_emails: Collection[str] = (),
) -> Roster:
    """Parse roster text; raise RosterError listing every problem (nothing is returned then)."""
    c = _Checker(filename, fmt)
    text = text.removeprefix("\ufeff")
    if fmt == "csv":
        inst_entries, person_entries = _csv_entries(c, text, known_institutions)
    else:
        inst_entries, person_entries = _toml_entries(c, text)
    institutions = [(_institution(c, e), e) for e in inst_entries]
    people = [(_person(c, e), e) for e in person_entries]
    _check_links(c, institutions, people, known_institutions, known_emails)
    if not c.problems and not institutions and not people:
        c.add("file", "declares no institution and no person; see ibmflow/defaults/roster.toml")
    if c.problems:
        raise RosterError(sorted(dict.fromkeys(c.problems), key=_position))
    return Roster(tuple(i for i, _ in institutions), tuple(p for p, _ in people))


def parse_roster(
    path: Path,
    *,
    known_institutions: Mapping[str, Category] = {},
    known_emails: Collection[str] = (),
) -> Roster:
    """Parse a .toml or .csv roster file (UTF-8); raise RosterError listing every problem."""
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("toml", "csv"):
        what = f"{_q(path.suffix)} is not a roster format; use a file ending in .toml or .csv"
        raise RosterError([Problem(str(path), "file name", what)])
    try:
        data = path.read_bytes()
    except OSError as exc:
        what = f"cannot be read ({exc.strerror}); check the path"
        raise RosterError([Problem(str(path), "file", what)]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = "line " + str(data[: exc.start].count(b"\n") + 1)
        what = f"byte 0x{data[exc.start]:02x} is not UTF-8; save the file as UTF-8"
        raise RosterError([Problem(str(path), line, what)]) from None
    return parse_roster_text(
        text,
        fmt=cast(Literal["toml", "csv"], fmt),
        filename=str(path),
        known_institutions=known_institutions,
        known_emails=known_emails,
    )


def default_roster() -> Roster:
    """The seeded institutions of the ToR annex (6 permanent, 1 associated), without people."""
    resource = resources.files("ibmflow").joinpath("defaults", "roster.toml")
    text = resource.read_text(encoding="utf-8")
    return parse_roster_text(text, fmt="toml", filename="ibmflow/defaults/roster.toml")
