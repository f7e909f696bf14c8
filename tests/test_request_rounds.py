"""The requests a step opens reach everyone named during the step, and a coordinator can reopen an
answered request: driven through the `ibmflow` command line, as the README's walkthrough runs it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ibmflow.cli import run
from ibmflow.demo import demo_roster_text

Cli = Callable[..., tuple[int, str, str]]
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
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("IBMFLOW_SMTP_HOST", raising=False)
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str, expect: int | None = 0) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run(list(args))
        captured = capsys.readouterr()
        if expect is not None:
            assert code == expect, (
                f"ibmflow {' '.join(args)} -> {code}\n{captured.out}\n{captured.err}"
            )
        return code, captured.out, captured.err

    return invoke


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
