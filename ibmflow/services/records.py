"""Use cases that record the facts the guards look at: appointment, answers, documents, chapters..."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date

from ibmflow.audit import JSONValue
from ibmflow.errors import InvalidCommand, NotFound
from ibmflow.i18n import _
from ibmflow.requestkinds import KINDS
from ibmflow.roster import parse_roster_text
from ibmflow.services import answerers, documents, intake
from ibmflow.services.common import iso, on_process, require_step, require_step_that
from ibmflow.services.context import Context
from ibmflow.services.documents import Upload
from ibmflow.services.roster import apply_roster
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import answers as queries
from ibmflow.storage.queries import records as facts_queries
from ibmflow.storage.tables import (
    AdoptionRow,
    AppointmentRow,
    ChapterRow,
    ConsultationClosureRow,
    PersonRow,
    ProcessRow,
    RequestRow,
    RoleRow,
    TaskForceRow,
)
from ibmflow.text import (
    ADOPTING_AUTHORITY,
    APPOINTING_AUTHORITY,
    CHAPTER_LEAD,
    CHAPTER_TITLE,
    REFERENCE,
    TASK_FORCE_LEAD,
    TASK_FORCE_NAME,
    clean,
    clean_optional,
    normalise,
)


def _text(value: str | None, what: str) -> str:
    if value is None or not value.strip():
        raise InvalidCommand(_("%(what)s is required and cannot be empty.", what=what))
    return value.strip()


def appoint_coordinator(
    ctx: Context,
    key: str,
    *,
    name: str,
    email: str,
    authority: str,
    reference: str,
    appointed_on: date,
    actor: str,
) -> None:
    """Record the national coordinator, the appointing authority and the decision reference."""
    authority, reference = clean(authority, APPOINTING_AUTHORITY), clean(reference, REFERENCE)
    entry = (
        f"[[person]]\nname = {json.dumps(name)}\nemail = {json.dumps(email)}\n"
        'roles = ["coordinator"]\n'
    )
    with on_process(ctx, key) as (tx, process, now):
        require_step(process, doing=_("appointing the coordinator"))
        person = repo.person_or_none(tx.session, process, email)
        if person is None:  # a newcomer: checked by the roster's rules, then added
            roster = parse_roster_text(entry, fmt="toml", filename="appoint")
            apply_roster(
                tx, process, roster, actor=actor, now=now, source="coordinator appointment"
            )
            person = repo.person(tx.session, process, email)
        held = False
        for role in repo.active_roles(tx.session, process, "coordinator"):
            held = held or role.person_id == person.id
            if role.person_id != person.id:  # one coordinator at a time: the new one replaces
                role.active = False
                tx.session.add(role)
        if not held:
            tx.session.add(
                RoleRow(
                    process_id=process.id or 0,
                    person_id=person.id or 0,
                    role="coordinator",
                    assigned_at=now,
                )
            )
        tx.session.add(
            AppointmentRow(
                process_id=process.id or 0,
                person_id=person.id or 0,
                authority=authority,
                reference=reference,
                appointed_on=appointed_on,
                recorded_at=now,
            )
        )
        tx.acting(actor, now, key).record(
            "coordinator.appointed",
            f"person:{person.email}",
            after={
                "name": person.name,
                "email": person.email,
                "authority": authority,
                "reference": reference,
                "appointed_on": appointed_on.isoformat(),
            },
        )


def attach_document(ctx: Context, key: str, upload: Upload | None, *, kind: str, actor: str) -> int:
    """Attach a file (read by the command line, or sent from a console form; None: no file was
    chosen) to the current step, checked as every file is (`documents.checked_upload`); return the
    document id."""
    checked = documents.checked_upload(ctx, upload, "the file")
    with on_process(ctx, key) as (tx, process, now):
        require_step(process, doing=_("attaching a document"))
        row = documents.attach(
            ctx, tx, process, checked, kind=kind, step=process.state, actor=actor, now=now
        )
        return row.id or 0


def record_answer(
    ctx: Context,
    key: str,
    *,
    kind: str,
    actor: str,
    institution: str | None = None,
    email: str | None = None,
    text: str | None = None,
    fields: Mapping[str, str] | None = None,
    files: Sequence[Upload] = (),
) -> int:
    """Record a focal point's answer (or acknowledgement) to a request of `kind`, received by other
    means, through the one intake (the actor vouches for it); return the request's id.

    The open request of that kind for the institution (or focal point) is answered; if none was
    sent through ibmflow, one is recorded as sent and answered now.
    """
    spec = KINDS.get(kind)
    if spec is None or spec.is_vote:
        raise InvalidCommand(
            _(
                "unknown answer kind %(kind)r; one of %(kinds)s (votes: `ibmflow vote`).",
                kind=kind,
                kinds=", ".join(k.name for k in KINDS.values() if not k.is_vote),
            )
        )
    with on_process(ctx, key) as (tx, process, now):
        require_step(process, doing=_("recording a %(kind)s", kind=spec.label))
        focal, request = None, None
        if email:
            focal = repo.person(tx.session, process, email)
            request = answerers.first_answerable(tx, process, kind, focal, now)[0]
            inst_id = request.institution_id if request else _focal_institution(tx, process, focal)
        elif institution:
            inst_id = repo.institution(tx.session, process, institution).id
            request = next(iter(queries.pending(tx.session, process, kind, inst_id)), None)
        else:
            raise InvalidCommand(
                _("say whose answer this is: --institution CODE or --email ADDRESS.")
            )
        if request is None:
            request = RequestRow(
                process_id=process.id or 0,
                step=process.state,
                kind=kind,
                institution_id=inst_id or 0,
                focal_point_id=focal.id if focal else None,
                sent_at=now,
                instructions="recorded from the command line",
            )
            tx.session.add(request)
            tx.session.flush()
        answer = intake.Answer(
            via="cli",
            actor=actor,
            answerer=focal.email if focal else None,
            vouched_by=actor,
            text=text,
            fields=dict(fields or {}),
            uploads=files,
            detail={"focal_point": focal.email if focal else None},
        )
        return intake.receive(ctx, tx, process, request, answer, now).request_id


def _focal_institution(tx: Tx, process: ProcessRow, person: PersonRow) -> int | None:
    """The institution of a focal point answering a request ibmflow did not send (received by
    other means): one is recorded for them."""
    roles = [
        r for r in repo.active_roles(tx.session, process, "focal_point") if r.person_id == person.id
    ]
    if not roles:
        raise InvalidCommand(
            _(
                "%(name)s <%(email)s> has no open request of this kind that they may "
                "answer, and is not a focal point; requests are answered by focal points "
                "and the deputies registered for them (`ibmflow request list`).",
                name=person.name,
                email=person.email,
            ),
            process=process.key,
        )
    return roles[0].institution_id


def add_task_force(ctx: Context, key: str, *, name: str, lead: str | None, actor: str) -> None:
    """Name a task force of the implementing body."""
    name, lead = clean(name, TASK_FORCE_NAME), clean_optional(lead, TASK_FORCE_LEAD)
    with on_process(ctx, key) as (tx, process, now):
        require_step(process, doing=_("naming a task force"))
        if facts_queries.task_force(tx.session, process, name):
            raise InvalidCommand(
                _("task force %(name)r already exists in %(key)s.", name=name, key=key)
            )
        tx.session.add(TaskForceRow(process_id=process.id or 0, name=name, lead=lead))
        tx.acting(actor, now, key).record(
            "task_force.named", f"task_force:{name}", after={"name": name, "lead": lead}
        )


def add_chapter(ctx: Context, key: str, *, title: str, lead: str | None, actor: str) -> None:
    """Define a strategy chapter and its lead (a task force or an institution)."""
    title, lead = clean(title, CHAPTER_TITLE), clean_optional(lead, CHAPTER_LEAD)
    with on_process(ctx, key) as (tx, process, now):
        require_step(process, doing=_("defining a chapter"))
        if facts_queries.chapter(tx.session, process, title):
            raise InvalidCommand(
                _("chapter %(title)r already exists in %(key)s.", title=title, key=key)
            )
        tx.session.add(ChapterRow(process_id=process.id or 0, title=title, lead=lead))
        tx.acting(actor, now, key).record(
            "chapter.defined", f"chapter:{title}", after={"title": title, "lead": lead}
        )


def set_chapter_lead(ctx: Context, key: str, *, title: str, lead: str, actor: str) -> None:
    """Give a chapter its lead (a task force or an institution), or change it."""
    title, lead = normalise(title), clean(lead, CHAPTER_LEAD)
    with on_process(ctx, key) as (tx, process, now):
        require_step(process, doing=_("setting a chapter's lead"))
        chapter = _chapter(tx, process, title)
        before: JSONValue = {"lead": chapter.lead}
        chapter.lead = lead
        tx.session.add(chapter)
        tx.acting(actor, now, key).record(
            "chapter.lead_set", f"chapter:{title}", before=before, after={"lead": lead}
        )


def _chapter(tx: Tx, process: ProcessRow, title: str) -> ChapterRow:
    chapter = facts_queries.chapter(tx.session, process, title)
    if chapter is None:
        raise NotFound(
            _(
                "no chapter %(title)r in %(key)s; define it with `ibmflow chapter add`.",
                title=title,
                key=process.key,
            )
        )
    return chapter


def submit_chapter(
    ctx: Context, key: str, *, title: str, upload: Upload | None, actor: str
) -> None:
    """Attach a chapter's draft (read by the command line, or sent from the console; None: no file
    was chosen), checked as every file is, and mark the chapter submitted."""
    title = normalise(title)
    checked = documents.checked_upload(ctx, upload, "the draft's file")
    with on_process(ctx, key) as (tx, process, now):
        require_step_that(ctx, tx, process, "chapters", doing=_("submitting a chapter draft"))
        chapter = _chapter(tx, process, title)
        before: JSONValue = {"draft_document_id": chapter.draft_document_id}
        document = documents.attach(
            ctx,
            tx,
            process,
            checked,
            kind="chapter_draft",
            step=process.state,
            actor=actor,
            now=now,
        )
        chapter.draft_document_id, chapter.submitted_at = document.id, now
        tx.session.add(chapter)
        tx.acting(actor, now, key).record(
            "chapter.submitted",
            f"chapter:{title}",
            before=before,
            after={"draft_document_id": document.id, "submitted_at": iso(now)},
        )


def close_consultation(ctx: Context, key: str, *, reason: str, actor: str) -> list[str]:
    """Close the consultation round after its deadline; return the non-respondents recorded."""
    reason = _text(reason, _("a reason"))
    with on_process(ctx, key) as (tx, process, now):
        require_step_that(
            ctx, tx, process, "consultation", doing=_("closing the consultation round")
        )
        record = repo.current_step_record(tx.session, process)
        if record is None or record.due_at is None or now <= record.due_at:
            due = iso(record.due_at) if record and record.due_at else "unknown"
            raise InvalidCommand(
                _(
                    "the consultation round's deadline (%(due)s) has not passed; wait for it "
                    "or for every institution's answer.",
                    due=due,
                ),
                process=key,
            )
        facts = repo.load_facts(tx.session, process, now)
        answered = {
            r.institution
            for r in facts.requests
            if r.kind == "consultation_comments" and r.status in ("answered", "waived")
        }
        missing = [i.code for i in facts.institutions if i.code not in answered]
        tx.session.add(
            ConsultationClosureRow(
                process_id=process.id or 0,
                closed_at=now,
                closed_by=actor,
                non_respondents=missing,
                reason=reason,
            )
        )
        tx.acting(actor, now, key).record(
            "consultation.closed",
            "step:consultation",
            reason=reason,
            after={"non_respondents": list[JSONValue](missing)},
        )
        return missing


def record_adoption(
    ctx: Context, key: str, *, authority: str, reference: str, adopted_on: date, actor: str
) -> None:
    """Record the adoption at the highest level: authority, decision reference, date."""
    authority = clean(authority, ADOPTING_AUTHORITY)
    reference = clean(reference, REFERENCE)
    with on_process(ctx, key) as (tx, process, now):
        require_step_that(ctx, tx, process, "adoption", doing=_("recording the adoption"))
        if facts_queries.adoption(tx.session, process):
            raise InvalidCommand(_("the adoption of %(key)s is already recorded.", key=key))
        tx.session.add(
            AdoptionRow(
                process_id=process.id or 0,
                authority=authority,
                reference=reference,
                adopted_on=adopted_on,
                recorded_at=now,
            )
        )
        tx.acting(actor, now, key).record(
            "adoption.recorded",
            f"process:{key}",
            after={
                "authority": authority,
                "reference": reference,
                "adopted_on": adopted_on.isoformat(),
            },
        )
