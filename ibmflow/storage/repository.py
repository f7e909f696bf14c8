"""Reading a process and its facts from the database, for the guards and the commands."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlmodel import Session, col, select

from ibmflow import facts as f
from ibmflow.errors import NotFound
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


def get_process(session: Session, key: str, *, lock: bool = False) -> ProcessRow:
    """The process with this key; `lock` takes a row lock (PostgreSQL) for the transaction."""
    query = select(ProcessRow).where(ProcessRow.key == key.strip().upper())
    if lock:
        query = query.with_for_update()
    row = session.exec(query).one_or_none()
    if row is None:
        raise NotFound(
            f"no process {key!r}; `ibmflow process list` shows the processes.", process=key
        )
    return row


def current_step_record(session: Session, process: ProcessRow) -> StepRecord | None:
    """The open stay in the current step (None when the process is suspended or finished)."""
    return session.exec(
        select(StepRecord)
        .where(StepRecord.process_id == process.id, col(StepRecord.left_at).is_(None))
        .order_by(col(StepRecord.id).desc())
    ).first()


def step_records(session: Session, process: ProcessRow) -> list[StepRecord]:
    """Every stay in every step, oldest first."""
    return list(
        session.exec(
            select(StepRecord)
            .where(StepRecord.process_id == process.id)
            .order_by(col(StepRecord.id))
        )
    )


def institutions(session: Session, process: ProcessRow) -> list[InstitutionRow]:
    """The process's institutions, in roster order."""
    return list(
        session.exec(
            select(InstitutionRow)
            .where(InstitutionRow.process_id == process.id)
            .order_by(col(InstitutionRow.id))
        )
    )


def institution(session: Session, process: ProcessRow, code: str) -> InstitutionRow:
    """One institution by code."""
    row = session.exec(
        select(InstitutionRow).where(
            InstitutionRow.process_id == process.id, InstitutionRow.code == code.upper()
        )
    ).one_or_none()
    if row is None:
        known = ", ".join(i.code for i in institutions(session, process))
        raise NotFound(
            f"no institution {code!r} in process {process.key}; known: {known}.",
            process=process.key,
        )
    return row


def person(session: Session, process: ProcessRow, email: str) -> PersonRow:
    """One person by email."""
    row = person_or_none(session, process, email)
    if row is None:
        raise NotFound(
            f"nobody with email {email!r} in process {process.key}; add them with "
            "`ibmflow person add` or a roster import.",
            process=process.key,
        )
    return row


def person_or_none(session: Session, process: ProcessRow, email: str) -> PersonRow | None:
    """One person by email, or None."""
    return session.exec(
        select(PersonRow).where(
            PersonRow.process_id == process.id, PersonRow.email == email.strip().lower()
        )
    ).one_or_none()


def active_roles(session: Session, process: ProcessRow, role: str | None = None) -> list[RoleRow]:
    """The roles in force, optionally of one kind."""
    query = select(RoleRow).where(RoleRow.process_id == process.id, RoleRow.active == True)  # noqa: E712
    if role is not None:
        query = query.where(RoleRow.role == role)
    return list(session.exec(query.order_by(col(RoleRow.id))))


