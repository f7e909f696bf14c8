"""Who may answer what, one rule on every channel: a representative nominated after the decision
opened gets the vote request at once and votes by reply or by link; a deputy answers requests but
never votes; a deputy need hold no other role. Through the real receiver (SMTP on loopback, the
aiosmtplib client) and the real HTTP server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from scenarios import at_stakeholder_identification
from sqlmodel import select
from test_inbound_receive import (
    BORDER_MEMBER,
    CUSTOMS,
    DEPUTY,
    Receiver,
    events,
    free_port,
    inbound_rows,
    outbox_of_kind,
    reply_to,
    request_mail,
    request_row,
    send,
)
from test_web_answer import links
from webconsole import csrf_of

from ibmflow.demo import COORDINATOR
from ibmflow.entrypoints.receiver import controller
from ibmflow.errors import InvalidCommand
from ibmflow.services import decisions, records, roster
from ibmflow.services.context import Context
from ibmflow.storage.tables import VoteRow

KEY = "MA-1"
BORDER_FOCAL = "focal@borderguard.example"  # Hicham Tazi, focal point of the Border Guard
ONLY_DEPUTY = "assistant@customs.example"  # deputy of the Customs focal point, no other role
REPRESENTED = (
    "Hicham Tazi voted for institution Border Guard, representing member Nadia Berrada: approved"
)


@pytest.fixture
def receiver(ctx: Context) -> Iterator[Receiver]:
    """ibmflow's SMTP receiver on a free loopback port."""
    port = free_port()
    server = controller(ctx, lmtp=False, host="127.0.0.1", port=port)
    server.start()
    try:
        yield Receiver("127.0.0.1", port)
    finally:
        server.stop()


@pytest.fixture
def process(ctx: Context, tmp_path: Path) -> str:
    """At stakeholder identification with the demo roster (the acknowledgement requests sent)."""
    return at_stakeholder_identification(ctx, KEY, tmp_path, title="Demo strategy")


def _open_then_nominate(ctx: Context) -> int:
    """A decision opened first, the Border Guard member's representative nominated after."""
    decision = decisions.open_decision(ctx, KEY, subject="terms_of_reference", actor=COORDINATOR)
    assert not [m for m in outbox_of_kind(ctx, "vote") if BORDER_FOCAL in m.to_addrs]
    decisions.nominate(
        ctx,
        KEY,
        member=BORDER_MEMBER,
        representative=BORDER_FOCAL,
        actor=COORDINATOR,
        decision_id=decision,
    )
    return decision


def _votes(ctx: Context, decision: int) -> list[str]:
    return [
        line for d in decisions.list_decisions(ctx, KEY) if d.id == decision for line in d.votes
    ]


