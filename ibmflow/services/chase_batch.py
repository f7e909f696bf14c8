"""What a batch of the chaser's rungs reads once for all of them, and what it writes at its end."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ibmflow.audit import AuditRecord, JSONValue
from ibmflow.calendar import WorkCalendar
from ibmflow.ladder import ESCALATION
from ibmflow.services.deadlines import SENT
from ibmflow.services.outbox import MailRows
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import batch as records
from ibmflow.storage.queries import chase as q
from ibmflow.storage.queries import roster
from ibmflow.storage.queries.chase import RungRecord
from ibmflow.storage.shapes import Institution, Person, Request
from ibmflow.storage.tables import ProcessRow, RungRow, StepRecord

# A rung as a batch handles it: a sweep's, read as a record; a reminder by hand's, an ORM row.
AnyRung = RungRecord | RungRow


@dataclass
class Batch:
    """What a batch of rungs needs, read in a few queries rather than one per rung, and the rows it
    writes together at its end."""

    processes: dict[int, ProcessRow]
    requests: Mapping[int, Request]  # read as records (`queries.batch`), as are the next two
    stays: dict[int, StepRecord]
    institutions: Mapping[int, Institution]
    addressees: Mapping[int, Sequence[Person]]  # request id -> the people its first mails went to
    keys: set[str]  # the keys of the rungs the batch's subjects have, planned or rung
    sent: dict[int, list[str]]  # request id -> the names of its rungs sent, this batch's too
    sent_before: dict[int, frozenset[str]]  # request id -> its rungs sent before this batch
    follow: list[dict[str, Any]] = field(default_factory=list)  # next rungs to insert
    events: list[AuditRecord] = field(default_factory=list)  # to append, in order
    added: list[RungRecord] = field(default_factory=list)  # rungs rung or passed over, not planned
    carried: list[tuple[AnyRung, int, str]] = field(default_factory=list)  # rung, person, mail
    mails: MailRows = field(default_factory=MailRows)  # the outbox rows and link tokens to write
    calendars: dict[int, WorkCalendar] = field(default_factory=dict)  # by institution id
    days: dict[int, date] = field(default_factory=dict)  # id of a calendar -> its local day

    def today(self, cal: WorkCalendar, now: datetime) -> date:
        """The calendar's local day at `now`, the batch's moment (worked out once per calendar)."""
        day = self.days.get(id(cal))
        if day is None:
            day = self.days[id(cal)] = cal.local_day(now)
        return day

    def calendar(self, institution_id: int, make: Callable[[], WorkCalendar]) -> WorkCalendar:
        """The working-day calendar of an institution's requests, made once per batch."""
        cal = self.calendars.get(institution_id)
        if cal is None:
            cal = self.calendars[institution_id] = make()
        return cal

    @classmethod
    def of(cls, tx: Tx, rungs: Sequence[AnyRung]) -> Batch:
        session = tx.session
        # Lock the processes in id order, as every command does one at a time: an answer arriving
        # during the sweep waits for it, or the sweep sees the answer.
        processes = q.processes_locked(session, (r.process_id for r in rungs))
        request_ids = [r.request_id for r in rungs if r.request_id is not None]
        requests = records.requests(session, request_ids)
        stay_ids = [r.step_record_id for r in rungs if r.step_record_id is not None]
        stays = q.stays_by_id(session, stay_ids)
        institutions = records.institutions(session, (r.institution_id for r in requests.values()))
        addressees = records.addressees(session, request_ids)
        keys: set[str] = set()
        sent: dict[int, list[str]] = {}
        for key, subject_id, name, status in q.rungs_of_subjects(session, request_ids, stay_ids):
            keys.add(key)
            if status == SENT and subject_id is not None:
                sent.setdefault(subject_id, []).append(name)
        before = {k: frozenset(v) for k, v in sent.items()}
        return cls(processes, requests, stays, institutions, addressees, keys, sent, before)

    def chaser_did(
        self,
        now: datetime,
        process: ProcessRow,
        action: str,
        entity: str,
        *,
        after: JSONValue,
        reason: str | None = None,
    ) -> None:
        """Keep an event of the chaser's for the batch's end, where they are appended together
        (one move of the audit head for the batch, not one per rung: hence no `tx.record`)."""
        self.events.append(
            AuditRecord(
                at=now,
                actor="ibmflow:chaser",
                action=action,
                process=process.key,
                entity=entity,
                after=after,
                reason=reason,
            )
        )

    def reminded_before(self, request_id: int) -> bool:
        """Whether the request's people got a reminder from a sweep before this one."""
        return any(name != ESCALATION for name in self.sent_before.get(request_id, ()))

    def reminders_sent(self, request_id: int) -> int:
        """How many reminders of the request were really sent, this batch's included."""
        return sum(1 for name in self.sent.get(request_id, []) if name != ESCALATION)


