"""`ibmflow report` and `ibmflow digest` from the command line, on SQLite and PostgreSQL: the three
formats of the deadline report, the calendar and chart files, bad moments refused with a clear
message, and digests sent by hand on an audit chain that still verifies."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import deadline_scenario as sc
import icalendar
import pytest
import time_machine
from clirun import on_database

from ibmflow.cli import run
from ibmflow.services.context import Context
from ibmflow.testing import FixedClock

Cli = Callable[..., tuple[int, str, str]]
AT = "2026-01-20T11:00+01:00"  # = sc.AT


@pytest.fixture
def cli(
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> Cli:
    """Run `ibmflow ARGS...` in-process; return (exit code, stdout, stderr)."""
    on_database(env, tmp_path, monkeypatch)
    monkeypatch.setenv("COLUMNS", "200")  # Rich tables wide enough not to wrap the figures

    def invoke(*args: str, expect: int | None = 0) -> tuple[int, str, str]:
        capsysbinary.readouterr()
        code = run(list(args))
        captured = capsysbinary.readouterr()
        stdout, stderr = captured.out.decode(), captured.err.decode()
        if expect is not None:
            assert code == expect, f"ibmflow {' '.join(args)} -> {code}\n{stdout}\n{stderr}"
        return code, stdout, stderr

    return invoke


@pytest.fixture
def built(ctx: Context, clock: FixedClock, tmp_path: Path) -> sc.Built:
    return sc.build(ctx, clock, tmp_path)


def test_report_deadlines_as_a_table(cli: Cli, built: sc.Built) -> None:
    _, out, _ = cli("report", "deadlines", sc.KEY, "--at", AT)
    assert "Deadline report as of 2026-01-20 10:00 UTC" in out
    assert "Overdue (times in Africa/Casablanca" in out
    assert "Mon 29 Dec 2025 23:59" in out and "Mon 12 Jan 2026 23:59" in out
    assert f"#{built.ids[sc.CUSTOMS, 'C']} chapter draft" in out
    assert "Falling due within 10 working days (by Tue 03 Feb 2026" in out
    assert "Ministry of Health" in out
    assert "Responsiveness" in out
    customs = next(
        line for line in out.splitlines() if "Customs Directorate" in line and "%" in line
    )
    # Through a pipe (as here) the table is plain: each row on one line, cells two spaces apart.
    assert re.split(r"\s{2,}", customs.strip()) == [
        "Customs Directorate",
        "4",
        "2",
        "1 of 3",
        "33%",
        "4",
        "1",
        "1",
    ]


def test_report_deadlines_as_csv_and_json(cli: Cli, built: sc.Built) -> None:
    _, out, _ = cli("report", "deadlines", "--at", AT, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["kind"], r["status"], r["working_days_overdue"]) for r in rows] == [
        ("step", "overdue", "14"),
        ("request", "overdue", "5"),
        ("request", "upcoming", "0"),
        ("request", "upcoming", "0"),
    ]
    _, out, _ = cli("report", "deadlines", sc.KEY, "--at", AT, "--format", "json")
    data = json.loads(out)
    assert data["at"] == "2026-01-20T10:00:00Z"
    (process,) = data["processes"]
    assert process["figures"] == {
        "overdue_steps": 1,
        "overdue_requests": 1,
        "falling_due": 2,
        "open_requests": 4,
    }
    assert [r["median_days_late"] for r in process["responsiveness"]] == [4.0, 2.0, None]


def test_report_deadlines_reads_now_from_the_clock_without_at(cli: Cli, built: sc.Built) -> None:
    with time_machine.travel(sc.AT, tick=False):
        _, now, _ = cli("report", "deadlines", "--format", "json")
    _, at, _ = cli("report", "deadlines", "--format", "json", "--at", AT)
    assert json.loads(now) == json.loads(at)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("yesterday", "is not an ISO 8601 date and time"),
        ("2026-01-20T09:00", "has no time zone"),
        ("2026-13-01T09:00Z", "is not an ISO 8601 date and time"),
    ],
)
def test_a_bad_at_is_refused_with_exit_2_and_a_clear_message(
    cli: Cli, built: sc.Built, value: str, says: str
) -> None:
    _, out, err = cli("report", "deadlines", "--at", value, expect=2)
    assert "Invalid value for '--at'" in err and says in err
    assert "2026-01-20T09:00+01:00" in err  # the form expected
    assert out == ""


def test_a_bad_format_and_an_unknown_process_are_refused(cli: Cli, built: sc.Built) -> None:
    _, _, err = cli("report", "deadlines", "--format", "pdf", expect=2)
    assert "'pdf' is not one of" in err
    _, _, err = cli("report", "deadlines", "NOPE", expect=1)
    assert "no process 'NOPE'" in err and "ibmflow process list" in err


def test_report_ical_and_gantt_write_files(
    cli: Cli, built: sc.Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The events' UIDs are under the domain of ibmflow's own sender address."""
    monkeypatch.setenv("IBMFLOW_MAIL_FROM_ADDRESS", "ibmflow@interior.example")
    calendar_file, chart_file = tmp_path / "deadlines.ics", tmp_path / "plan.svg"
    _, out, _ = cli("report", "ical", sc.KEY, "--at", AT, "-o", str(calendar_file))
    assert f"wrote {calendar_file}" in out
    events = icalendar.Calendar.from_ical(calendar_file.read_bytes()).walk("VEVENT")
    assert len(events) == 5
    assert all(str(e["uid"]).endswith("@interior.example") for e in events)
    cli("report", "gantt", sc.KEY, "--at", AT, "-o", str(chart_file))
    root = ET.fromstring(chart_file.read_text(encoding="utf-8"))
    assert root.get("role") == "img"
    _, out, _ = cli("report", "gantt", sc.KEY, "--at", AT)
    assert out.startswith("<svg ")


def test_digest_send_by_hand_once_a_week_then_audit_verify(
    cli: Cli, built: sc.Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IBMFLOW_CLI_ACTOR", "cli:karim")  # the coordinator is on no roster here
    _, out, _ = cli("digest", "send", "--now", AT, "--json")
    assert sorted(d["to"] for d in json.loads(out)) == sorted(sc.MANAGERS)
    _, out, _ = cli("digest", "send", "--now", AT)
    assert "0 digest(s) written to the outbox (none due: already sent this week)." in out
    _, out, _ = cli("digest", "send", "--now", "2026-01-27T08:00Z", "--process", sc.KEY)
    assert out.count("MA-DL 2026-W05: digest to") == 2
    _, out, _ = cli("mail", "list", sc.KEY, "--json")
    assert sum(m["kind"] == "digest" for m in json.loads(out)) == 4
    _, out, _ = cli("audit", "log", sc.KEY, "--json")
    events = [e for e in json.loads(out) if e["action"] == "digest.sent"]
    assert [e["after"]["week"] for e in events] == ["2026-W04", "2026-W05"]
    assert {e["actor"] for e in events} == {"cli:karim"}  # who ran it
    _, out, _ = cli("audit", "verify")
    assert "audit chain intact" in out
    _, _, err = cli("digest", "send", "--now", "monday", expect=2)
    assert "Invalid value for '--now'" in err
