"""Reading a process's roster: institutions, people and the roles they hold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ibmflow.services import languages
from ibmflow.services.context import Context
from ibmflow.storage import repository as repo
from ibmflow.storage.queries import accounts, roster


@dataclass(frozen=True)
class InstitutionOnRoster:
    """An institution with the addresses of its focal points and of its IAWG member."""

    code: str
    name: str
    short_name: str
    category: str
    involved: bool
    focal_points: tuple[str, ...]
    iawg_member: str | None
    language: str | None = None  # its own (None: its people read the process's)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "short_name": self.short_name,
            "category": self.category,
            "involved": self.involved,
            "focal_points": list(self.focal_points),
            "iawg_member": self.iawg_member,
            "language": self.language,
        }


@dataclass(frozen=True)
class PersonOnRoster:
    """A person with their institution's code and the roles they hold."""

    name: str
    email: str
    institution: str | None
    roles: tuple[str, ...]
    language: str = "en"  # the language they are written to (see services.languages)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "email": self.email,
            "institution": self.institution,
            "roles": list(self.roles),
            "language": self.language,
        }


@dataclass(frozen=True)
class RosterView:
    """A process's roster as `ibmflow roster show` shows it."""

    process: str
    institutions: tuple[InstitutionOnRoster, ...]
    people: tuple[PersonOnRoster, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "institutions": [i.to_dict() for i in self.institutions],
            "people": [p.to_dict() for p in self.people],
        }


def roster_of(ctx: Context, key: str) -> RosterView:
    """The institutions with their focal points and IAWG member, and every person's roles."""
    with ctx.db.reading() as session:
        process = repo.get_process(session, key)
        institutions = repo.institutions(session, process)
        code = {i.id: i.code for i in institutions}
        by_id = {i.id: i for i in institutions}
        people = roster.people(session, process)
        chosen = accounts.chosen_languages(session, (p.email for p in people))
        email = {p.id: p.email for p in people}
        roles = repo.active_roles(session, process)
        return RosterView(
            process=key,
            institutions=tuple(
                InstitutionOnRoster(
                    code=i.code,
                    name=i.name,
                    short_name=i.short_name,
                    category=i.category,
                    involved=i.involved,
                    focal_points=tuple(
                        email[r.person_id]
                        for r in roles
                        if r.role == "focal_point" and r.institution_id == i.id
                    ),
                    iawg_member=next(
                        (
                            email[r.person_id]
                            for r in roles
                            if r.role == "iawg_member" and r.institution_id == i.id
                        ),
                        None,
                    ),
                    language=i.language,
                )
                for i in institutions
            ),
            people=tuple(
                PersonOnRoster(
                    name=p.name,
                    email=p.email,
                    institution=code.get(p.institution_id) if p.institution_id else None,
                    roles=tuple(r.role for r in roles if r.person_id == p.id),
                    language=languages.resolve(
                        ctx, process, p, by_id.get(p.institution_id), chosen.get(p.email.lower())
                    ),
                )
                for p in people
            ),
        )
