"""Who may answer what: the one rule that the answer link, the reply by mail, the console and the
command line apply.

- A request (not a vote) is answered by whom it was mailed to, by its focal point, by any focal
  point of the institution (for a request to an institution), or by a deputy registered for one of
  them (`deputy_for` in the roster); a deputy needs no other role.
- A vote is cast by the institution's IAWG member, or by the representative the member nominated for
  that decision or for the day (`ibmflow.decisions.ballot_for`). Deputies answer requests but do not
  vote.
- A coordinator may vouch for an answer (a quarantined reply they assign, an answer they record from
  the command line): a request's answer is then taken from whoever sent it; a ballot never is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ibmflow.decisions import Ballot, ballot_for
from ibmflow.errors import InvalidCommand, NotAnswerer, NotFound
from ibmflow.facts import Person
from ibmflow.i18n import _
from ibmflow.requestkinds import KINDS
from ibmflow.storage import repository as repo
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import answers as queries
from ibmflow.storage.tables import (
    InstitutionRow,
    PersonRow,
    ProcessRow,
    RequestRow,
)


@dataclass(frozen=True)
class Answerer:
    """Who answers a request (None: an answer a coordinator vouches for, from no one on the
    roster), for whom when they answer as a deputy, and the ballot they cast on a vote."""

    person: PersonRow | None
    deputy_for: PersonRow | None = None
    ballot: Ballot | None = None


def addressees(tx: Tx, process: ProcessRow, request: RequestRow) -> list[PersonRow]:
    """Whom a request (not a vote) is for: the people it was mailed to, its focal point and, for a
    request to an institution, the institution's focal points today."""
    ids = queries.linked_people(tx.session, request.id or 0)
    if request.focal_point_id is not None:
        ids.add(request.focal_point_id)
    if KINDS[request.kind].per == "institution":
        ids |= {
            r.person_id
            for r in repo.active_roles(tx.session, process, "focal_point")
            if r.institution_id == request.institution_id
        }
    rows = queries.people(tx.session, ids)
    return sorted(rows, key=lambda p: p.id or 0)


def deputy_of(tx: Tx, process: ProcessRow, person: PersonRow) -> list[PersonRow]:
    """The people `person` is registered as deputy for."""
    ids = {
        r.deputy_for_id
        for r in repo.active_roles(tx.session, process, "deputy")
        if r.person_id == person.id and r.deputy_for_id is not None
    }
    return [p for pid in sorted(ids) if (p := tx.session.get(PersonRow, pid)) is not None]


def may_answer(
    tx: Tx,
    process: ProcessRow,
    request: RequestRow,
    email: str | None,
    now: datetime,
    *,
    vouched: bool = False,
) -> Answerer:
    """Check that `email` may answer `request` (for a vote: cast the institution's vote); raise
    NotAnswerer saying who may, if not. With `vouched` (a coordinator takes the answer as given), a
    request's answer is taken from anyone, or from no one named; a ballot still needs its voter."""
    kind = KINDS[request.kind]
    person = None
    if email:  # a voter must be on the roster (NotFound); anyone may send a request's answer
        find = repo.person if kind.is_vote else repo.person_or_none
        person = find(tx.session, process, email)
    if vouched and not kind.is_vote:
        try:  # whom they answer for as a deputy, if the rule says
            return may_answer(tx, process, request, email, now) if person else Answerer(None)
        except NotAnswerer:
            return Answerer(person)
    institution = tx.session.get(InstitutionRow, request.institution_id)
    assert institution is not None
    if person is None:
        raise NotAnswerer(
            _(
                "%(email)s is not on the roster of %(key)s; request #%(id)s of "
                "%(short_name)s is answered by %(who_answers)s.",
                email=email or _("nobody named"),
                key=process.key,
                id=request.id,
                short_name=institution.short_name,
                who_answers=kind.who_answers,
            )
        )
    if kind.is_vote:
        assert request.decision_id is not None
        try:
            cast = ballot(tx, process, request.decision_id, institution.code, person.email, now)
        except InvalidCommand as exc:
            raise NotAnswerer(exc.message, process=process.key) from None
        return Answerer(person, ballot=cast)
    for_whom = addressees(tx, process, request)
    if person.id in {p.id for p in for_whom}:
        return Answerer(person)
    deputised = {p.id: p for p in deputy_of(tx, process, person)}
    for addressee in for_whom:
        if addressee.id in deputised:
            return Answerer(person, deputy_for=addressee)
    names = ", ".join(p.name for p in for_whom) or "nobody yet"
    raise NotAnswerer(
        _(
            "%(email)s is neither a focal point of %(short_name)s to whom request "
            "#%(id)s was sent (%(names)s) nor a deputy registered for one.",
            email=email,
            short_name=institution.short_name,
            id=request.id,
            names=names,
        )
    )


def ballot(
    tx: Tx, process: ProcessRow, decision_id: int, institution: str, email: str, now: datetime
) -> Ballot:
    """Check that `email` may cast `institution`'s vote on the decision: its IAWG member or the
    representative they nominated; never a deputy. Raise InvalidCommand (NotFound off the roster)."""
    facts = repo.load_facts(tx.session, process, now)
    decision = next((d for d in facts.decisions if d.id == decision_id), None)
    if decision is None:
        raise NotFound(
            _(
                "no decision #%(decision_id)s in %(key)s; `ibmflow decision list %(key)s`.",
                decision_id=decision_id,
                key=process.key,
            )
        )
    row = repo.person(tx.session, process, email)
    voter = Person(id=row.id or 0, name=row.name, email=row.email)
    today = now.astimezone(ZoneInfo(process.timezone)).date()
    deputised = deputy_of(tx, process, row)
    return ballot_for(
        facts,
        decision,
        institution.upper(),
        voter,
        repo.nominations(tx.session, process, facts),
        today,
        deputy_for=tuple(p.name for p in deputised),
    )


def first_answerable(
    tx: Tx, process: ProcessRow, kind: str, person: PersonRow, now: datetime
) -> tuple[RequestRow | None, PersonRow | None]:
    """The first pending request of `kind` that `person` may answer, and whom they answer for as a
    deputy (None when they answer as themselves); (None, None) if there is none."""
    pending = queries.pending(tx.session, process, kind)
    for request in pending:
        try:
            answerer = may_answer(tx, process, request, person.email, now)
        except (InvalidCommand, NotFound):
            continue
        return request, answerer.deputy_for
    return None, None
