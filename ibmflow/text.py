"""The one check of every name and title that enters ibmflow, whatever the channel (command line,
roster, console form, API): one line of plain text, its ends trimmed, composed (NFC), not too long.

A name or title reaches mail headers, subjects, tables, CSV exports and the audit log, so it may
hold no control character (CR, LF, NUL, TAB, NEL U+0085...), no line or paragraph separator
(U+2028, U+2029) and no invisible formatting character (bidirectional overrides, zero-width space,
byte order mark...), except the zero-width (non-)joiners that some scripts need. Pure: no I/O.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from ibmflow.errors import InvalidCommand
from ibmflow.i18n import N_, _

# Format characters (Cf) a name may hold: ZERO WIDTH NON-JOINER and ZERO WIDTH JOINER, which
# Persian, Indic scripts and emoji sequences need to be written correctly.
_ALLOWED_FORMAT = frozenset("\u200c\u200d")
_SHOWN = 60  # how much of a refused value a message repeats
_NOT_UTF8 = N_("a byte that is not UTF-8")


@dataclass(frozen=True)
class Field:
    """A kind of name or title: what messages call it, its longest length, an example."""

    label: str
    max_length: int
    example: str


PROCESS_TITLE = Field(N_("the process title"), 300, N_('"Morocco national IBM strategy"'))
INSTITUTION_NAME = Field(N_("the institution's name"), 300, N_('"Ministry of Health"'))
SHORT_NAME = Field(N_("the institution's short name"), 120, N_('"Customs Directorate"'))
PERSON_NAME = Field(N_("the person's name"), 200, N_('"Amina El Idrissi"'))
ACCOUNT_NAME = Field(N_("the account's name"), 200, N_('"Karim Benali"'))
DECISION_TITLE = Field(N_("the decision's title"), 300, N_('"Adopt the Terms of Reference"'))
TASK_FORCE_NAME = Field(
    N_("the task force's name"), 200, N_('"Task force on the situation analysis"')
)
CHAPTER_TITLE = Field(N_("the chapter's title"), 200, N_('"Border checks and surveillance"'))
CHAPTER_LEAD = Field(N_("the chapter's lead"), 200, N_('"MOI_BORDER_GUARD"'))
TASK_FORCE_LEAD = Field(N_("the task force's lead"), 200, N_('"MOI_BORDER_GUARD"'))
APPOINTING_AUTHORITY = Field(N_("the appointing authority"), 300, N_('"Head of Government"'))
ADOPTING_AUTHORITY = Field(N_("the adopting authority"), 300, N_('"Council of Government"'))
REFERENCE = Field(N_("the decision reference"), 200, N_('"Decree 2.26.101"'))
TOKEN_LABEL = Field(N_("the token's label"), 100, N_('"reporting dashboard"'))


def _refused(char: str) -> str | None:
    """What kind of refused character `char` is, or None when a name may hold it."""
    category = unicodedata.category(char)
    if category == "Cc":
        return N_("a control character")
    if category in ("Zl", "Zp"):
        return N_("a line or paragraph separator")
    if category == "Cf" and char not in _ALLOWED_FORMAT:
        return N_("an invisible formatting character")
    if category == "Cs":
        return _NOT_UTF8
    return None


def escape(value: str) -> str:
    """`value` quoted for a message: refused characters as escapes, a long value shortened."""
    shown = "".join(
        (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}") if _refused(c) else c
        for c in value[:_SHOWN]
    )
    return f'"{shown}{"…" if len(value) > _SHOWN else ""}"'


def normalise(value: str) -> str:
    """The form in which a name is stored and compared: composed (NFC), its ends trimmed."""
    return unicodedata.normalize("NFC", value).strip()


def problem_in(value: str, max_length: int) -> str | None:
    """What is wrong with a one-line name or title (its characters or its length once
    normalised), as a phrase starting with the quoted value; None when it is acceptable.
    Emptiness is the caller's to judge."""
    for char in value:
        if kind := _refused(char):
            fix = "give it as UTF-8 text" if kind.endswith("UTF-8") else "write it on one line"
            return f"{escape(value)} contains {kind} ({escape(char)[1:-1]}); {fix}, as plain text"
    length = len(normalise(value))
    if length > max_length:
        return (
            f"{escape(value)} is {length} characters long; shorten it to at most "
            f"{max_length} characters"
        )
    return None


def clean(value: str | None, field: Field) -> str:
    """`value` normalised, or InvalidCommand naming the field and what is wrong, in the reader's
    language (the command line's is English)."""
    if value is not None:
        for char in value:
            if kind := _refused(char):
                raise InvalidCommand(
                    _(
                        "%(field)s %(value)s contains %(kind)s (%(char)s); %(fix)s, as plain text.",
                        field=_(field.label),
                        value=escape(value),
                        kind=_(kind),
                        char=escape(char)[1:-1],
                        fix=_(N_("give it as UTF-8 text"))
                        if kind == _NOT_UTF8
                        else _(N_("write it on one line")),
                    )
                )
        length = len(normalise(value))
        if length > field.max_length:
            raise InvalidCommand(
                _(
                    "%(field)s %(value)s is %(length)s characters long; shorten it to at most "
                    "%(longest)s characters.",
                    field=_(field.label),
                    value=escape(value),
                    length=length,
                    longest=field.max_length,
                )
            )
    if value is None or not normalise(value):
        raise InvalidCommand(
            _(
                "%(field)s is required and cannot be empty, e.g. %(example)s.",
                field=_(field.label),
                example=_(field.example),
            )
        )
    return normalise(value)


def clean_optional(value: str | None, field: Field) -> str | None:
    """Like `clean`, but a missing or blank value is None."""
    if value is None or (not normalise(value) and not problem_in(value, field.max_length)):
        return None
    return clean(value, field)
