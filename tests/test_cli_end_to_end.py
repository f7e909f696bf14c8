"""End to end through the command line: a process from `process start` to `adopted`, on SQLite and
on PostgreSQL, every refusal explained, every change on an intact audit chain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from clirun import Cli, invoker, on_database
from factories import definition

from ibmflow.demo import VOTERS, demo_roster_text

INVOLVED = [*VOTERS, "MOH"]


@pytest.fixture
def cli(
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    """Run `ibmflow ARGS...` in-process; return (exit code, stdout, stderr)."""
    on_database(env, tmp_path, monkeypatch)
    return invoker(capsys)


def _status(cli: Cli, key: str) -> dict[str, Any]:
    return json.loads(cli("status", key, "--json")[1])  # type: ignore[no-any-return]


def _advance(cli: Cli, key: str, to: str) -> None:
    _, out, _ = cli("advance", key, "--json")
    assert json.loads(out)["to"] == to


def _refused(cli: Cli, key: str, *sentences: str) -> None:
    before = _status(cli, key)
    _, _, err = cli("advance", key, expect=1)
    for sentence in sentences:
        assert sentence in err
    after = _status(cli, key)
    assert (after["state"], after["version"]) == (before["state"], before["version"])


def _unanimous(cli: Cli, key: str, subject: str) -> int:
    _, out, _ = cli("decision", "open", key, "--subject", subject, "--json")
    decision = json.loads(out)["decision"]
    for code, member in VOTERS.items():
        cli("vote", key, str(decision), "--institution", code, "--voter", member, "--approve")
    return int(decision)


def _doc(tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    path.write_text(f"content of {name}\n", encoding="utf-8")
    return str(path)


def test_a_process_goes_from_start_to_adopted_through_the_cli(cli: Cli, tmp_path: Path) -> None:
    """Every step refuses to complete until its guards hold, then completes; the chain verifies."""
    cli("init")
    _, out, _ = cli(
        "process", "start", "--title", "Morocco national IBM strategy", "--key", "MA-1", "--json"
    )
    assert json.loads(out) == {"process": "MA-1", "state": "coordinator_appointment", "version": 1}
    status = _status(cli, "MA-1")
    assert [s["id"] for s in status["steps"]] == [s.id for s in definition().states]
    assert {"id", "title", "entered_at", "completed_at", "target_days"} <= set(status["steps"][0])

    # 1. coordinator
    _refused(cli, "MA-1", "No national coordinator is recorded yet")
    cli(
        "appoint",
        "MA-1",
        "--name",
        "Karim Benali",
        "--email",
        "coordinator@interior.example",
        "--authority",
        "Head of Government",
        "--reference",
        "Decree 2.26.101",
        "--on",
        "2026-01-05",
    )
    _advance(cli, "MA-1", "stakeholder_identification")

    # 2. stakeholders: focal points named and acknowledged
    _refused(cli, "MA-1", "6 of 6 permanent institutions have no focal point: Chair, Visa regimes")
    roster = tmp_path / "roster.toml"
    roster.write_text(demo_roster_text(), encoding="utf-8")
    cli("roster", "import", "MA-1", str(roster))
    _refused(cli, "MA-1", "7 of 7 focal points have not acknowledged the contact request")
    focal = [
        p
        for p in json.loads(cli("roster", "show", "MA-1", "--json")[1])["people"]
        if "focal_point" in p["roles"]
    ]
    for person in focal:
        cli("ack", "MA-1", "--email", person["email"])
    _advance(cli, "MA-1", "coordinating_bodies")

    # 3. coordinating bodies: task force, ToR, unanimous decision with a representative
    _refused(
        cli,
        "MA-1",
        "The implementing body has 0 task forces",
        "No Terms of Reference is attached yet.",
    )
    cli("taskforce", "add", "MA-1", "Situation analysis", "--lead", "MOI_BORDER_GUARD")
    cli("attach", "MA-1", _doc(tmp_path, "tor.pdf"), "--kind", "terms_of_reference")
    _, out, _ = cli("decision", "open", "MA-1", "--subject", "terms_of_reference", "--json")
    tor = json.loads(out)["decision"]
    cli(
        "nominate",
        "MA-1",
        "--member",
        "member@borderguard.example",
        "--representative",
        "focal@borderguard.example",
        "--decision",
        str(tor),
    )
    for code, member in VOTERS.items():
        voter = "focal@borderguard.example" if code == "MOI_BORDER_GUARD" else member
        if code == "MOA_PHYTOSANITARY":
            _refused(cli, "MA-1", "awaits 1 of 6 permanent institutions: Phytosanitary Inspection")
        cli("vote", "MA-1", str(tor), "--institution", code, "--voter", voter, "--approve")
    decisions = json.loads(cli("decision", "list", "MA-1", "--json")[1])
    assert decisions[0]["outcome"] == "adopted"
    assert (
        "Hicham Tazi voted for institution Border Guard, representing member Nadia Berrada: "
        "approved"
    ) in decisions[0]["votes"]
    _advance(cli, "MA-1", "objectives")

    # 4. objectives: an objection rejects the motion; a revised motion passes
    cli("attach", "MA-1", _doc(tmp_path, "objectives.docx"), "--kind", "objectives")
    _, out, _ = cli("decision", "open", "MA-1", "--subject", "objectives", "--json")
    first = json.loads(out)["decision"]
    _, _, err = cli(
        "vote",
        "MA-1",
        str(first),
        "--institution",
        "MOF_CUSTOMS",
        "--voter",
        "focal@customs.example",
        "--object",
        expect=1,
    )
    assert "an objection needs a reason" in err
    cli(
        "vote",
        "MA-1",
        str(first),
        "--institution",
        "MOF_CUSTOMS",
        "--voter",
        "focal@customs.example",
        "--object",
        "--reason",
        "trade facilitation missing",
    )
    _refused(cli, "MA-1", "was rejected (Customs Directorate: trade facilitation missing)")
    _unanimous(cli, "MA-1", "objectives")
    _advance(cli, "MA-1", "situation_analysis")

    # 5. situation analysis: every involved institution answers both requests
    _refused(
        cli, "MA-1", "7 of 7 involved institutions have not answered the self-assessment request"
    )
    for inst in INVOLVED:
        cli(
            "answer",
            "MA-1",
            "--kind",
            "self_assessment",
            "--institution",
            inst,
            "--field",
            "score=3",
            "--text",
            "grid attached",
        )
        cli(
            "answer",
            "MA-1",
            "--kind",
            "activity_inventory",
            "--institution",
            inst,
            "--file",
            _doc(tmp_path, f"inventory-{inst}.xlsx"),
        )
    cli("attach", "MA-1", _doc(tmp_path, "report.pdf"), "--kind", "consolidated_report")
    _unanimous(cli, "MA-1", "consolidated_report")
    _advance(cli, "MA-1", "chapter_drafting")

    # 6. chapters
    _refused(cli, "MA-1", "No strategy chapters are defined yet")
    cli("chapter", "add", "MA-1", "Border checks", "--lead", "MOI_BORDER_GUARD")
    cli("chapter", "add", "MA-1", "Customs")
    _refused(
        cli,
        "MA-1",
        "1 of 2 chapters has no lead: Customs.",
        "2 of 2 chapters have no submitted draft: Border checks, Customs.",
    )
    cli("chapter", "submit", "MA-1", "Border checks", _doc(tmp_path, "ch1.docx"))
    cli("chapter", "add", "MA-1", "Customs", expect=1)
    _, _, err = cli("consultation", "close", "MA-1", "--reason", "too early", expect=1)
    assert "belongs to step consultation" in err
    _refused(cli, "MA-1", "1 of 2 chapters has no lead: Customs.")

    # A return to an earlier step needs a reason and re-enters it; the process then comes back.
    cli("return", "MA-1", "objectives", "--reason", "", expect=1)
    cli("return", "MA-1", "objectives", "--reason", "objectives must mention trade")
    assert _status(cli, "MA-1")["state"] == "objectives"
    _advance(cli, "MA-1", "situation_analysis")
    _advance(cli, "MA-1", "chapter_drafting")
    cli("suspend", "MA-1", "--reason", "elections")
    assert _status(cli, "MA-1")["state"] == "suspended"
    cli("advance", "MA-1", expect=1)
    cli("resume", "MA-1", "--reason", "new government in place")
    assert _status(cli, "MA-1")["state"] == "chapter_drafting"

    # Chapters: the lead-less one gets its lead and both get drafts; then 7 to 9.
    cli("chapter", "lead", "MA-1", "Customs", "--lead", "MOF_CUSTOMS")
    _refused(cli, "MA-1", "1 of 2 chapters has no submitted draft: Customs.")
    cli("chapter", "submit", "MA-1", "Customs", _doc(tmp_path, "ch2.docx"))
    cli("attach", "MA-1", _doc(tmp_path, "draft.pdf"), "--kind", "assembled_draft")
    _advance(cli, "MA-1", "consultation")

    # 7. consultation: every institution answers (closing early is refused)
    _refused(cli, "MA-1", "7 of 7 institutions have not answered the consultation comments request")
    _, _, err = cli("consultation", "close", "MA-1", "--reason", "enough", expect=1)
    assert "has not passed" in err
    for inst in INVOLVED:
        cli(
            "answer",
            "MA-1",
            "--kind",
            "consultation_comments",
            "--institution",
            inst,
            "--text",
            "No comments",
        )
    _advance(cli, "MA-1", "final_preparation")

    # 8. final document and the decision to submit it
    _refused(cli, "MA-1", "No final strategy document is attached yet.")
    cli("attach", "MA-1", _doc(tmp_path, "final.pdf"), "--kind", "final_document")
    _unanimous(cli, "MA-1", "submission_for_adoption")
    _advance(cli, "MA-1", "adoption")

    # 9. adoption
    _refused(cli, "MA-1", "The adoption of the strategy is not recorded yet")
    cli(
        "adopt",
        "MA-1",
        "--authority",
        "Council of Government",
        "--reference",
        "Decision 12/2026",
        "--on",
        "2026-11-20",
    )
    _advance(cli, "MA-1", "adopted")
    cli("advance", "MA-1", expect=1)

    final = _status(cli, "MA-1")
    assert final["state"] == "adopted"
    assert final["blockers"] == []
    assert all(s["completed_at"] for s in final["steps"][:9])

    _, out, _ = cli("audit", "verify")
    assert "audit chain intact" in out
    log = json.loads(cli("audit", "log", "MA-1", "--json")[1])
    actions = [e["action"] for e in log]
    assert actions.count("step.completed") == 9 + 2  # two steps completed twice after the return
    assert {
        "step.returned",
        "process.suspended",
        "process.resumed",
        "process.finished",
        "decision.rejected",
        "representative.nominated",
    } <= set(actions)
    rep_vote = next(e for e in log if e["action"] == "vote.cast" and e["on_behalf_of"])
    assert (rep_vote["on_behalf_of"], rep_vote["after"]["voter"]) == (
        "member@borderguard.example",
        "focal@borderguard.example",
    )
    assert all(e["actor"] for e in log)
    _, out, _ = cli("graph", "MA-1")
    assert "stateDiagram-v2" in out
