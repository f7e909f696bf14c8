"""Reading a process's roster: institutions, people and the roles they hold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ibmflow.services.context import Context
from ibmflow.storage import repository as repo
from ibmflow.storage.queries import roster


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "short_name": self.short_name,
            "category": self.category,
            "involved": self.involved,
            "focal_points": list(self.focal_points),
            "iawg_member": self.iawg_member,
        }


@dataclass(frozen=True)
class PersonOnRoster:
    """A person with their institution's code and the roles they hold."""

    name: str
    email: str
    institution: str | None
    roles: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "email": self.email,
            "institution": self.institution,
            "roles": list(self.roles),
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
        people = roster.people(session, process)
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
                )
                for i in institutions
            ),
            people=tuple(
                PersonOnRoster(
                    name=p.name,
                    email=p.email,
                    institution=code.get(p.institution_id) if p.institution_id else None,
                    roles=tuple(r.role for r in roles if r.person_id == p.id),
                )
                for p in people
            ),
        )
