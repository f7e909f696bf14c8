"""What the command line prints: `--json` on every command that reads, `--at` hints that can be
pasted back, `mail preview --html` alone, and tables that stay readable through a pipe."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from clirun import Cli, invoker, leaf_commands, on_database, option_names
from scenarios import at_stakeholder_identification

from ibmflow.demo import COORDINATOR
from ibmflow.services import accounts, requests
from ibmflow.services.context import Context

KEY = "CLI-OUT"
REPO = Path(__file__).resolve().parent.parent
# Every command that reads, with the arguments to run it on the `populated` database.
READS: dict[str, tuple[str, ...]] = {
    "status": (KEY,),
    "process list": (),
    "roster show": (KEY,),
    "request list": (KEY,),
    "decision list": (KEY,),
    "mail list": (),
    "mail show": ("1",),
    "mail received": (KEY,),
    "mail preview": ("request",),
    "quarantine list": (),
    "audit log": (KEY,),
    "audit verify": (),
    "report deadlines": (KEY,),
    "user list": (),
    "validate": (),
}
# Commands that neither read into a table nor act as a person: documents, servers and jobs.
DOCUMENTS_AND_JOBS = {
    *("graph", "report gantt", "report ical"),  # Mermaid, SVG, iCalendar
    *("export answers", "export requests"),  # CSV, XLSX
    *("serve", "inbound", "inbound poll", "worker", "mail dispatch", "chase", "init", "demo"),
}


@pytest.fixture
def cli(
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    on_database(env, tmp_path, monkeypatch)
    return invoker(capsys)


@pytest.fixture
def populated(ctx: Context, tmp_path: Path) -> str:
    """A process with the demo roster, acknowledgement requests sent (mails in the outbox), and
    a console account."""
    at_stakeholder_identification(ctx, KEY, tmp_path, starter=COORDINATOR)
    requests.send_requests(ctx, KEY, kind="acknowledge_contact", actor=COORDINATOR)
    accounts.add_user(
        ctx,
        email="chair@interior.example",
        name="Youssef Amrani",
        role="chair",
        password="a long enough password 2026",
        processes=[KEY],
        actor=COORDINATOR,
    )
    return KEY


def test_every_command_that_reads_has_json_and_prints_valid_json(cli: Cli, populated: str) -> None:
    commands = dict(leaf_commands())
    unclassified = {
        path
        for path, cmd in commands.items()
        if path not in READS and path not in DOCUMENTS_AND_JOBS and "--as" not in option_names(cmd)
    }
    assert unclassified == set(), "a command that reads belongs in READS (with --json)"
    for path, args in READS.items():
        assert "--json" in option_names(commands[path]), path
        _, out, _ = cli(*path.split(), *args, "--json")
        json.loads(out)  # valid JSON and nothing else on stdout


def test_report_deadlines_json_is_format_json(cli: Cli, populated: str) -> None:
    at = ("--at", "2026-01-20T09:00Z")
    _, short, _ = cli("report", "deadlines", KEY, *at, "--json")
    _, long, _ = cli("report", "deadlines", KEY, *at, "--format", "json")
    assert json.loads(short) == json.loads(long)
    _, _, err = cli("report", "deadlines", KEY, "--json", "--format", "csv", expect=2)
    assert "--json" in err and "--format" in err


def _proposals(err: str) -> list[str]:
    return re.findall(r"\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:\d\d)", err)


@pytest.mark.parametrize(
    "value", ["2026-01-20T09:00", "2026-01-20", "2026-01-20T09", "2026-01-20 09:30:15"]
)
def test_the_at_hint_proposes_moments_the_command_accepts(
    cli: Cli, populated: str, value: str
) -> None:
    _, out, err = cli("report", "deadlines", KEY, "--at", value, expect=2)
    assert "has no time zone" in err and out == ""
    proposed = _proposals(" ".join(err.replace("│", " ").split()))
    assert len(proposed) == 2, err
    for moment in proposed:
        cli("report", "deadlines", KEY, "--at", moment)


def test_mail_preview_html_prints_only_the_html(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IBMFLOW_PATHS_NOTIFICATIONS_DIR", str(REPO / "notifications"))
    monkeypatch.setenv("IBMFLOW_PATHS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    _, html, _ = invoker(capsys)("mail", "preview", "request", "--html")
    assert html.lstrip().lower().startswith("<!doctype html>"), html[:80]
    assert html.rstrip().endswith("</html>")


def _piped(env: dict[str, str], cwd: Path, *args: str) -> str:
    """`ibmflow ARGS | cat` at 80 columns: stdout is a pipe, not a terminal."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from ibmflow.cli import run; sys.exit(run())", *args],
        env={**os.environ, **env, "COLUMNS": "80", "TERM": "xterm-256color"},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _line_with(text: str, *values: str) -> str:
    lines = [line for line in text.splitlines() if all(v in line for v in values)]
    assert lines, f"no line holds all of {values}:\n{text}"
    return lines[0]


def test_tables_piped_at_80_columns_keep_each_row_on_one_line(
    ctx: Context, populated: str, env: dict[str, str], tmp_path: Path
) -> None:
    roster = json.loads(_piped(env, tmp_path, "roster", "show", KEY, "--json"))
    shown = _piped(env, tmp_path, "roster", "show", KEY)
    for institution in roster["institutions"]:
        _line_with(shown, institution["code"], institution["name"], *institution["focal_points"])
    for person in roster["people"]:
        _line_with(shown, person["name"], person["email"], *person["roles"])
    listed = _piped(env, tmp_path, "request", "list", KEY)
    for request in json.loads(_piped(env, tmp_path, "request", "list", KEY, "--json")):
        _line_with(listed, str(request["id"]), request["kind"], request["institution"])
    outbox = _piped(env, tmp_path, "mail", "list")
    for mail in json.loads(_piped(env, tmp_path, "mail", "list", "--json")):
        _line_with(outbox, str(mail["id"]), *mail["to"], mail["subject"])
    log = _piped(env, tmp_path, "audit", "log", KEY)
    for event in json.loads(_piped(env, tmp_path, "audit", "log", KEY, "--json")):
        _line_with(log, str(event["seq"]), event["actor"], event["action"], event["entity"])
    accounts_ = _piped(env, tmp_path, "user", "list")
    _line_with(accounts_, "chair@interior.example", "Youssef Amrani", "chair", KEY)
    status = _piped(env, tmp_path, "status", KEY)
    _line_with(status, "stakeholder_identification", "NOW")
    for text in (shown, listed, outbox, log, accounts_, status):
        assert "…" not in text and "┃" not in text and "│" not in text
