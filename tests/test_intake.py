"""The one answer intake, as people meet it: the same answer sent by link, by reply, from the command
line or from the console is stored and audited alike; the console takes the files the command line
takes; a kind's fields are checked by one rule on every channel. Through the real HTTP server, the
real SMTP receiver and the command line run in-process."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from clirun import Cli
from outboxtext import with_text
from scenarios import at_stakeholder_identification
from sqlmodel import select
from test_cli_end_to_end import cli as cli  # the fixture
from test_inbound_receive import (
    BORDER_MEMBER,
    CUSTOMS,
    Receiver,
    events,
    inbound_rows,
    reply_to,
    request_mail,
    request_row,
    send,
)
from test_inbound_receive import (
    receiver as receiver,  # the fixture
)
from test_web_answer import links
from webconsole import PASSWORD, csrf_of, log_in, problem_of, refused_page

from ibmflow.access import CHAIR, COORDINATOR
from ibmflow.demo import COORDINATOR as COORDINATOR_EMAIL
from ibmflow.requestkinds import KINDS, check_answer
from ibmflow.services import accounts, decisions, requests
from ibmflow.services.context import Context
from ibmflow.storage.tables import DecisionRow, DocumentRow, VoteRow

KEY = "MA-1"
REASON = "article 4 is unclear."
CHAIR_EMAIL = "chair@interior.example"
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def process(ctx: Context, tmp_path: Path) -> str:
    at_stakeholder_identification(ctx, KEY, tmp_path, title="Demo strategy")
    return KEY


@contextmanager
def _console(
    ctx: Context, start: Callable[[Context], str], role: str, email: str
) -> Iterator[httpx.Client]:
    """A client logged in to the console with an account of `role` on the process."""
    accounts.add_user(
        ctx, email=email, name="Someone", role=role, password=PASSWORD, processes=[KEY], actor="t"
    )
    with httpx.Client(base_url=start(ctx), timeout=30) as client:
        assert log_in(client, email).status_code == 303
        yield client


def _without(after: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in after.items() if k not in keys}


# --- the same ballot from every channel ---------------------------------------------------------


@sqlite_only
@pytest.mark.parametrize("channel", ["link", "reply", "cli", "web"])
def test_the_same_objection_from_any_channel_is_stored_and_audited_alike(
    ctx: Context, process: str, channel: str, request: pytest.FixtureRequest
) -> None:
    """The Border Guard member objects with a reason by link, by reply, on the command line or in
    the console: the same vote, the same answered request, the same audit events (but for the
    channel's name and whose hand entered it), the motion rejected."""
    did = decisions.open_decision(ctx, KEY, subject="terms_of_reference", actor=COORDINATOR_EMAIL)
    mail = request_mail(ctx, BORDER_MEMBER, kind="vote")
    if channel == "link":
        token = links(ctx, mail.request_id or 0)[BORDER_MEMBER]
        start = request.getfixturevalue("start")
        with httpx.Client(base_url=start(ctx), timeout=30) as client:
            page = client.get(f"/r/{token}")
            form = {"csrf_token": csrf_of(page), "choice": "object", "reason": REASON}
            done = client.post(f"/r/{token}", data=form, files=[("files", ("", b"", "x"))])
        assert done.status_code == 303
    elif channel == "reply":
        receiver: Receiver = request.getfixturevalue("receiver")
        send(receiver, reply_to(mail, f"Object: {REASON}", sender=BORDER_MEMBER))
    elif channel == "cli":
        cli: Cli = request.getfixturevalue("cli")
        cli("vote", KEY, str(did), "--institution", "MOI_BORDER_GUARD", "--voter", BORDER_MEMBER,
            "--object", "--reason", REASON)  # fmt: skip
    else:
        with _console(ctx, request.getfixturevalue("start"), CHAIR, CHAIR_EMAIL) as client:
            done = client.post(
                f"/p/{KEY}/decisions/{did}/votes",
                data={
                    "csrf_token": csrf_of(client.get("/processes")),
                    "institution": "MOI_BORDER_GUARD",
                    "voter": BORDER_MEMBER,
                    "choice": "object",
                    "reason": REASON,
                },
            )
        assert done.status_code == 303
    with ctx.db.reading() as session:
        [vote] = session.exec(select(VoteRow).where(VoteRow.decision_id == did)).all()
        decision = session.get(DecisionRow, did)
        assert decision is not None
        stored = (vote.approve, vote.reason, vote.represented_id, decision.status)
    assert stored == (False, REASON, None, "rejected")
    answered = request_row(ctx, mail.request_id)
    assert (answered.status, answered.answered_via, answered.answered_by) == (
        "answered",
        channel,
        BORDER_MEMBER,
    )
    assert (answered.answer_text, answered.answer_fields) == (REASON, {"approve": False})
    [cast] = events(ctx, "vote.cast")
    assert cast["reason"] == REASON and cast["after"]["via"] == channel
    assert _without(cast["after"], "via") == {
        "institution": "MOI_BORDER_GUARD",
        "voter": BORDER_MEMBER,
        "approve": False,
        "record": f"Nadia Berrada voted for institution Border Guard: objected ({REASON})",
    }
    [recorded] = events(ctx, "request.answered")
    assert _without(recorded["after"], "via", "link", "inbound") == {
        "kind": "vote",
        "text": REASON,
        "fields": {"approve": False},
    }
    assert [e["after"]["status"] for e in events(ctx, "decision.rejected")] == ["rejected"]


@sqlite_only
@pytest.mark.parametrize("channel", ["link", "reply", "cli"])
def test_the_same_self_assessment_from_any_channel_is_stored_alike(
    ctx: Context, process: str, channel: str, request: pytest.FixtureRequest
) -> None:
    """Six scores and a comment, by link, by reply or on the command line: the same fields, text
    and audit event."""
    scores = {item.name: str(n % 5 + 1) for n, item in enumerate(KINDS["self_assessment"].fields)}
    [rid] = requests.send_requests(
        ctx, KEY, kind="self_assessment", actor=COORDINATOR_EMAIL, institutions=["MOF_CUSTOMS"]
    )
    if channel == "link":
        token = links(ctx, rid)[CUSTOMS]
        with httpx.Client(base_url=request.getfixturevalue("start")(ctx), timeout=30) as client:
            page = client.get(f"/r/{token}")
            form = {"csrf_token": csrf_of(page), "text": "Our grid."}
            form |= {f"f_{name}": value for name, value in scores.items()}
            done = client.post(f"/r/{token}", data=form, files=[("files", ("", b"", "x"))])
        assert done.status_code == 303
    elif channel == "reply":
        mail = next(m for m in _mails(ctx, rid) if CUSTOMS in m.to_addrs)
        body = "Our grid.\n" + "".join(f"{name}: {value}\n" for name, value in scores.items())
        send(request.getfixturevalue("receiver"), reply_to(mail, body, sender=CUSTOMS))
    else:
        fields = [arg for name, value in scores.items() for arg in ("--field", f"{name}={value}")]
        cli: Cli = request.getfixturevalue("cli")
        cli("answer", KEY, "--kind", "self_assessment", "--email", CUSTOMS, "--text", "Our grid.",
            *fields)  # fmt: skip
    answered = request_row(ctx, rid)
    assert answered.status == "answered" and answered.answered_via == channel
    assert answered.answer_fields == {name: int(value) for name, value in scores.items()}
    assert (answered.answer_text or "").startswith("Our grid.")
    [recorded] = events(ctx, "request.answered")
    assert recorded["after"]["fields"] == answered.answer_fields
    assert "fields_missing" not in recorded["after"]


def _mails(ctx: Context, request_id: int) -> list[Any]:
    from ibmflow.storage.tables import OutboxRow

    with ctx.db.reading() as session:
        rows = list(session.exec(select(OutboxRow).where(OutboxRow.request_id == request_id)))
        session.expunge_all()
        return with_text(ctx, rows)


# --- one check of files --------------------------------------------------------------------------


FILES = [
    ("notes.txt", b"Some notes"),
    ("Terms of reference.PDF", b"%PDF-1.7 terms"),
    ("run.exe", b"MZ"),
    ("empty.pdf", b""),
    ("no-extension", b"data"),
]


@sqlite_only
def test_the_console_takes_exactly_the_files_the_command_line_takes(
    ctx: Context, process: str, cli: Cli, tmp_path: Path, start: Callable[[Context], str]
) -> None:
    """`ibmflow attach` and the console's document form accept and refuse the same files, with
    the same sentence."""
    with _console(ctx, start, COORDINATOR, COORDINATOR_EMAIL) as client:
        csrf = csrf_of(client.get("/processes"))
        for name, content in FILES:
            path = tmp_path / name
            path.write_bytes(content)
            code, _, err = cli("attach", KEY, str(path), "--kind", "other", expect=None)
            page = client.post(
                f"/p/{KEY}/documents",
                data={"csrf_token": csrf, "kind": "other"},
                files=[("file", (name, content, "application/octet-stream"))],
            )
            accepted = "done=" in page.headers.get("location", "")
            assert (code == 0) == accepted, (name, code, page.status_code)
            if code != 0:
                assert code == 1
                page = refused_page(client, page)
                said = re.sub(r"\s+", " ", err.removeprefix("error: ")).strip()
                assert problem_of(page).strip().endswith(said.removesuffix(".") + "."), name
    with ctx.db.reading() as session:
        kept = sorted(d.filename for d in session.exec(select(DocumentRow)))
    assert kept == sorted(2 * ["notes.txt", "Terms of reference.PDF"])


# --- one check of a kind's fields ------------------------------------------------------------------


def test_a_kinds_fields_and_text_are_checked_by_one_rule() -> None:
    """What a kind's answer needs is declared with the kind: the ballot's choice and the reason an
    objection needs, the self-assessment's scores, the consultation's comments."""
    assert check_answer("vote", {"choice": "Approve"}, None) == ({"choice": "approve"}, None, [])
    _, _, problems = check_answer("vote", {}, "why")
    assert problems == ["Your vote: choose approve or object."]
    _, _, problems = check_answer("vote", {"choice": "object"}, "  ")
    assert len(problems) == 1 and problems[0].startswith("an objection needs a reason")
    assert "reason for your objection" in problems[0]
    _, _, problems = check_answer("self_assessment", {"procedures": "9"}, None)
    assert "Procedures: give a score from 1 to 5." in problems and len(problems) == 6
    _, _, problems = check_answer("consultation_comments", {}, "")
    assert problems == ['Your comments: please write them, or write "no comments".']


@sqlite_only
def test_a_score_out_of_range_is_named_alike_by_link_reply_and_command_line(
    ctx: Context, process: str, cli: Cli, receiver: Receiver, start: Callable[[Context], str]
) -> None:
    """The link's form refuses it, the reply goes to the quarantine with it, the command line (an
    answer received by other means, vouched for) records the answer and names it in the audit."""
    sentence = "Procedures: give a score from 1 to 5."
    scores = {item.name: "3" for item in KINDS["self_assessment"].fields} | {"procedures": "9"}
    ids = requests.send_requests(
        ctx, KEY, kind="self_assessment", actor=COORDINATOR_EMAIL, institutions=["MOF_CUSTOMS"]
    )
    token = links(ctx, ids[0])[CUSTOMS]
    with httpx.Client(base_url=start(ctx), timeout=30) as client:
        page = client.get(f"/r/{token}")
        form = {"csrf_token": csrf_of(page)} | {f"f_{k}": v for k, v in scores.items()}
        refused = client.post(f"/r/{token}", data=form, files=[("files", ("", b"", "x"))])
    assert refused.status_code == 400 and sentence in problem_of(refused)
    mail = next(m for m in _mails(ctx, ids[0]) if CUSTOMS in m.to_addrs)
    body = "".join(f"{k}: {v}\n" for k, v in scores.items())
    send(receiver, reply_to(mail, body, sender=CUSTOMS))
    [held] = inbound_rows(ctx)
    assert held.status == "quarantined" and sentence in (held.reason or "")
    fields = [arg for k, v in scores.items() for arg in ("--field", f"{k}={v}")]
    cli("answer", KEY, "--kind", "self_assessment", "--institution", "MOF_CUSTOMS", *fields)
    [recorded] = events(ctx, "request.answered")
    assert recorded["after"]["fields_missing"] == [sentence]
    assert "procedures" not in recorded["after"]["fields"]