def load_facts(session: Session, process: ProcessRow, now: datetime) -> f.Facts:
    """Everything the guards of `process` look at, read in the caller's transaction."""
    pid = process.id
    inst_rows = institutions(session, process)
    code_of = {i.id: i.code for i in inst_rows}
    people = {p.id: p for p in session.exec(select(PersonRow).where(PersonRow.process_id == pid))}

    def who(person_id: int | None) -> f.Person | None:
        if person_id is None or person_id not in people:
            return None
        p = people[person_id]
        return f.Person(
            id=p.id or 0,
            name=p.name,
            email=p.email,
            institution=code_of.get(p.institution_id) if p.institution_id else None,
        )

    focal: dict[str, list[f.Person]] = defaultdict(list)
    members: dict[str, f.Person] = {}
    for role in active_roles(session, process):
        member = who(role.person_id)
        code = code_of.get(role.institution_id) if role.institution_id else None
        if member is None or code is None:
            continue
        if role.role == "focal_point":
            focal[code].append(member)
        elif role.role == "iawg_member":
            members[code] = member
    appt = session.exec(
        select(AppointmentRow)
        .where(AppointmentRow.process_id == pid)
        .order_by(col(AppointmentRow.id).desc())
    ).first()
    coordinator = None
    if appt is not None and (p := who(appt.person_id)) is not None:
        coordinator = f.Appointment(
            person=p,
            authority=appt.authority,
            reference=appt.reference,
            appointed_on=appt.appointed_on,
        )
    decisions = []
    for d in session.exec(
        select(DecisionRow).where(DecisionRow.process_id == pid).order_by(col(DecisionRow.id))
    ):
        votes = tuple(
            f.Vote(
                institution=code_of[v.institution_id],
                voter=who(v.voter_id) or _unknown(v.voter_id),
                approve=v.approve,
                cast_at=v.cast_at,
                represented=who(v.represented_id),
                reason=v.reason,
            )
            for v in session.exec(
                select(VoteRow).where(VoteRow.decision_id == d.id).order_by(col(VoteRow.id))
            )
        )
        decisions.append(
            f.Decision(
                id=d.id or 0,
                subject=d.subject,
                title=d.title,
                step=d.step,
                opened_at=d.opened_at,
                votes=votes,
                withdrawn=d.status == "withdrawn",
            )
        )
    record = current_step_record(session, process)
    closure = session.exec(
        select(ConsultationClosureRow)
        .where(ConsultationClosureRow.process_id == pid)
        .order_by(col(ConsultationClosureRow.id).desc())
    ).first()
    adoption = session.exec(select(AdoptionRow).where(AdoptionRow.process_id == pid)).one_or_none()
    return f.Facts(
        process_key=process.key,
        now=now,
        step_entered_at=record.entered_at if record else None,
        step_due_at=record.due_at if record else None,
        institutions=tuple(
            f.Institution(
                code=i.code,
                name=i.name,
                short_name=i.short_name,
                category=i.category,
                involved=i.involved,
                weekend=_weekend(i.weekend),
            )
            for i in inst_rows
        ),
        coordinator=coordinator,
        focal_points={code: tuple(ps) for code, ps in focal.items()},
        iawg_members=members,
        task_forces=tuple(
            f.TaskForce(id=t.id or 0, name=t.name, lead=t.lead)
            for t in session.exec(
                select(TaskForceRow)
                .where(TaskForceRow.process_id == pid)
                .order_by(col(TaskForceRow.id))
            )
        ),
        documents=tuple(
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
            for d in session.exec(
                select(DocumentRow)
                .where(DocumentRow.process_id == pid)
                .order_by(col(DocumentRow.id))
            )
        ),
        decisions=tuple(decisions),
        requests=tuple(
            f.Request(
                id=r.id or 0,
                kind=r.kind,
                step=r.step,
                institution=code_of[r.institution_id],
                status=r.status,
                focal_point=who(r.focal_point_id),
                due_at=r.due_at,
                answered_at=r.answered_at,
            )
            for r in session.exec(
                select(RequestRow).where(RequestRow.process_id == pid).order_by(col(RequestRow.id))
            )
        ),
        chapters=tuple(
            f.Chapter(
                id=c.id or 0,
                title=c.title,
                lead=c.lead,
                draft_document_id=c.draft_document_id,
                submitted_at=c.submitted_at,
            )
            for c in session.exec(
                select(ChapterRow).where(ChapterRow.process_id == pid).order_by(col(ChapterRow.id))
            )
        ),
        consultation_closure=None
        if closure is None
        else f.ConsultationClosure(
            closed_at=closure.closed_at,
            non_respondents=tuple(closure.non_respondents),
            reason=closure.reason,
        ),
        adoption=None
        if adoption is None
        else f.Adoption(
            authority=adoption.authority,
            reference=adoption.reference,
            adopted_on=adoption.adopted_on,
        ),
    )


def nominations(session: Session, process: ProcessRow, facts: f.Facts) -> list[f.Nomination]:
    """The representatives nominated in a process."""
    people = {
        p.id: p for p in session.exec(select(PersonRow).where(PersonRow.process_id == process.id))
    }
    codes = {i.id: i.code for i in institutions(session, process)}

    def as_person(pid: int) -> f.Person:
        p = people[pid]
        return f.Person(
            id=pid,
            name=p.name,
            email=p.email,
            institution=codes.get(p.institution_id) if p.institution_id else None,
        )

    return [
        f.Nomination(
            id=n.id or 0,
            member=as_person(n.member_id),
            representative=as_person(n.representative_id),
            institution=codes[n.institution_id],
            decision_id=n.decision_id,
            valid_from=n.valid_from,
            valid_until=n.valid_until,
            revoked=n.revoked,
        )
        for n in session.exec(select(NominationRow).where(NominationRow.process_id == process.id))
    ]


def _weekend(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def _unknown(person_id: int) -> f.Person:
    return f.Person(id=person_id, name=f"person #{person_id}", email="")