def prime_role_holders(tx: Tx, process_ids: Iterable[int]) -> None:
    """Read the roles in force of these processes together, for this transaction (a batch's
    escalations and step alerts: one statement, not one per process)."""
    memo = tx.session.info.setdefault("ibmflow.chase.roles", {})
    wanted = sorted({pid for pid in process_ids if pid not in memo})
    memo.update(roster.role_holders_of(tx.session, wanted))


def prime_representatives(tx: Tx, process_ids: Iterable[int]) -> None:
    """Read the standing representatives of the IAWG members of these processes together, for this
    transaction (a batch's escalations: one statement, not one per escalation)."""
    memo = tx.session.info.setdefault("ibmflow.chase.representatives", {})
    members = {
        person.id
        for pid in set(process_ids)
        for person, role, _ in _role_holders_of(tx, pid)
        if role == "iawg_member" and person.id is not None and person.id not in memo
    }
    found = q.standing_representatives(tx.session, members)
    for member_id in members:
        memo[member_id] = found.get(member_id, [])


def standing_representatives(tx: Tx, member_ids: Iterable[int | None]) -> list[q.Standing]:
    """The standing (date-range) nominations of these members not revoked, oldest first; the
    caller checks the dates."""
    memo = tx.session.info.setdefault("ibmflow.chase.representatives", {})
    wanted = [m for m in member_ids if m is not None]
    missing = [m for m in wanted if m not in memo]
    if missing:
        found = q.standing_representatives(tx.session, missing)
        for member_id in missing:
            memo[member_id] = found.get(member_id, [])
    return sorted((s for m in dict.fromkeys(wanted) for s in memo[m]), key=lambda s: s.id)


def _role_holders(tx: Tx, process: ProcessRow) -> list[tuple[Person, str, int | None]]:
    """The process's roles in force and their holders (read once per transaction and process: a
    batch's escalations and step alerts of one process share them)."""
    return _role_holders_of(tx, process.id or 0)


def _role_holders_of(tx: Tx, process_id: int) -> list[tuple[Person, str, int | None]]:
    memo = tx.session.info.setdefault("ibmflow.chase.roles", {})
    if process_id not in memo:
        memo[process_id] = roster.role_holders(tx.session, process_id)
    return list(memo[process_id])


def people_with_roles(tx: Tx, process: ProcessRow, roles: Iterable[str]) -> list[Person]:
    """The people holding any of these roles in the process, each once, in the order they got
    their first such role."""
    wanted = set(roles)
    found: dict[int | None, Person] = {}
    for person, role, _ in _role_holders(tx, process):
        if role in wanted:
            found.setdefault(person.id, person)
    return list(found.values())


def institution_holders(
    tx: Tx, process: ProcessRow, role: str, institution_id: int
) -> list[Person]:
    """The people holding `role` for one institution, in the order they got it."""
    return [p for p, r, inst in _role_holders(tx, process) if r == role and inst == institution_id]
