"""Use cases on a process's life: start it, read its status, and move it through its steps."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session

from ibmflow.definitions import Definition
from ibmflow.engine import SUSPENDED, Outcome, engine_for
from ibmflow.errors import ConcurrencyConflict, InvalidCommand
from ibmflow.facts import only
from ibmflow.guards import reads_of
from ibmflow.i18n import _
from ibmflow.roster import Roster, default_roster
from ibmflow.services import deadlines, followups
from ibmflow.services.common import definition_for, due_after, iso
from ibmflow.services.context import Context
from ibmflow.services.process_views import (
    ProcessStatus,
    ProcessSummary,
    StepView,
    WorkflowRef,
)
from ibmflow.services.roster import apply_roster
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import processes as queries
from ibmflow.storage.tables import ProcessRow, WorkflowDefinitionRow
from ibmflow.text import PROCESS_TITLE, clean

KEY_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9-]{1,39}")  # fullmatch: no trailing line break


def _stored_definition(tx: Tx, definition: Definition, now: datetime) -> WorkflowDefinitionRow:
    """The stored copy of this definition version, storing it on first use."""
    row = queries.stored_definition(tx.session, definition.id, definition.version)
    if row is None:
        row = WorkflowDefinitionRow(
            workflow_id=definition.id,
            version=definition.version,
            source_hash=definition.source_hash,
            source_text=definition.source_text,
            filename=definition.filename,
            stored_at=now,
        )
        tx.session.add(row)
        tx.session.flush()
    elif row.source_hash != definition.source_hash:
        raise InvalidCommand(
            _(
                "%(filename)s declares %(id)s version %(version)s, but it differs from "
                "the version %(version)s that processes already run on. Raise `version` "
                "in [workflow] so running processes keep theirs.",
                filename=definition.filename,
                id=definition.id,
                version=definition.version,
            )
        )
    return row


def _due(ctx: Context, process: ProcessRow, start: datetime, days: int | None) -> datetime | None:
    return None if days is None else due_after(ctx, process, start, days)


def _enter(
    ctx: Context, tx: Tx, process: ProcessRow, definition: Definition, step: str, now: datetime
) -> datetime | None:
    """Open a stay in `step` and plan its overdue alert; return when the stay is due."""
    target = None if step == SUSPENDED else definition.state(step).target_days
    due = _due(ctx, process, now, target)
    record_id = repo.enter_step(tx.session, process, step, now=now, target_days=target, due_at=due)
    deadlines.plan_step(ctx, tx, process, record_id, due)
    return due


def start_process(
    ctx: Context,
    *,
    title: str,
    actor: str,
    workflow: str = "ibm_strategy",
    key: str | None = None,
    country: str | None = None,
    timezone: str | None = None,
    roster: Roster | None = None,
    language: str | None = None,
) -> ProcessRow:
    """Start a process on the current version of a workflow, seeded with the default roster. Its
    mails go in `language` (default: the deployment's) to whoever has no language of their own."""
    if workflow not in ctx.workflows:
        raise InvalidCommand(
            _(
                "no workflow %(workflow)r in %(workflows_dir)s; known: %(known)s.",
                workflow=workflow,
                workflows_dir=ctx.settings.workflows_dir,
                known=", ".join(sorted(ctx.workflows)) or _("none"),
            )
        )
    title = clean(title, PROCESS_TITLE)
    definition = ctx.workflows[workflow]
    country = (country or ctx.settings.country).upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise InvalidCommand(
            _(
                "country %(country)r is not valid; give a two-letter ISO 3166 code such "
                "as MA or SN.",
                country=country,
            )
        )
    timezone = timezone or ctx.settings.timezone
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidCommand(
            _(
                "time zone %(timezone)r is not known; give an IANA name such as Africa/Casablanca.",
                timezone=timezone,
            )
        ) from None
    language = language or ctx.settings.language
    if language not in ctx.settings.languages:
        raise InvalidCommand(
            f"language {language!r} is not offered; give one of {', '.join(ctx.settings.languages)}."
        )
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        stored = _stored_definition(tx, definition, now)
        if key is None:
            key = f"{country}-{queries.count_in_country(tx.session, country) + 1}"
        key = key.upper()
        if not KEY_PATTERN.fullmatch(key):
            raise InvalidCommand(
                _(
                    "process key %(key)r is not valid; use 2-40 capital letters, digits and "
                    "dashes, e.g. MA-2026.",
                    key=key,
                )
            )
        if queries.find_process(tx.session, key) is not None:
            raise InvalidCommand(
                _("a process %(key)s already exists; choose another --key.", key=key)
            )
        process = ProcessRow(
            key=key,
            title=title,
            country=country,
            timezone=timezone,
            definition_pk=stored.id or 0,
            workflow_id=definition.id,
            workflow_version=definition.version,
            state=definition.initial,
            language=language,
            created_at=now,
            updated_at=now,
        )
        tx.session.add(process)
        tx.session.flush()
        tx.acting(actor, now, key).record(
            "process.started",
            f"process:{key}",
            after={
                "title": process.title,
                "country": country,
                "workflow": definition.id,
                "version": definition.version,
                "definition_sha256": definition.source_hash,
                "language": language,
            },
        )
        apply_roster(
            tx,
            process,
            roster or default_roster(),
            actor=actor,
            now=now,
            source="default roster" if roster is None else "roster",
        )
        due = _enter(ctx, tx, process, definition, definition.initial, now)
        tx.acting(actor, now, key).record(
            "step.entered", f"step:{definition.initial}", after={"state": definition.initial}
        )
        followups.entered(ctx, tx, process, definition, definition.initial, now, actor, due_at=due)
    return process


def read_version(ctx: Context, key: str) -> int:
    """The process's current version (what a coordinator saw before acting)."""
    with ctx.db.reading() as session:
        return repo.get_process(session, key).version


@dataclass(frozen=True)
class Moved:
    """A transition that happened."""

    process: str
    outcome: Outcome
    version: int
    at: datetime


def fire(
    ctx: Context,
    key: str,
    trigger: str,
    *,
    actor: str,
    expected_version: int | None = None,
    target: str | None = None,
    reason: str | None = None,
) -> Moved:
    """Apply a trigger: guards checked, state and step history updated, audit written, all in one
    transaction; raise TransitionRefused (nothing written) or ConcurrencyConflict."""
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        process = repo.process_for_transition(tx.session, key)
        seen = process.version if expected_version is None else expected_version
        if process.version != seen:
            raise _conflict(ctx, tx.session, process, seen)
        definition = definition_for(ctx, tx.session, process)
        # What the guards read and what the follow-ups read (the adoption, for the notices of a
        # completed step): one read; the guards see only theirs.
        guarded = _guard_reads(definition, process, trigger)
        caused = followups.reads(definition, process.state, trigger)
        facts = repo.load_facts(
            tx.session, process, now, None if guarded is None else guarded | caused
        )
        outcome = engine_for(definition).fire(
            process.state,
            facts if guarded is None or caused <= guarded else only(facts, guarded),
            trigger,
            target=target,
            reason=reason,
            suspended_from=process.suspended_from,
        )
        moved = repo.move_process(
            tx.session,
            process,
            seen=seen,
            state=outcome.after,
            now=now,
            suspended_from=outcome.before if trigger == "suspend" else None,
        )
        if not moved:
            raise _conflict(ctx, tx.session, process, seen)
        repo.leave_step(tx.session, process, now=now, trigger=trigger)
        due = _enter(ctx, tx, process, definition, outcome.after, now)
        action = {
            "complete": "step.completed",
            "return_to": "step.returned",
            "suspend": "process.suspended",
            "resume": "process.resumed",
        }[trigger]
        tx.acting(actor, now, key).record(
            action,
            f"step:{outcome.before}",
            reason=reason,
            before={"state": outcome.before, "version": seen},
            after={"state": outcome.after, "version": seen + 1},
        )
        if outcome.after != SUSPENDED and definition.state(outcome.after).final:
            tx.acting(actor, now, key).record(
                "process.finished", f"process:{key}", after={"state": outcome.after}
            )
        # The mails the definition declares and the requests the new step opens, in this same
        # transaction: they leave through the outbox once it commits.
        followups.after(ctx, tx, process, definition, outcome, now, actor, due_at=due, facts=facts)
    return Moved(process=key, outcome=outcome, version=seen + 1, at=now)


def _guard_reads(
    definition: Definition, process: ProcessRow, trigger: str
) -> frozenset[str] | None:
    """The fact groups `trigger` needs: those the exit guards of the current step read, for
    `complete`; none for the other triggers, which check no guard."""
    if trigger != "complete" or process.state not in {s.id for s in definition.steps}:
        return frozenset()
    return reads_of(g.name for g in definition.state(process.state).guards)


def _conflict(
    ctx: Context, session: Session, process: ProcessRow, seen: int
) -> ConcurrencyConflict:
    process = repo.process_for_transition(session, process.key)  # as it is now
    return ConcurrencyConflict(
        _(
            "process %(key)s changed since you read it (you saw version %(seen)s, it is now at "
            "version %(version)s, state %(state)r); nothing was written. Check `ibmflow status "
            "%(key)s` and try again.",
            key=process.key,
            seen=seen,
            version=process.version,
            state=process.state,
        ),
        process=process.key,
        step=process.state,
    )


def status(ctx: Context, key: str) -> ProcessStatus:
    """The process's state, its steps with their dates, and what blocks the current step."""
    now = ctx.clock.now()
    with ctx.db.reading() as session:
        process = repo.get_process(session, key)
        definition = definition_for(ctx, session, process)
        facts = repo.load_facts(session, process, now)
        records = repo.step_records(session, process)
        engine = engine_for(definition)
        steps = []
        for state in definition.states:
            stays = [r for r in records if r.step == state.id]
            last = stays[-1] if stays else None
            completed = last.left_at if last and last.left_by == "complete" else None
            current = process.state == state.id
            due = last.due_at if last and current else None
            steps.append(
                StepView(
                    id=state.id,
                    title=state.title,
                    owner=state.owner,
                    target_days=state.target_days,
                    final=state.final,
                    entered_at=iso(last.entered_at if last else None),
                    completed_at=iso(completed),
                    due_at=iso(due),
                    status="current" if current else "done" if completed else "pending",
                    overdue=bool(current and due is not None and now > due),
                )
            )
        return ProcessStatus(
            process=process.key,
            title=process.title,
            country=process.country,
            timezone=process.timezone,
            workflow=WorkflowRef(id=process.workflow_id, version=process.workflow_version),
            state=process.state,
            state_title=_("Suspended")
            if process.state == SUSPENDED
            else definition.state(process.state).title,
            suspended_from=process.suspended_from,
            version=process.version,
            steps=tuple(steps),
            blockers=tuple(engine.blockers(process.state, facts)),
            triggers=tuple(engine.triggers(process.state)),
            as_of=iso(now),
        )


def summary(p: ProcessRow) -> ProcessSummary:
    """A process row as a list shows it."""
    return ProcessSummary(
        process=p.key,
        title=p.title,
        country=p.country,
        state=p.state,
        workflow=f"{p.workflow_id} v{p.workflow_version}",
        version=p.version,
        updated_at=iso(p.updated_at),
    )


def list_processes(ctx: Context) -> list[ProcessSummary]:
    """Every process with its current state."""
    with ctx.db.reading() as session:
        return [summary(p) for p in queries.all_processes(session)]
