"""The requests a step opens reach everyone named during the step, and a coordinator can reopen an
answered request: driven through the `ibmflow` command line, as the README's walkthrough runs it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from clirun import Cli, invoker, on_database

from ibmflow.demo import VOTERS, demo_roster_text
from ibmflow.storage import migrate
from ibmflow.storage.db import Database

KEY = "MA-1"
COORDINATOR = "coordinator@interior.example"


@pytest.fixture
def cli(
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    """Run `ibmflow ARGS...` in-process; return (exit code, stdout, stderr)."""
    on_database(env, tmp_path, monkeypatch)
    monkeypatch.delenv("IBMFLOW_SMTP_HOST", raising=False)
    return invoker(capsys)


def _json(cli: Cli, *args: str) -> Any:
    return json.loads(cli(*args, "--json")[1])


def _walkthrough_to_step_2(cli: Cli, tmp_path: Path) -> Path:
    """The README's walkthrough: start, appoint, advance; the roster file written, not imported."""
    cli("init")
    cli("process", "start", "--title", "Morocco national IBM strategy", "--key", KEY)
    cli(
        "appoint",
        KEY,
        "--name",
        "Karim Benali",
        "--email",
        COORDINATOR,
        "--authority",
        "Head of Government",
        "--reference",
        "Decree 2.26.101",
        "--on",
        "2026-01-05",
    )
    cli("advance", KEY)
    # As the README's walkthrough does: once appointed, the coordinator acts (`export
    # IBMFLOW_CLI_ACTOR=...`); the cli fixture's monkeypatch restores the variable afterwards.
    os.environ["IBMFLOW_CLI_ACTOR"] = COORDINATOR
    roster = tmp_path / "roster.toml"
    roster.write_text(demo_roster_text(), encoding="utf-8")
    return roster


def _acks(cli: Cli) -> list[dict[str, Any]]:
    return [r for r in _json(cli, "request", "list", KEY) if r["kind"] == "acknowledge_contact"]


def _request_mails(cli: Cli) -> list[dict[str, Any]]:
    return [m for m in _json(cli, "mail", "list", KEY) if m["kind"] == "request"]


def test_a_roster_imported_during_step_2_sends_the_acknowledgement_requests(
    cli: Cli, tmp_path: Path
) -> None:
    """Following the walkthrough's order, the import sends each permanent institution's focal point
    the acknowledgement request (audited, mailed through the outbox); importing again sends none."""
    roster = _walkthrough_to_step_2(cli, tmp_path)
    assert _acks(cli) == []
    _, out, _ = cli("roster", "import", KEY, str(roster))
    assert "requests sent: 7" in out
    acks = _acks(cli)
    focal = {
        p["email"]
        for p in _json(cli, "roster", "show", KEY)["people"]
        if "focal_point" in p["roles"] and p["institution"] != "MOH"
    }
    assert {r["focal_point"] for r in acks} == focal and len(acks) == 7
    assert all(r["status"] == "sent" and r["due_at"] for r in acks)
    mails = _request_mails(cli)
    assert sorted(a for m in mails for a in m["to"]) == sorted(focal)
    sent = [e for e in _json(cli, "audit", "log", KEY) if e["action"] == "request.sent"]
    assert len(sent) == 7 and {e["actor"] for e in sent} == {COORDINATOR}

    _, out, _ = cli("roster", "import", KEY, str(roster))
    assert "requests sent: 0" in out
    assert len(_acks(cli)) == 7 and len(_request_mails(cli)) == 7


def test_a_focal_point_added_during_step_2_gets_the_request_too(cli: Cli, tmp_path: Path) -> None:
    """`person add` of a focal point during the step sends them the step's request, once."""
    roster = _walkthrough_to_step_2(cli, tmp_path)
    cli("roster", "import", KEY, str(roster))
    cli(
        "person",
        "add",
        KEY,
        "--name",
        "Sara Idrissi",
        "--email",
        "second@visa.example",
        "--institution",
        "MFA_VISA",
        "--role",
        "focal_point",
    )
    mine = [r for r in _acks(cli) if r["focal_point"] == "second@visa.example"]
    assert len(mine) == 1 and mine[0]["institution"] == "MFA_VISA"
    assert any("second@visa.example" in m["to"] for m in _request_mails(cli))


