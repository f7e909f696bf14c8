"""SQLModel tables: processes, their facts, and the audit chain. Times are stored in UTC.
The console's accounts are in `account_tables`, the chasing ladder in `chase_tables`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

# The web console's accounts live in a module of their own; importing it here puts them on the same
# metadata, so that the migrations and `compare_metadata` see every table. Both modules take their
# column types from `columns`, so this import goes one way only.
from ibmflow.storage import account_tables as _account_tables  # noqa: F401

# The chasing ladder's tables also live in a module of their own, on the same metadata; they are
# importable from here as before.
from ibmflow.storage.chase_tables import ChaseMailRow as ChaseMailRow
from ibmflow.storage.chase_tables import DeadlineExtensionRow as DeadlineExtensionRow
from ibmflow.storage.chase_tables import RungRow as RungRow
from ibmflow.storage.columns import UTCDateTime as UTCDateTime
from ibmflow.storage.columns import when as _when


class WorkflowDefinitionRow(SQLModel, table=True):
    """The exact source of a definition version a process started on."""

    __tablename__ = "workflow_definition"
    __table_args__ = (sa.UniqueConstraint("workflow_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(max_length=64)
    version: int
    source_hash: str = Field(max_length=64)
    source_text: str = Field(sa_type=sa.Text)
    filename: str = Field(max_length=500)
    stored_at: datetime = _when()


class ProcessRow(SQLModel, table=True):
    """One strategy process; `version` is the optimistic lock, bumped by every state change."""

    __tablename__ = "process"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=40, unique=True)
    title: str = Field(max_length=300)
    country: str = Field(max_length=2)
    timezone: str = Field(max_length=64)
    definition_pk: int = Field(foreign_key="workflow_definition.id")
    workflow_id: str = Field(max_length=64)
    workflow_version: int
    state: str = Field(max_length=64)
    suspended_from: str | None = Field(default=None, max_length=64)
    # The language its mails default to (`process new --language`); None: the deployment's.
    language: str | None = Field(default=None, max_length=16)
    version: int = 1
    created_at: datetime = _when()
    updated_at: datetime = _when()


class StepRecord(SQLModel, table=True):
    """One stay in a step: entered, due, and how it was left (a return re-enters a step anew)."""

    __tablename__ = "step_record"
    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="process.id", index=True)
    step: str = Field(max_length=64)
    entered_at: datetime = _when()
    target_days: int | None = None
    due_at: datetime | None = _when(nullable=True)
    left_at: datetime | None = _when(nullable=True)
    left_by: str | None = Field(default=None, max_length=20)


class InstitutionRow(SQLModel, table=True):
    """An institution of a process's roster."""

    __tablename__ = "institution"
    __table_args__ = (sa.UniqueConstraint("process_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="process.id", index=True)
    code: str = Field(max_length=32)
    name: str = Field(max_length=300)
    short_name: str = Field(max_length=120)
    category: str = Field(max_length=20)
    involved: bool = True
    weekend: str = Field(default="5,6", max_length=20)
    # The language its people read when they have none of their own; None: the process's.
    language: str | None = Field(default=None, max_length=16)


class PersonRow(SQLModel, table=True):
    """A person of a process's roster; the email is their identity within the process."""

    __tablename__ = "person"
    __table_args__ = (sa.UniqueConstraint("process_id", "email"),)
    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="process.id", index=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    institution_id: int | None = Field(default=None, foreign_key="institution.id")
    # The language this person reads; None: their institution's (see services.languages).
    language: str | None = Field(default=None, max_length=16)


class RoleRow(SQLModel, table=True):
    """A role held by a person: focal_point, iawg_member, chair, manager or deputy (of a focal point)."""

    __tablename__ = "role"
    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="process.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    role: str = Field(max_length=20)
    institution_id: int | None = Field(default=None, foreign_key="institution.id")
    deputy_for_id: int | None = Field(default=None, foreign_key="person.id")
    active: bool = True
    assigned_at: datetime = _when()


class AppointmentRow(SQLModel, table=True):
    """The coordinator's appointment (the latest row is in force)."""

    __tablename__ = "appointment"
    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="process.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    authority: str = Field(max_length=300)
    reference: str = Field(max_length=200)
    appointed_on: date
    recorded_at: datetime = _when()


class NominationRow(SQLModel, table=True):
    """A representative nominated by an IAWG member, for one decision or a date range."""

    __tablename__ = "nomination"
    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="process.id", index=True)
    member_id: int = Field(foreign_key="person.id")
    representative_id: int = Field(foreign_key="person.id")
    institution_id: int = Field(foreign_key="institution.id")
    decision_id: int | None = Field(default=None, foreign_key="decision.id")
    valid_from: date | None = None
    valid_until: date | None = None
    revoked: bool = False
    created_at: datetime = _when()


class TaskForceRow(SQLModel, table=True):
    """A task force of the implementing body."""

    __tablename__ = "task_force"
    __table_args__ = (sa.UniqueConstraint("process_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="process.id", index=True)
    name: str = Field(max_length=200)
    lead: str | None = Field(default=None, max_length=200)


class DocumentRow(SQLModel, table=True):
    """A document attached to a step; the content lives under the data folder by SHA-256."""

    __tablename__ = "document"
    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="process.id", index=True)
    step: str = Field(max_length=64)
    kind: str = Field(max_length=40)
    filename: str = Field(max_length=255)
    sha256: str = Field(max_length=64)
    size: int
    uploaded_by: str = Field(max_length=254)
    uploaded_at: datetime = _when()


class ChapterRow(SQLModel, table=True):
    """A strategy chapter, its lead and its submitted draft."""

    __tablename__ = "chapter"
    __table_args__ = (sa.UniqueConstraint("process_id", "title"),)
    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="process.id", index=True)
    title: str = Field(max_length=200)
    lead: str | None = Field(default=None, max_length=200)
    draft_document_id: int | None = Field(default=None, foreign_key="document.id")
    submitted_at: datetime | None = _when(nullable=True)


class DecisionRow(SQLModel, table=True):
    """An IAWG decision (motion) on a subject."""

    __tablename__ = "decision"
    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="process.id", index=True)
    step: str = Field(max_length=64)
    subject: str = Field(max_length=40)
    title: str = Field(max_length=300)
    document_id: int | None = Field(default=None, foreign_key="document.id")
    status: str = Field(default="open", max_length=20)
    opened_by: str = Field(max_length=254)
    opened_at: datetime = _when()
    closed_at: datetime | None = _when(nullable=True)


