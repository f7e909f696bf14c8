"""Reading a process's roster: institutions, people and the roles they hold."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from ibmflow.services.context import Context
from ibmflow.storage import repository as repo
from ibmflow.storage.tables import PersonRow


def roster_of(ctx: Context, key: str) -> dict[str, Any]:
    """The institutions with their focal points and IAWG member, and every person's roles."""
    with ctx.db.reading() as session:
        process = repo.get_process(session, key)
        institutions = repo.institutions(session, process)
        code = {i.id: i.code for i in institutions}
        people = list(
            session.exec(
                select(PersonRow)
                .where(PersonRow.process_id == process.id)
                .order_by(col(PersonRow.id))
            )
        )
        email = {p.id: p.email for p in people}
        roles = repo.active_roles(session, process)
        return {
            "process": key,
            "institutions": [
                {
                    "code": i.code,
                    "name": i.name,
                    "short_name": i.short_name,
                    "category": i.category,
                    "involved": i.involved,
                    "focal_points": [
                        email[r.person_id]
                        for r in roles
                        if r.role == "focal_point" and r.institution_id == i.id
                    ],
                    "iawg_member": next(
                        (
                            email[r.person_id]
                            for r in roles
                            if r.role == "iawg_member" and r.institution_id == i.id
                        ),
                        None,
                    ),
                }
                for i in institutions
            ],
            "people": [
                {
                    "name": p.name,
                    "email": p.email,
                    "institution": code.get(p.institution_id) if p.institution_id else None,
                    "roles": [r.role for r in roles if r.person_id == p.id],
                }
                for p in people
            ],
        }
