"""Parse a roster of institutions and people (TOML or CSV) into validated, frozen records."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal, cast, get_args

from ibmflow import i18n
from ibmflow.errors import Problem, RosterError
from ibmflow.roster_files import (
    BOOLEANS,
    CSV_COLUMNS,
    CSV_REQUIRED,
    Entry,
    Problems,
    csv_entries,
    quoted,
    toml_entries,
)
from ibmflow.text import INSTITUTION_NAME, PERSON_NAME, SHORT_NAME, Field, normalise, problem_in

__all__ = [
    "CATEGORIES",
    "CSV_COLUMNS",
    "CSV_REQUIRED",
    "ROLES",
    "WEEKDAYS",
    "Category",
    "Roster",
    "RosterInstitution",
    "RosterPerson",
    "default_roster",
    "parse_roster",
    "parse_roster_text",
]

Category = Literal["permanent", "associated", "other"]
CATEGORIES: tuple[str, ...] = get_args(Category)
ROLES = ("focal_point", "iawg_member", "chair", "manager", "coordinator")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NO_INSTITUTION_ROLES = ("chair", "manager", "coordinator")
_CODE_RE = re.compile(r"[A-Z][A-Z0-9_]{1,31}")
_EMAIL_RE = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+")


@dataclass(frozen=True)
class RosterInstitution:
    """An institution of the roster; `weekend` holds weekday numbers (Monday = 0)."""

    code: str
    name: str
    short_name: str
    category: Category
    involved: bool
    weekend: tuple[int, ...]
    language: str | None = None  # what its people read when they have no language of their own


@dataclass(frozen=True)
class RosterPerson:
    """A person of the roster; `institution` is None only for a chair or manager."""

    name: str
    email: str
    institution: str | None
    roles: tuple[str, ...]
    deputy_for: str | None = None
    language: str | None = None  # what they read; None: their institution's, else the process's


@dataclass(frozen=True)
class Roster:
    """The institutions and people a roster file declares."""

    institutions: tuple[RosterInstitution, ...]
    people: tuple[RosterPerson, ...]


class _Checker(Problems):
    """Collects the problems of one file; each check returns a placeholder when a value is wrong.

    Placeholders never leave the module: any problem raises RosterError at the end.
    """

    def __init__(
        self, filename: str, fmt: str, languages: Collection[str] = i18n.LANGUAGES
    ) -> None:
        super().__init__(filename, fmt)
        self.languages = tuple(languages)

    def language(self, e: Entry, key: str) -> str | None:
        """A language code among those offered (`en`, `fr`), or None when absent or wrong."""
        if e.values.get(key) is None:
            return None
        text = (self.text(e, key, quoted(self.languages[0])) or "").lower().replace("-", "_")
        if text and text not in [lang.lower() for lang in self.languages]:
            what = f"language {quoted(text)} is not one of {', '.join(self.languages)}"
            self.add(e.where(key), what)
            return None
        return next((lang for lang in self.languages if lang.lower() == text), None)

    def text(
        self, e: Entry, key: str, example: str, *, required: bool = True, longest: int = 254
    ) -> str | None:
        """One-line text, normalised as every name is (`ibmflow.text`); None when absent and
        optional, "" when wrong or missing."""
        value, where = e.values.get(key), e.where(key)
        if value is None:
            if not required:
                return None
            self.add(where, f"is missing; give it, e.g. {example}")
        elif not isinstance(value, str):
            self.add(where, f"{quoted(value)} is not text; write it in quotes, e.g. {example}")
        elif problem := problem_in(value, longest):
            self.add(where, problem)
        elif not normalise(value):
            self.add(where, f"is empty; give a value, e.g. {example}")
        else:
            return normalise(value)
        return ""

    def name(self, e: Entry, key: str, field: Field, *, required: bool = True) -> str | None:
        """A name or title, checked as everywhere else (`ibmflow.text`)."""
        return self.text(e, key, field.example, required=required, longest=field.max_length)

    def code(self, e: Entry, key: str) -> str:
        text = self.text(e, key, '"MOF_CUSTOMS"') or ""
        if text and not _CODE_RE.fullmatch(text):
            what = "must be 2-32 capital letters, digits or _, starting with a letter"
            self.add(e.where(key), f'code {quoted(text)} {what}, e.g. "MOF_CUSTOMS"')
        return text

    def choice(self, e: Entry, key: str, allowed: tuple[str, ...]) -> str:
        text = (self.text(e, key, quoted(allowed[0])) or "").lower()
        if text and text not in allowed:
            self.add(e.where(key), f"{key} {quoted(text)} is not one of {', '.join(allowed)}")
            return ""
        return text

    def flag(self, e: Entry, key: str) -> bool | None:
        value = e.values.get(key)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip(" ").lower() in BOOLEANS:
            return BOOLEANS[value.strip(" ").lower()]
        self.add(e.where(key), f"{quoted(value)} is not a yes/no value; write true or false")
        return None

    def words(
        self, e: Entry, key: str, allowed: tuple[str, ...], noun: str
    ) -> tuple[str, ...] | None:
        """Distinct words from `allowed`; None when absent; an empty list is a problem."""
        value, where = e.values.get(key), e.where(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            sample = '"a;b"' if self.csv else '["a", "b"]'
            self.add(where, f"{quoted(value)} is not a list of words; write it like {sample}")
            return ()
        if not value:
            self.add(where, f"is empty; list at least one {noun} from {', '.join(allowed)}")
        found: list[str] = []
        for item in value:
            word = item.strip(" ").lower()
            if word not in allowed:
                self.add(where, f"{noun} {quoted(item)} is not one of {', '.join(allowed)}")
            elif word in found:
                self.add(where, f"{noun} {quoted(word)} is listed twice; give it once")
            else:
                found.append(word)
        return tuple(found)

    def email(self, e: Entry, key: str, *, required: bool = True) -> str | None:
        text = self.text(e, key, '"name@domain.example"', required=required)
        if text and not _EMAIL_RE.fullmatch(text.lower()):
            self.add(
                e.where(key), f"{quoted(text)} is not an email address; write it as name@domain"
            )
            return ""
        return text.lower() if text else text


def _institution(c: _Checker, e: Entry) -> RosterInstitution:
    code = c.code(e, "code")
    name = c.name(e, "name", INSTITUTION_NAME) or ""
    short_name = c.name(e, "short_name", SHORT_NAME, required=False)
    if short_name is None and len(name) > SHORT_NAME.max_length:
        what = f"is needed when the name is over {SHORT_NAME.max_length} characters long; give one"
        c.add(e.where("short_name"), what)
    category = c.choice(e, "category", CATEGORIES)
    involved = c.flag(e, "involved")
    days = c.words(e, "weekend", WEEKDAYS, "weekday")
    if days is not None and len(days) == len(WEEKDAYS):
        c.add(e.where("weekend"), "lists all seven days; a weekend must leave working days")
    weekend = (5, 6) if days is None else tuple(sorted(WEEKDAYS.index(d) for d in days))
    if involved is None:
        involved = category in ("permanent", "associated")
    category_ = cast(Category, category)  # "" only when a problem was recorded
    language = c.language(e, "language")
    return RosterInstitution(code, name, short_name or name, category_, involved, weekend, language)


def _person(c: _Checker, e: Entry) -> RosterPerson:
    name = c.name(e, "name", PERSON_NAME) or ""
    email = c.email(e, "email") or ""
    institution = c.text(e, "institution", '"MOF_CUSTOMS"', required=c.csv)
    roles = c.words(e, "roles", ROLES, "role")
    deputy_for = c.email(e, "deputy_for", required=False)
    if roles is None and not deputy_for:  # a deputy needs no other role
        c.add(
            e.where("roles"),
            f"is missing; give at least one of {', '.join(ROLES)} (or deputy_for, for a deputy)",
        )
    language = c.language(e, "language")
    return RosterPerson(name, email, institution, roles or (), deputy_for, language)


def _check_links(
    c: _Checker,
    institutions: list[tuple[RosterInstitution, Entry]],
    people: list[tuple[RosterPerson, Entry]],
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
    languages: Collection[str] = i18n.LANGUAGES,
) -> Roster:
    """Parse roster text; raise RosterError listing every problem (nothing is returned then).
    A `language` must be one of `languages` (the deployment's, `settings.languages`)."""
    c = _Checker(filename, fmt, languages)
    text = text.removeprefix("\ufeff")
    if fmt == "csv":
        inst_entries, person_entries = csv_entries(c, text, known_institutions)
    else:
        inst_entries, person_entries = toml_entries(c, text)
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
    languages: Collection[str] = i18n.LANGUAGES,
) -> Roster:
    """Parse a .toml or .csv roster file (UTF-8); raise RosterError listing every problem."""
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("toml", "csv"):
        what = f"{quoted(path.suffix)} is not a roster format; use a file ending in .toml or .csv"
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
        languages=languages,
    )


def default_roster() -> Roster:
    """The seeded institutions of the ToR annex (6 permanent, 1 associated), without people."""
    resource = resources.files("ibmflow").joinpath("defaults", "roster.toml")
    text = resource.read_text(encoding="utf-8")
    return parse_roster_text(text, fmt="toml", filename="ibmflow/defaults/roster.toml")
