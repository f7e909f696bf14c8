"""SQLModel tables of the chasing ladder: the rungs written ahead of time, the chaser mails that
carried them, and the deadlines the coordinator moved. Times are stored in UTC."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ibmflow.storage.columns import when as _when


class RungRow(SQLModel, table=True):
    """One rung of the chasing ladder of one request or one stay in a step.

    Rungs are written ahead of time with the moment they ring (`fire_at`); the sweep sends those whose
    moment has come. `key` is unique per subject and rung, so a rung is sent at most once whatever
    happens; a claim (`claimed_by` until `claimed_until`) keeps two workers off the same rung.
    """

    __tablename__ = "rung"
    __table_args__ = (sa.Index("ix_rung_due", "status", "fire_at"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120, unique=True)
    process_id: int = Field(foreign_key="process.id", index=True)
    request_id: int | None = Field(default=None, foreign_key="request.id", index=True)
    step_record_id: int | None = Field(default=None, foreign_key="step_record.id", index=True)
    rung: str = Field(max_length=40)
    due_on: date
    fire_at: datetime = _when()
    status: str = Field(default="pending", max_length=20)
    claimed_by: str | None = Field(default=None, max_length=100)
    claimed_until: datetime | None = _when(nullable=True)
    done_at: datetime | None = _when(nullable=True)
    outcome: str | None = Field(default=None, max_length=500)


class ChaseMailRow(SQLModel, table=True):
    """Which chaser mail carried which rung to whom. A mail may list several rungs (one mail per
    person per process per sweep); the unique (rung, person) pair makes a second sending of a rung
    to a person impossible, whatever two workers or a re-run do."""

    __tablename__ = "chase_mail"
    __table_args__ = (sa.UniqueConstraint("rung_id", "person_id"),)
    id: int | None = Field(default=None, primary_key=True)
    rung_id: int = Field(foreign_key="rung.id")
    person_id: int = Field(foreign_key="person.id")
    message_id: str = Field(max_length=250)


class DeadlineExtensionRow(SQLModel, table=True):
    """A deadline the coordinator moved, with the reason (the audit chain holds it too)."""

    __tablename__ = "deadline_extension"
    id: int | None = Field(default=None, primary_key=True)
    process_id: int = Field(foreign_key="process.id", index=True)
    request_id: int | None = Field(default=None, foreign_key="request.id")
    step_record_id: int | None = Field(default=None, foreign_key="step_record.id")
    old_due_at: datetime | None = _when(nullable=True)
    new_due_at: datetime = _when()
    reason: str = Field(max_length=2000)
    actor: str = Field(max_length=254)
    created_at: datetime = _when()
