"""What the mail and chase code reads of a request, an institution and a person.

A command reads these as ORM rows (`RequestRow`, `InstitutionRow`, `PersonRow`); a sweep's batch
reads hundreds of them at once as slotted records (`RequestRecord`...: `storage.queries.batch`,
`queries.roster.role_holders`), which cost a fraction of an ORM object to load and to read. Both
have the attributes of the protocols below, so the functions that mail and chase
(`request_mail.mail_request`, `languages.of_person`, `deadlines.request_calendar`, `rung_mail`)
take either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class Request(Protocol):
    """A request as a mail and the chaser read it; its first mail sets its Message-ID."""

    message_id: str | None  # written once, by the request's first mail

    @property
    def id(self) -> int | None: ...
    @property
    def process_id(self) -> int: ...
    @property
    def step(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def institution_id(self) -> int: ...
    @property
    def focal_point_id(self) -> int | None: ...
    @property
    def status(self) -> str: ...
    @property
    def instructions(self) -> str: ...
    @property
    def sent_at(self) -> datetime: ...
    @property
    def due_at(self) -> datetime | None: ...
    @property
    def decision_id(self) -> int | None: ...
    @property
    def reply_key(self) -> str | None: ...


class Institution(Protocol):
    """An institution as a mail, a language and a calendar read it."""

    @property
    def id(self) -> int | None: ...
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def short_name(self) -> str: ...
    @property
    def weekend(self) -> str: ...
    @property
    def language(self) -> str | None: ...


class Person(Protocol):
    """A person of a roster as a mail and a language read them."""

    @property
    def id(self) -> int | None: ...
    @property
    def process_id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def institution_id(self) -> int | None: ...
    @property
    def language(self) -> str | None: ...


@dataclass(slots=True, eq=False)
class RequestRecord:
    """A request's columns that a `Request` has."""

    id: int
    process_id: int
    step: str
    kind: str
    institution_id: int
    focal_point_id: int | None
    status: str
    instructions: str
    sent_at: datetime
    due_at: datetime | None
    decision_id: int | None
    reply_key: str | None
    message_id: str | None


@dataclass(slots=True, frozen=True)
class InstitutionRecord:
    """An institution's columns that an `Institution` has."""

    id: int
    code: str
    name: str
    short_name: str
    weekend: str
    language: str | None


@dataclass(slots=True, frozen=True)
class RosterInstitution(InstitutionRecord):
    """An institution as a request round reads it: an `Institution`, and the scope it is in
    (`facts.scoped`)."""

    category: str
    involved: bool


@dataclass(slots=True, frozen=True)
class PersonRecord:
    """A person's columns that a `Person` has."""

    id: int
    process_id: int
    name: str
    email: str
    institution_id: int | None
    language: str | None
