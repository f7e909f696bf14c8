"""Reading a process's facts, what its guards look at, in a few Core statements.

The statements are built once at import; they hydrate, track and flush no ORM objects, which is most
of a step's cost otherwise. `storage.repository` re-exports `load_facts` and `nominations`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from functools import cached_property
from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from ibmflow import facts as f
from ibmflow.storage.db import connection, table_of
from ibmflow.storage.prepared import Prepared, constants
from ibmflow.storage.tables import (
    AdoptionRow,
    AppointmentRow,
    ChapterRow,
    ConsultationClosureRow,
    DecisionRow,
    DocumentRow,
    InstitutionRow,
    NominationRow,
    PersonRow,
    ProcessRow,
    RequestRow,
    RoleRow,
    StepRecord,
    TaskForceRow,
    VoteRow,
)

_Row: TypeAlias = sa.Row[*tuple[Any, ...]]

_STEP, _ROLE = table_of(StepRecord), table_of(RoleRow)
_DEC, _VOTE = table_of(DecisionRow), table_of(VoteRow)


def _columns(table: sa.Table, names: str) -> list[sa.ColumnClause[Any]]:
    return [table.c[name] for name in names.split()]


def _of_process(model: type[SQLModel], columns: str, *, latest: bool = False) -> sa.Select[Any]:
    """The named columns of a process's rows of `model` in id order, or of its latest row only."""
    table = table_of(model)
    query = sa.select(*_columns(table, columns)).where(table.c.process_id == sa.bindparam("pid"))
    return query.order_by(table.c.id.desc()).limit(1) if latest else query.order_by(table.c.id)


_Q_INSTITUTIONS = Prepared(
    _of_process(InstitutionRow, "id code name short_name category involved weekend")
)
_Q_PEOPLE = Prepared(_of_process(PersonRow, "id name email institution_id"))
_Q_ROLES = Prepared(
    _of_process(RoleRow, "role person_id institution_id").where(
        _ROLE.c.active == True,  # noqa: E712
        _ROLE.c.role.in_(constants("focal_point", "iawg_member")),
    )
)
_Q_APPOINTMENT = Prepared(
    _of_process(AppointmentRow, "person_id authority reference appointed_on", latest=True)
)
_Q_DECISIONS = Prepared(_of_process(DecisionRow, "id subject title step opened_at status"))
# The votes on every decision of the process in one query (not one per decision).
_Q_VOTES = Prepared(
    sa.select(
        *_columns(
            _VOTE, "decision_id institution_id voter_id approve cast_at represented_id reason"
        )
    )
    .select_from(_VOTE.join(_DEC, _VOTE.c.decision_id == _DEC.c.id))
    .where(_DEC.c.process_id == sa.bindparam("pid"))
    .order_by(_VOTE.c.id)
)
_Q_TASK_FORCES = Prepared(_of_process(TaskForceRow, "id name lead"))
_Q_DOCUMENTS = Prepared(
    _of_process(DocumentRow, "id kind step filename sha256 size uploaded_by uploaded_at")
)
_Q_REQUESTS = Prepared(
    _of_process(RequestRow, "id kind step institution_id status focal_point_id due_at answered_at")
)
_Q_CHAPTERS = Prepared(_of_process(ChapterRow, "id title lead draft_document_id submitted_at"))
_Q_CLOSURE = Prepared(
    _of_process(ConsultationClosureRow, "closed_at non_respondents reason", latest=True)
)
_Q_ADOPTION = Prepared(_of_process(AdoptionRow, "authority reference adopted_on"))
_Q_OPEN_STAY = Prepared(
    _of_process(StepRecord, "entered_at due_at", latest=True).where(_STEP.c.left_at.is_(None))
)