class VoteRow(SQLModel, table=True):
    """One vote per permanent institution on a decision (the unique key enforces it)."""

    __tablename__ = "vote"
    __table_args__ = (sa.UniqueConstraint("decision_id", "institution_id"),)
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    institution_id: int = Field(foreign_key="institution.id")
    voter_id: int = Field(foreign_key="person.id")
    represented_id: int | None = Field(default=None, foreign_key="person.id")
    approve: bool
    reason: str | None = Field(default=None, max_length=2000)
    cast_at: datetime = _when()


class RequestRow(SQLModel, table=True):
    """A request to an institution's focal point, and its answer."""

    __tablename__ = "request"
    # The open requests late, awaited or falling due, counted on every console page (`web.desk`);
    # the process list counts each process's open requests past due: an index-only range per process.
    __table_args__ = (
        sa.Index("ix_request_open", "status", "decision_id", "due_at", "process_id"),
        sa.Index("ix_request_open_due", "process_id", "status", "due_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="process.id", index=True)
    step: str = Field(max_length=64)
    kind: str = Field(max_length=40)
    institution_id: int = Field(foreign_key="institution.id")
    focal_point_id: int | None = Field(default=None, foreign_key="person.id")
    status: str = Field(default="sent", max_length=20)
    instructions: str = Field(default="", sa_type=sa.Text)
    sent_at: datetime = _when()
    due_at: datetime | None = _when(nullable=True)
    answered_at: datetime | None = _when(nullable=True)
    answer_text: str | None = Field(default=None, sa_type=sa.Text)
    answer_fields: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    answered_via: str | None = Field(default=None, max_length=20)
    answered_by: str | None = Field(default=None, max_length=254)
    decision_id: int | None = Field(default=None, foreign_key="decision.id")
    reply_key: str | None = Field(default=None, max_length=32, unique=True)
    message_id: str | None = Field(default=None, max_length=250)
    closed_reason: str | None = Field(default=None, max_length=2000)
    created_by: str | None = Field(default=None, max_length=254)


class EarlierAnswerRow(SQLModel, table=True):
    """An answer the coordinator reopened, kept as it was (for a vote, the vote it cast)."""

    __tablename__ = "earlier_answer"
    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    answered_at: datetime | None = _when(nullable=True)
    answered_via: str | None = Field(default=None, max_length=20)
    answered_by: str | None = Field(default=None, max_length=254)
    answer_text: str | None = Field(default=None, sa_type=sa.Text)
    answer_fields: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    vote: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    due_at: datetime | None = _when(nullable=True)
    reopened_at: datetime = _when()
    reopened_by: str = Field(max_length=254)
    reason: str = Field(max_length=2000)


class LinkTokenRow(SQLModel, table=True):
    """A link that answers a request without an account; only the token's SHA-256 is kept."""

    __tablename__ = "link_token"
    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    person_id: int | None = Field(default=None, foreign_key="person.id")
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _when()
    expires_at: datetime = _when()
    used_at: datetime | None = _when(nullable=True)


class OutboxRow(SQLModel, table=True):
    """A mail to send, written by the event that causes it, rendered at dispatch; never deleted."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    process_id: int | None = Field(default=None, foreign_key="process.id", index=True)
    request_id: int | None = Field(default=None, foreign_key="request.id", index=True)
    kind: str = Field(max_length=40)
    to_addrs: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    subject: str | None = Field(default=None, max_length=998)
    text_body: str | None = Field(default=None, sa_type=sa.Text)
    html_body: str | None = Field(default=None, sa_type=sa.Text)
    template_context: str | None = Field(default=None, sa_type=sa.Text)
    language: str | None = Field(default=None, max_length=35)
    message_id: str = Field(max_length=250, unique=True)
    reply_to: str | None = Field(default=None, max_length=254)
    in_reply_to: str | None = Field(default=None, max_length=250)
    references: str | None = Field(default=None, sa_type=sa.Text)
    status: str = Field(default="pending", max_length=20)
    attempts: int = 0
    next_attempt_at: datetime = _when()
    claimed_until: datetime | None = _when(nullable=True)
    claimed_by: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
    created_at: datetime = _when()
    sent_at: datetime | None = _when(nullable=True)


class InboundMessageRow(SQLModel, table=True):
    """A mail received (reply, auto-reply or bounce): matched to a request, or kept in quarantine."""

    __tablename__ = "inbound_message"
    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = _when()
    via: str = Field(max_length=10)
    envelope_from: str | None = Field(default=None, max_length=254)
    envelope_to: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    header_from: str | None = Field(default=None, max_length=998)
    subject: str | None = Field(default=None, max_length=998)
    message_id: str | None = Field(default=None, max_length=998)
    raw_sha256: str = Field(max_length=64)
    size: int
    classification: str = Field(max_length=20)
    status: str = Field(max_length=20, index=True)
    reason: str | None = Field(default=None, sa_type=sa.Text)
    process_id: int | None = Field(default=None, foreign_key="process.id", index=True)
    request_id: int | None = Field(default=None, foreign_key="request.id")
    decided_by: str | None = Field(default=None, max_length=254)
    decided_at: datetime | None = _when(nullable=True)


class ConsultationClosureRow(SQLModel, table=True):
    """The consultation round closed by the coordinator, with the non-respondents."""

    __tablename__ = "consultation_closure"
    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="process.id", index=True)
    closed_at: datetime = _when()
    closed_by: str = Field(max_length=254)
    non_respondents: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    reason: str = Field(max_length=2000)


class AdoptionRow(SQLModel, table=True):
    """The adoption of the strategy at the highest level."""

    __tablename__ = "adoption"
    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="process.id", unique=True)
    authority: str = Field(max_length=300)
    reference: str = Field(max_length=200)
    adopted_on: date
    recorded_at: datetime = _when()


class AuditEventRow(SQLModel, table=True):
    """One link of the append-only, hash-chained audit log."""

    __tablename__ = "audit_event"
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = _when()
    actor: str = Field(max_length=254)
    on_behalf_of: str | None = Field(default=None, max_length=254)
    action: str = Field(max_length=60)
    process: str | None = Field(default=None, max_length=40, index=True)
    entity: str | None = Field(default=None, max_length=100)
    before_json: str | None = Field(default=None, sa_type=sa.Text)
    after_json: str | None = Field(default=None, sa_type=sa.Text)
    reason: str | None = Field(default=None, sa_type=sa.Text)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHeadRow(SQLModel, table=True):
    """The chain's head (last seq and hash); locked by every append so appends are serialised."""

    __tablename__ = "audit_head"
    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = Field(default="0" * 64, max_length=64)


class AuditCheckRow(SQLModel, table=True):
    """The last verification of the audit chain (one row): when, how far it reached (the
    checkpoint the next one goes on from), and the fault when it found one."""

    __tablename__ = "audit_check"
    id: int = Field(default=1, primary_key=True)
    checked_at: datetime = _when()
    full: bool  # it started at the first event (else: on from the previous checkpoint)
    ok: bool
    checked: int  # events verified up to head_seq (all of them since the first)
    head_seq: int  # the last event that verified: the checkpoint
    head_hash: str = Field(max_length=64)
    first_bad_seq: int | None = None
    problem: str | None = Field(default=None, sa_type=sa.Text)
    full_at: datetime | None = _when(nullable=True)  # the last verification from the first event
