"""Use cases on a process's roster: import a roster file, add a person, all or nothing; the current
step's requests then go to the people and institutions added."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from ibmflow.audit import JSONValue
from ibmflow.roster import Category, Roster, parse_roster, parse_roster_text
from ibmflow.services import followups, languages
from ibmflow.services.context import Context
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import roster as roster_q
from ibmflow.storage.tables import InstitutionRow, PersonRow, ProcessRow, RoleRow


@dataclass(frozen=True)
class RosterImported:
    """What a roster import (or `person add`) changed, and how many requests it sent."""

    institutions_added: int
    institutions_updated: int
    people_added: int
    people_updated: int
    roles_added: int
    roles_replaced: int
    requests_sent: int

    def to_dict(self) -> dict[str, int]:
        """The counts by name, in the order above."""
        return asdict(self)


def apply_roster(
    tx: Tx, process: ProcessRow, roster: Roster, *, actor: str, now: datetime, source: str
) -> dict[str, int]:
    """Insert or update the roster's institutions, people and roles; audit what changed."""
    pid = process.id or 0
    by_code = {i.code: i for i in repo.institutions(tx.session, process)}
    counts = {
        "institutions_added": 0,
        "institutions_updated": 0,
        "people_added": 0,
        "people_updated": 0,
        "roles_added": 0,
        "roles_replaced": 0,
    }
    for inst in roster.institutions:
        values: dict[str, Any] = {
            "name": inst.name,
            "short_name": inst.short_name,
            "category": inst.category,
            "involved": inst.involved,
            "weekend": ",".join(map(str, inst.weekend)),
        }
        if inst.language:  # a roster without a language keeps the one already recorded
            values["language"] = inst.language
        row = by_code.get(inst.code)
        if row is None:
            row = InstitutionRow(process_id=pid, code=inst.code, **values)
            counts["institutions_added"] += 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            counts["institutions_updated"] += 1
        tx.session.add(row)
        by_code[inst.code] = row
    tx.session.flush()
    roles = repo.active_roles(tx.session, process)
    for member in roster.people:
        inst_id = by_code[member.institution].id if member.institution else None
        person = repo.person_or_none(tx.session, process, member.email)
        if person is None:
            person = PersonRow(
                process_id=pid, name=member.name, email=member.email, institution_id=inst_id
            )
            counts["people_added"] += 1
        elif (person.name, person.institution_id) != (member.name, inst_id) or (
            member.language and member.language != person.language
        ):
            person.name, person.institution_id = member.name, inst_id
            counts["people_updated"] += 1
        if member.language:  # a roster without a language keeps the one already recorded
            person.language = member.language
        tx.session.add(person)
        tx.session.flush()
        wanted = list(member.roles) + (["deputy"] if member.deputy_for else [])
        for role in wanted:
            held = [r for r in roles if r.person_id == person.id and r.role == role]
            if held:
                continue
            if role == "iawg_member":
                # One member per permanent institution: a new member replaces the previous one.
                for old in [r for r in roles if r.role == role and r.institution_id == inst_id]:
                    old.active = False
                    tx.session.add(old)
                    counts["roles_replaced"] += 1
            deputy_for = None
            if role == "deputy" and member.deputy_for:
                deputy_for = repo.person(tx.session, process, member.deputy_for).id
            new = RoleRow(
                process_id=pid,
                person_id=person.id or 0,
                role=role,
                institution_id=inst_id,
                deputy_for_id=deputy_for,
                assigned_at=now,
            )
            tx.session.add(new)
            roles.append(new)
            counts["roles_added"] += 1
    tx.session.flush()
    languages.forget(tx)  # the roster's languages, remembered for this transaction, changed
    tx.acting(actor, now, process.key).record(
        "roster.imported",
        f"process:{process.key}",
        reason=source,
        after={
            "counts": dict(counts),
            "institutions": [i.code for i in roster.institutions],
            "people": [
                {"email": p.email, "roles": list(p.roles), "institution": p.institution}
                for p in roster.people
            ],
            **_languages_given(roster),
        },
    )
    return counts


def _languages_given(roster: Roster) -> dict[str, JSONValue]:
    """The languages a roster gave, for its audit event (nothing when it gave none)."""
    given: dict[str, JSONValue] = {}
    given.update((i.code, i.language) for i in roster.institutions if i.language)
    given.update((p.email, p.language) for p in roster.people if p.language)
    return {"languages": given} if given else {}


def _known(tx: Tx, process: ProcessRow) -> tuple[dict[str, Category], list[str]]:
    """The institutions already in the process and the emails of its focal points (deputies)."""
    institutions = {
        i.code: cast(Category, i.category) for i in repo.institutions(tx.session, process)
    }
    focal = {r.person_id for r in repo.active_roles(tx.session, process, "focal_point")}
    people = roster_q.people(tx.session, process)
    return institutions, [p.email for p in people if p.id in focal]


def import_roster(ctx: Context, key: str, path: Path, *, actor: str) -> RosterImported:
    """Import a roster file into a process; a malformed roster is refused whole (RosterError)."""
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        process = repo.get_process(tx.session, key, lock=True)
        institutions, focal_emails = _known(tx, process)
        roster = parse_roster(
            path,
            known_institutions=institutions,
            known_emails=focal_emails,
            languages=ctx.settings.languages,
        )
        counts = apply_roster(
            tx, process, roster, actor=actor, now=now, source=f"roster {path.name}"
        )
        return _with_requests(ctx, tx, process, counts, now, actor)


def add_person(
    ctx: Context,
    key: str,
    *,
    name: str,
    email: str,
    institution: str | None,
    roles: list[str],
    actor: str,
    deputy_for: str | None = None,
) -> RosterImported:
    """Add (or update) one person with their roles, checked by the same rules as a roster."""
    entry: dict[str, object] = {"name": name, "email": email}
    if roles or not deputy_for:  # a deputy needs no other role
        entry["roles"] = roles
    if institution:
        entry["institution"] = institution.upper()
    if deputy_for:
        entry["deputy_for"] = deputy_for
    text = "[[person]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in entry.items())
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        process = repo.get_process(tx.session, key, lock=True)
        institutions, focal_emails = _known(tx, process)
        roster = parse_roster_text(
            text,
            fmt="toml",
            filename="person add",
            known_institutions=institutions,
            known_emails=focal_emails,
            languages=ctx.settings.languages,
        )
        counts = apply_roster(tx, process, roster, actor=actor, now=now, source="person add")
        return _with_requests(ctx, tx, process, counts, now, actor)


def _with_requests(
    ctx: Context, tx: Tx, process: ProcessRow, counts: dict[str, int], now: datetime, actor: str
) -> RosterImported:
    """The roster's counts, and the current step's requests now sent to whom they are owed."""
    sent = followups.open_missing(ctx, tx, process, now, actor)
    return RosterImported(**counts, requests_sent=len(sent))