def test_a_representative_nominated_after_the_decision_opened_votes_by_reply(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    """The nomination mails the representative the vote request (a link of their own, audited);
    their reply is recorded as the vote for the institution, representing the member."""
    decision = _open_then_nominate(ctx)
    mail = request_mail(ctx, BORDER_FOCAL, kind="vote")
    member_mail = request_mail(ctx, BORDER_MEMBER, kind="vote")
    assert mail.request_id == member_mail.request_id and "/r/" in mail.text_body
    [sent] = [
        e
        for e in events(ctx, "request.sent")
        if e["after"]["to"] == [BORDER_FOCAL] and e["after"]["kind"] == "vote"
    ]
    assert sent["after"]["representing"] == BORDER_MEMBER
    assert sent["entity"] == f"request:{mail.request_id}"

    code, answer = send(receiver, reply_to(mail, "Approve", sender=BORDER_FOCAL))
    assert code == 250 and "(answered)" in answer
    assert REPRESENTED in _votes(ctx, decision)
    assert request_row(ctx, mail.request_id).status == "answered"
    [cast] = events(ctx, "vote.cast")
    assert cast["actor"] == BORDER_FOCAL and cast["after"]["via"] == "reply"


def test_a_representative_nominated_after_the_decision_opened_votes_by_link(
    ctx: Context, process: str, start: Callable[[Context], str]
) -> None:
    decision = _open_then_nominate(ctx)
    token = links(ctx, request_mail(ctx, BORDER_FOCAL, kind="vote").request_id or 0)[BORDER_FOCAL]
    with httpx.Client(base_url=start(ctx), timeout=20) as client:
        page = client.get(f"/r/{token}")
        assert "Hicham Tazi, representing Nadia Berrada" in page.text
        answer = client.post(
            f"/r/{token}",
            data={"csrf_token": csrf_of(page), "choice": "approve"},
            files=[("files", ("", b"", "x"))],
        )
    assert answer.status_code == 303
    assert REPRESENTED in _votes(ctx, decision)


def test_a_range_nomination_sends_the_open_decisions_vote_request_once(
    ctx: Context, process: str
) -> None:
    """A nomination for a date range covering today reaches the representative for every decision
    open now; nominating again mails nothing more."""
    decisions.open_decision(ctx, KEY, subject="terms_of_reference", actor=COORDINATOR)
    for _ in range(2):
        decisions.nominate(
            ctx,
            KEY,
            member=BORDER_MEMBER,
            representative=BORDER_FOCAL,
            actor=COORDINATOR,
            valid_from=date(2026, 1, 1),
        )
    assert len([m for m in outbox_of_kind(ctx, "vote") if BORDER_FOCAL in m.to_addrs]) == 1


def test_a_deputys_vote_by_reply_is_quarantined_with_the_rule(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    """The Customs member is also its focal point, and has a deputy: the deputy may not vote."""
    decision = decisions.open_decision(ctx, KEY, subject="terms_of_reference", actor=COORDINATOR)
    mail = request_mail(ctx, CUSTOMS, kind="vote")
    send(receiver, reply_to(mail, "Approve", sender=DEPUTY))
    [row] = inbound_rows(ctx)
    assert row.status == "quarantined"
    assert row.reason is not None
    assert f"{DEPUTY} is a deputy of Rachid Alaoui" in row.reason
    assert "deputies answer requests but do not vote" in row.reason
    with ctx.db.reading() as session:
        assert session.exec(select(VoteRow).where(VoteRow.decision_id == decision)).all() == []
    with pytest.raises(InvalidCommand, match="deputies answer requests but do not vote"):
        decisions.vote(
            ctx,
            KEY,
            decision,
            institution="MOF_CUSTOMS",
            voter=DEPUTY,
            approve=True,
            actor=COORDINATOR,
        )


def _only_deputy(ctx: Context) -> None:
    roster.add_person(
        ctx,
        KEY,
        name="Salma Bennis",
        email=ONLY_DEPUTY,
        institution="MOF_CUSTOMS",
        roles=[],
        deputy_for=CUSTOMS,
        actor=COORDINATOR,
    )


def test_a_deputy_with_no_other_role_answers_their_focal_points_request_by_reply(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    _only_deputy(ctx)
    assert not [m for m in outbox_of_kind(ctx, "request") if ONLY_DEPUTY in m.to_addrs]
    mail = request_mail(ctx, CUSTOMS)
    code, answer = send(receiver, reply_to(mail, "Confirmed for Rachid.", sender=ONLY_DEPUTY))
    assert code == 250 and "(answered)" in answer
    request = request_row(ctx, mail.request_id)
    assert (request.status, request.answered_by) == ("answered", ONLY_DEPUTY)


def test_a_deputy_with_no_other_role_acknowledges_from_the_command_line_rule(
    ctx: Context, process: str
) -> None:
    """`ibmflow ack --email DEPUTY` answers the request of the focal point they deputise for."""
    _only_deputy(ctx)
    rid = records.record_answer(
        ctx, KEY, kind="acknowledge_contact", actor=COORDINATOR, email=ONLY_DEPUTY
    )
    assert rid == request_mail(ctx, CUSTOMS).request_id
    [answered] = events(ctx, "request.answered")
    assert answered["after"]["focal_point"] == ONLY_DEPUTY


def test_the_roster_takes_a_deputy_without_roles(
    ctx: Context, process: str, tmp_path: Path
) -> None:
    path = tmp_path / "deputies.toml"
    path.write_text(
        "[[person]]\n"
        'name = "Salma Bennis"\n'
        f'email = "{ONLY_DEPUTY}"\n'
        'institution = "MOF_CUSTOMS"\n'
        f'deputy_for = "{CUSTOMS}"\n',
        encoding="utf-8",
    )
    roster.import_roster(ctx, KEY, path, actor=COORDINATOR)
    people = {str(p["email"]): p for p in _people(ctx)}
    assert people[ONLY_DEPUTY]["roles"] == ["deputy"]


def _people(ctx: Context) -> list[dict[str, object]]:
    from ibmflow.services.people import roster_of

    return [p.to_dict() for p in roster_of(ctx, KEY).people]