# --- reopening an answered request ----------------------------------------------------------------

CUSTOMS_FOCAL = "focal@customs.example"


def _request(cli: Cli, rid: int) -> dict[str, Any]:
    return next(r for r in _json(cli, "request", "list", KEY) if r["id"] == rid)


def _acknowledged(cli: Cli, tmp_path: Path) -> int:
    """Step 2 with the roster imported and the Customs focal point's acknowledgement recorded."""
    cli("roster", "import", KEY, str(_walkthrough_to_step_2(cli, tmp_path)))
    cli("ack", KEY, "--email", CUSTOMS_FOCAL)
    [ack] = [r for r in _acks(cli) if r["focal_point"] == CUSTOMS_FOCAL]
    assert ack["status"] == "answered"
    return int(ack["id"])


def test_reopening_an_answered_request_keeps_the_answer_and_mails_a_fresh_link(
    cli: Cli, tmp_path: Path
) -> None:
    """The answer stays on the record (earlier answers, the audit chain); the request is open again
    with its due date kept (still ahead); the focal point gets a fresh link, threaded under the
    request's mail; the new answer is recorded beside the earlier one."""
    rid = _acknowledged(cli, tmp_path)
    before = _request(cli, rid)
    _, out, _ = cli(
        "request", "reopen", KEY, str(rid), "--reason", "confirmed by the wrong office", "--json"
    )
    reopened = json.loads(out)
    assert reopened["request"] == rid and reopened["due_kept"] is True
    assert reopened["to"] == [CUSTOMS_FOCAL]

    now = _request(cli, rid)
    assert now["status"] == "sent" and now["answered_at"] is None
    assert now["due_at"] == before["due_at"]
    [earlier] = now["earlier_answers"]
    assert earlier["answered_at"] == before["answered_at"]
    assert earlier["answered_via"] == "cli" and earlier["reason"] == "confirmed by the wrong office"

    [event] = [e for e in _json(cli, "audit", "log", KEY) if e["action"] == "request.reopened"]
    assert event["reason"] == "confirmed by the wrong office"
    assert event["before"]["answered_at"] == before["answered_at"]

    mails = _json(cli, "mail", "list", KEY)
    [first] = [m for m in mails if m["kind"] == "request" and m["request_id"] == rid]
    [again] = [m for m in mails if m["kind"] == "request_reopened"]
    assert again["to"] == [CUSTOMS_FOCAL] and again["in_reply_to"] == first["message_id"]
    _, text, _ = cli("mail", "show", str(again["id"]))
    assert "/r/" in text and "confirmed by the wrong office" in text

    cli("ack", KEY, "--email", CUSTOMS_FOCAL)
    final = _request(cli, rid)
    assert final["status"] == "answered" and len(final["earlier_answers"]) == 1
    _, table, _ = cli("request", "list", KEY)
    assert "answered" in table


def test_reopen_is_refused_without_a_reason_or_for_a_request_not_answered(
    cli: Cli, tmp_path: Path
) -> None:
    rid = _acknowledged(cli, tmp_path)
    _, _, err = cli("request", "reopen", KEY, str(rid), "--reason", "  ", expect=1)
    assert "a reason is required to reopen request" in err
    pending = next(r for r in _acks(cli) if r["status"] == "sent")
    _, _, err = cli("request", "reopen", KEY, str(pending["id"]), "--reason", "why", expect=1)
    assert f"request #{pending['id']} is sent, not answered" in err
    _, _, err = cli("request", "reopen", KEY, "999", "--reason", "why", expect=1)
    assert "no request #999" in err
    assert _request(cli, rid)["status"] == "answered"