class _Reader:
    """Reads one process's facts, each shared lookup (institution codes, people) at most once."""

    def __init__(self, conn: sa.Connection, pid: int) -> None:
        self.conn = conn
        self.params = {"pid": pid}
        self.people: dict[int, f.Person] = {}

    def rows(self, query: Prepared) -> Sequence[_Row]:
        return query.rows(self.conn, self.params)

    @cached_property
    def institution_rows(self) -> Sequence[_Row]:
        return self.rows(_Q_INSTITUTIONS)

    @cached_property
    def code_of(self) -> dict[int, str]:
        return {i.id: i.code for i in self.institution_rows}

    @cached_property
    def person_rows(self) -> dict[int, _Row]:
        return {p.id: p for p in self.rows(_Q_PEOPLE)}

    def who(self, person_id: int | None) -> f.Person | None:
        """The process's person with this id (None if none), built once however often named."""
        if person_id is None:
            return None
        person = self.people.get(person_id)
        if person is None and (row := self.person_rows.get(person_id)) is not None:
            code = self.code_of.get(row.institution_id) if row.institution_id else None
            person = f.Person(id=row.id or 0, name=row.name, email=row.email, institution=code)
            self.people[person_id] = person
        return person

    @cached_property
    def roles(self) -> tuple[dict[str, tuple[f.Person, ...]], dict[str, f.Person]]:
        focal: dict[str, list[f.Person]] = defaultdict(list)
        members: dict[str, f.Person] = {}
        for role in self.rows(_Q_ROLES):
            member = self.who(role.person_id)
            code = self.code_of.get(role.institution_id) if role.institution_id else None
            if member is None or code is None:
                continue
            if role.role == "focal_point":
                focal[code].append(member)
            else:
                members[code] = member
        return {code: tuple(ps) for code, ps in focal.items()}, members

    @cached_property
    def open_stay(self) -> _Row | None:
        return _Q_OPEN_STAY.first(self.conn, self.params)

    def institutions(self) -> tuple[f.Institution, ...]:
        return tuple(
            f.Institution(
                code=i.code,
                name=i.name,
                short_name=i.short_name,
                category=i.category,
                involved=i.involved,
                weekend=_weekend(i.weekend),
            )
            for i in self.institution_rows
        )

    def coordinator(self) -> f.Appointment | None:
        appt = _Q_APPOINTMENT.first(self.conn, self.params)
        if appt is None or (person := self.who(appt.person_id)) is None:
            return None
        return f.Appointment(
            person=person,
            authority=appt.authority,
            reference=appt.reference,
            appointed_on=appt.appointed_on,
        )

    def decisions(self) -> tuple[f.Decision, ...]:
        rows = self.rows(_Q_DECISIONS)
        votes: dict[int, list[f.Vote]] = defaultdict(list)
        for v in self.rows(_Q_VOTES) if rows else ():
            votes[v.decision_id].append(
                f.Vote(
                    institution=self.code_of[v.institution_id],
                    voter=self.who(v.voter_id) or _unknown(v.voter_id),
                    approve=v.approve,
                    cast_at=v.cast_at,
                    represented=self.who(v.represented_id),
                    reason=v.reason,
                )
            )
        return tuple(
            f.Decision(
                id=d.id or 0,
                subject=d.subject,
                title=d.title,
                step=d.step,
                opened_at=d.opened_at,
                votes=tuple(votes.get(d.id, ())),
                withdrawn=d.status == "withdrawn",
            )
            for d in rows
        )

    def requests(self) -> tuple[f.Request, ...]:
        return tuple(
            f.Request(
                id=r.id or 0,
                kind=r.kind,
                step=r.step,
                institution=self.code_of[r.institution_id],
                status=r.status,
                focal_point=self.who(r.focal_point_id),
                due_at=r.due_at,
                answered_at=r.answered_at,
            )
            for r in self.rows(_Q_REQUESTS)
        )

    def task_forces(self) -> tuple[f.TaskForce, ...]:
        return tuple(
            f.TaskForce(id=t.id or 0, name=t.name, lead=t.lead) for t in self.rows(_Q_TASK_FORCES)
        )

    def documents(self) -> tuple[f.Document, ...]:
        return tuple(
            f.Document(
                id=d.id or 0,
                kind=d.kind,
                step=d.step,
                filename=d.filename,
                sha256=d.sha256,
                size=d.size,
                uploaded_by=d.uploaded_by,
                uploaded_at=d.uploaded_at,
            )
            for d in self.rows(_Q_DOCUMENTS)
        )

    def chapters(self) -> tuple[f.Chapter, ...]:
        return tuple(
            f.Chapter(
                id=c.id or 0,
                title=c.title,
                lead=c.lead,
                draft_document_id=c.draft_document_id,
                submitted_at=c.submitted_at,
            )
            for c in self.rows(_Q_CHAPTERS)
        )

    def consultation_closure(self) -> f.ConsultationClosure | None:
        closure = _Q_CLOSURE.first(self.conn, self.params)
        if closure is None:
            return None
        return f.ConsultationClosure(
            closed_at=closure.closed_at,
            non_respondents=tuple(closure.non_respondents),
            reason=closure.reason,
        )

    def adoption(self) -> f.Adoption | None:
        adoption = _Q_ADOPTION.first(self.conn, self.params)
        if adoption is None:
            return None
        return f.Adoption(
            authority=adoption.authority,
            reference=adoption.reference,
            adopted_on=adoption.adopted_on,
        )


