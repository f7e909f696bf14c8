"""Replies in French and English: the quoted history cut, the vote read, auto-replies recognised.

The corpus in `tests/replies/` holds replies as Gmail, Outlook (desktop and web), Thunderbird and
Apple Mail (Mac and iPhone) quote them, in English and in French: each file gives the body received,
the new text expected once the history is cut, and the vote it carries. The library
`mail-parser-reply` (1.36, languages en and fr) was measured on the same 19 files against the
hand-written rules of `ibmflow.mail.reply_text`:

    quoted history cut, new text kept:   hand-written 19/19   mail-parser-reply 15/19
    cut text exactly as expected:        hand-written 19/19   mail-parser-reply 11/19

It kept the history of a Gmail attribution wrapped over two lines, of Outlook's French headers with
a no-break space before the colon ("De\u00a0:"), of an attribution typed without accents ("a ecrit")
and the "Obtenir Outlook pour Android" line with Outlook's rule; it also drops sign-offs. The
hand-written rules stay (and no dependency is added). The votes are read by `parse_vote` from either
cut; it reads all 19.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from helpers import free_port
from scenarios import at_stakeholder_identification
from sqlmodel import select
from test_inbound_receive import (
    Receiver,
    events,
    inbound_rows,
    reply_to,
    request_mail,
    request_row,
    send,
)

from ibmflow.demo import COORDINATOR
from ibmflow.entrypoints.receiver import controller
from ibmflow.mail import inbound as mail
from ibmflow.mail.reply_text import parse_vote, strip_quoted
from ibmflow.services import decisions, inbound, requests
from ibmflow.services.context import Context
from ibmflow.storage.tables import VoteRow

CORPUS = Path(__file__).resolve().parent / "replies"
KEY = "MA-1"
BORDER_MEMBER = "member@borderguard.example"
CUSTOMS = "focal@customs.example"
VOTES = {"approve": True, "object": False, "none": None}


@dataclass(frozen=True)
class Sample:
    name: str
    client: str
    language: str
    vote: bool | None
    body: str
    expected: str


def load(path: Path) -> Sample:
    head, rest = path.read_text(encoding="utf-8").split("=== body ===\n", 1)
    body, expected = rest.split("=== expected ===\n", 1)
    meta = dict(line.split(": ", 1) for line in head.strip().splitlines())
    return Sample(
        path.stem,
        meta["client"],
        meta["language"],
        VOTES[meta["vote"]],
        body,
        expected.rstrip("\n"),
    )


SAMPLES = [load(p) for p in sorted(CORPUS.glob("*.txt"))]


def test_the_corpus_covers_four_clients_in_both_languages() -> None:
    assert len(SAMPLES) >= 16
    for client in ("Gmail", "Outlook", "Thunderbird", "Apple Mail"):
        for language in ("en", "fr"):
            assert any(s.client.startswith(client) and s.language == language for s in SAMPLES), (
                client,
                language,
            )


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_the_history_is_cut_and_the_vote_read(sample: Sample) -> None:
    cut = strip_quoted(sample.body)
    assert cut == sample.expected
    verdict, _rest = parse_vote(cut)
    assert verdict is sample.vote


@pytest.mark.parametrize(
    ("first_line", "verdict", "reason"),
    [
        ("J'approuve.", True, ""),
        ("j’approuve la version 2", True, "la version 2"),
        ("Approuvé", True, ""),
        ("APPROUVE", True, ""),
        ("approuvée, merci", True, "merci"),
        ("D'accord.", True, ""),
        ("d accord pour moi", True, "pour moi"),
        ("Oui", True, ""),
        ("Nous sommes d'accord", True, ""),
        ("Pas d'objection.", True, ""),
        ("No objection.", True, ""),
        ("Objection : le chapitre 3 doit être revu.", False, "le chapitre 3 doit être revu."),
        ("Je m'oppose : le chapitre 3 doit être revu.", False, "le chapitre 3 doit être revu."),
        ("je m’oppose, faute de budget", False, "faute de budget"),
        ("JE M OPPOSE - délais", False, "délais"),
        ("Je ne suis pas d'accord : trop court.", False, "trop court."),
        ("Je ne suis pas d’accord", False, ""),
        ("Non. Le texte est incomplet.", False, "Le texte est incomplet."),
        ("Je vote contre : annexe absente", False, "annexe absente"),
        ("Pouvons-nous en parler lundi ?", None, None),
        ("Je serai absent lundi.", None, None),
    ],
)
def test_french_votes_accents_and_case_optional(
    first_line: str, verdict: bool | None, reason: str | None
) -> None:
    found, rest = parse_vote(first_line)
    assert found is verdict
    if reason is not None:
        assert rest == reason


def test_a_greeting_on_the_first_line_is_passed_over() -> None:
    assert parse_vote("Bonjour,\n\nJe m'oppose : délais trop courts.") == (
        False,
        "délais trop courts.",
    )
    assert parse_vote("Dear Karim,\nApprove.")[0] is True
    assert parse_vote("Bonjour,")[0] is None


def _mail(subject: str, **headers: str) -> mail.Incoming:
    msg = EmailMessage()
    msg["From"] = "Douane <focal@customs.example>"
    msg["To"] = "replies+abc@ibmflow.example"
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Je suis absent du bureau jusqu'au 19 janvier.")
    return mail.parse(msg.as_bytes())


@pytest.mark.parametrize(
    "subject",
    [
        "Réponse automatique : Vote : Objectifs",
        "Reponse automatique: Re: Vote",
        "Absence du bureau",
        "[Absence du bureau] Re: Vote : Objectifs",
        "RE: Vote : Objectifs - absent du bureau",
        "Je suis absente du bureau",
        "Message d'absence",
        "Message d’absence : Re: Vote",
        "Automatic reply: Vote: Objectives",
    ],
)
def test_french_auto_replies_are_recognised_by_their_subject(subject: str) -> None:
    assert mail.classify(_mail(subject)) == mail.OUT_OF_OFFICE


def test_a_reply_saying_absent_in_its_text_only_is_a_reply() -> None:
    assert mail.classify(_mail("Re: Vote : Objectifs")) == mail.REPLY
    assert mail.classify(_mail("Re: Vote", Auto_Submitted="auto-replied")) == mail.AUTO_REPLY


# --- over SMTP, through ibmflow's receiver ---------------------------------------------------------


@pytest.fixture
def process(ctx: Context, tmp_path: Path) -> str:
    at_stakeholder_identification(ctx, KEY, tmp_path, title="Stratégie nationale")
    requests.send_requests(
        ctx, KEY, kind="acknowledge_contact", actor=COORDINATOR, scope="permanent"
    )
    return KEY


@pytest.fixture
def receiver(ctx: Context) -> Iterator[Receiver]:
    port = free_port()
    server = controller(ctx, lmtp=False, host="127.0.0.1", port=port)
    server.start()
    try:
        yield Receiver("127.0.0.1", port)
    finally:
        server.stop()


def test_a_french_objection_by_reply_is_recorded_with_its_reason(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    decision_id = decisions.open_decision(ctx, KEY, subject="terms_of_reference", actor=COORDINATOR)
    original = request_mail(ctx, BORDER_MEMBER, kind="vote")
    body = (
        "Je m'oppose : le chapitre 3 doit être revu.\n\n"
        "Le lun. 5 janv. 2026 à 10:00, Coordonnateur IBM <coordinator@interior.example> a écrit :\n"
        "> Veuillez voter sur la motion.\n"
    )
    send(receiver, reply_to(original, body, sender=BORDER_MEMBER))
    with ctx.db.reading() as session:
        [vote] = session.exec(select(VoteRow).where(VoteRow.decision_id == decision_id)).all()
        session.expunge_all()
    assert (vote.approve, vote.reason) == (False, "le chapitre 3 doit être revu.")
    request = request_row(ctx, original.request_id)
    assert (request.status, request.answered_via) == ("answered", "reply")
    [cast] = events(ctx, "vote.cast")
    assert cast["after"]["approve"] is False and cast["reason"] == "le chapitre 3 doit être revu."


def test_a_french_approval_from_outlook_is_recorded(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    decision_id = decisions.open_decision(ctx, KEY, subject="terms_of_reference", actor=COORDINATOR)
    original = request_mail(ctx, BORDER_MEMBER, kind="vote")
    sample = next(s for s in SAMPLES if s.name == "outlook-fr-approve-nbsp")
    send(receiver, reply_to(original, sample.body, sender=BORDER_MEMBER))
    with ctx.db.reading() as session:
        [vote] = session.exec(select(VoteRow).where(VoteRow.decision_id == decision_id)).all()
        assert vote.approve is True


def test_a_french_auto_reply_is_not_taken_as_an_answer(
    ctx: Context, process: str, receiver: Receiver
) -> None:
    decisions.open_decision(ctx, KEY, subject="terms_of_reference", actor=COORDINATOR)
    original = request_mail(ctx, BORDER_MEMBER, kind="vote")
    msg = reply_to(
        original,
        "Je suis absent du bureau jusqu'au 19 janvier. Oui, je lirai vos messages à mon retour.",
        sender=BORDER_MEMBER,
        subject=f"Réponse automatique : {original.subject}",
    )  # no Auto-Submitted header: the subject alone tells it
    send(receiver, msg)
    assert request_row(ctx, original.request_id).status == "sent"
    assert events(ctx, "vote.cast") == []
    [row] = inbound_rows(ctx)
    assert (row.classification, row.status) == ("out_of_office", "recorded")
    assert inbound.list_quarantine(ctx) == []