def test_a_vote_is_reopened_while_the_decision_is_open_not_once_it_is_closed(
    cli: Cli, tmp_path: Path
) -> None:
    """Reopening an approval on an open decision takes the vote out of the tally (kept among the
    earlier answers) and asks the member again; a closed decision's votes cannot be reopened."""
    cli("roster", "import", KEY, str(_walkthrough_to_step_2(cli, tmp_path)))
    decision = _json(cli, "decision", "open", KEY, "--subject", "terms_of_reference")["decision"]
    vote = "vote", KEY, str(decision), "--institution", "MOF_CUSTOMS", "--voter", CUSTOMS_FOCAL
    cli(*vote, "--approve")
    [request] = [
        r
        for r in _json(cli, "request", "list", KEY)
        if r["kind"] == "vote" and r["institution"] == "MOF_CUSTOMS"
    ]
    cli("request", "reopen", KEY, str(request["id"]), "--reason", "voted before reading the annex")
    [listed] = _json(cli, "decision", "list", KEY)
    assert "Customs Directorate: no vote yet" in listed["votes"]
    assert _request(cli, request["id"])["earlier_answers"][0]["fields"] == {"approve": True}

    for code, voter in VOTERS.items():
        cli("vote", KEY, str(decision), "--institution", code, "--voter", voter, "--approve")
    assert _json(cli, "decision", "list", KEY)[0]["outcome"] == "adopted"
    _, _, err = cli("request", "reopen", KEY, str(request["id"]), "--reason", "again", expect=1)
    assert f"decision #{decision}, which is already adopted" in err


def test_init_upgrades_a_database_of_the_previous_schema_for_reopening(
    cli: Cli, tmp_path: Path, env: dict[str, str]
) -> None:
    """A database at revision 0004 (before the earlier answers were kept) is refused with exit 4
    until `ibmflow init` upgrades it; its requests can then be reopened."""
    rid = _acknowledged(cli, tmp_path)
    cli("mail", "dispatch", "--once")  # an older schema holds only rendered mails: send them first
    db = Database(env["IBMFLOW_DATABASE_URL"])
    try:
        config = migrate._config()
        with db.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0004")
    finally:
        db.dispose()
    _, _, err = cli("request", "list", KEY, expect=4)
    assert "ibmflow init" in err
    cli("init")
    cli("request", "reopen", KEY, str(rid), "--reason", "wrong office")
    assert _request(cli, rid)["earlier_answers"][0]["reason"] == "wrong office"


def test_a_deputy_added_without_a_role_acknowledges_but_may_not_vote(
    cli: Cli, tmp_path: Path
) -> None:
    """`person add --deputy-for` needs no --role; `ack --email DEPUTY` answers the request of the
    focal point deputised; `vote --voter DEPUTY` is refused with the rule."""
    cli("roster", "import", KEY, str(_walkthrough_to_step_2(cli, tmp_path)))
    deputy = "assistant@customs.example"
    _, out, _ = cli(
        "person",
        "add",
        KEY,
        "--name",
        "Salma Bennis",
        "--email",
        deputy,
        "--institution",
        "MOF_CUSTOMS",
        "--deputy-for",
        CUSTOMS_FOCAL,
    )
    assert f"{deputy}: deputy" in out and "requests" not in out
    cli("ack", KEY, "--email", deputy)
    [ack] = [r for r in _acks(cli) if r["focal_point"] == CUSTOMS_FOCAL]
    assert (ack["status"], ack["answered_by"]) == ("answered", COORDINATOR)
    decision = _json(cli, "decision", "open", KEY, "--subject", "terms_of_reference")["decision"]
    _, _, err = cli(
        "vote",
        KEY,
        str(decision),
        "--institution",
        "MOF_CUSTOMS",
        "--voter",
        deputy,
        "--approve",
        expect=1,
    )
    assert "is a deputy of Rachid Alaoui: deputies answer requests but do not vote" in err