# How each fact group is read (the two step dates come from the same row, read once).
_LOADERS: dict[str, Callable[[_Reader], Any]] = {
    "step_entered_at": lambda r: r.open_stay.entered_at if r.open_stay else None,
    "step_due_at": lambda r: r.open_stay.due_at if r.open_stay else None,
    "institutions": _Reader.institutions,
    "coordinator": _Reader.coordinator,
    "focal_points": lambda r: r.roles[0],
    "iawg_members": lambda r: r.roles[1],
    "task_forces": _Reader.task_forces,
    "documents": _Reader.documents,
    "decisions": _Reader.decisions,
    "requests": _Reader.requests,
    "chapters": _Reader.chapters,
    "consultation_closure": _Reader.consultation_closure,
    "adoption": _Reader.adoption,
}
assert set(_LOADERS) == f.FACT_GROUPS


def load_facts(
    session: Session, process: ProcessRow, now: datetime, groups: Collection[str] | None = None
) -> f.Facts:
    """What the guards of `process` look at, read in the caller's transaction: every fact, or only
    the fact groups named in `groups` (see `facts.FACT_GROUPS` and each guard's `reads`).

    The groups not loaded raise `facts.UndeclaredFactGroup` when read (`facts.only`), so a guard
    that reads a group it does not declare fails loudly instead of seeing an empty default and
    passing.
    """
    wanted = f.FACT_GROUPS if groups is None else frozenset(groups)
    if not wanted <= f.FACT_GROUPS:
        raise ValueError(f"unknown fact groups {sorted(wanted - f.FACT_GROUPS)}")
    # These are Core statements, which do not autoflush: flush what this transaction added first,
    # as an ORM query would, so that the facts include it.
    session.flush()
    reader = _Reader(connection(session), process.id or 0)
    values = {name: load(reader) for name, load in _LOADERS.items() if name in wanted}
    facts = f.Facts(process_key=process.key, now=now, **values)
    return facts if wanted == f.FACT_GROUPS else f.only(facts, wanted)


_Q_NOMINATIONS = Prepared(
    _of_process(
        NominationRow,
        "id member_id representative_id institution_id decision_id valid_from valid_until revoked",
    )
)


def nominations(session: Session, process: ProcessRow, facts: f.Facts) -> list[f.Nomination]:
    """The representatives nominated in a process."""
    session.flush()  # Core statements do not autoflush (see `load_facts`)
    reader = _Reader(connection(session), process.id or 0)

    def as_person(person_id: int) -> f.Person:
        return reader.who(person_id) or _unknown(person_id)

    return [
        f.Nomination(
            id=n.id or 0,
            member=as_person(n.member_id),
            representative=as_person(n.representative_id),
            institution=reader.code_of[n.institution_id],
            decision_id=n.decision_id,
            valid_from=n.valid_from,
            valid_until=n.valid_until,
            revoked=n.revoked,
        )
        for n in reader.rows(_Q_NOMINATIONS)
    ]


def _weekend(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def _unknown(person_id: int) -> f.Person:
    return f.Person(id=person_id, name=f"person #{person_id}", email="")
