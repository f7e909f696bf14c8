"""`ibmflow chase` from the command line: a dry run at a moment lists exactly what a real sweep at
that moment sends; a real sweep runs now only (never dated in the future); the moment is printed in
UTC whatever zone it was written in."""

from __future__ import annotations

import json
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlmodel import col, select
from test_chase import _morocco, _rungs, live, local  # noqa: F401  (live is a fixture)

from ibmflow.cli import run
from ibmflow.services.context import Context
from ibmflow.storage.tables import OutboxRow

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def cli(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`run([...])` works on the test's database."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(REPO)


def _listed(report: dict[str, Any]) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """What a sweep report says it did, a dry run's "would send" read as "sent"."""
    return sorted(
        (
            r["key"],
            r["due_on"],
            "sent" if r["outcome"] == "would send" else r["outcome"],
            tuple(r["to"]),
        )
        for r in report["rungs"]
    )


def test_a_dry_run_lists_exactly_what_a_sweep_at_that_moment_sends(
    live: Context,  # noqa: F811
    tmp_path: Path,
    cli: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Nobody swept from the sending on 15 December until Wednesday 20 January: every rung of the
    ladder, and the overdue rungs that follow them, have come due at once."""
    _morocco(live, tmp_path)
    moment = local(date(2027, 1, 20), time(10))
    capsys.readouterr()
    assert run(["chase", "--dry-run", "--now", moment.isoformat(), "--json"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["dry_run"] is True and dry["rungs"]
    assert all(r.status == "pending" for r in _rungs(live).values())
    with time_machine.travel(moment, tick=False):
        assert run(["chase", "--json"]) == 0
    real = json.loads(capsys.readouterr().out)
    assert real["dry_run"] is False
    assert _listed(dry) == _listed(real)
    with time_machine.travel(moment, tick=False):  # and nothing is left for a second sweep
        assert run(["chase", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rungs"] == []


def test_a_real_sweep_at_another_moment_than_now_is_refused(
    live: Context,  # noqa: F811
    tmp_path: Path,
    cli: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`chase --now` in the future would date reminders, audit events and mails months ahead;
    `--now` is for `--dry-run` only, and nothing is written."""
    _morocco(live, tmp_path)
    capsys.readouterr()
    assert run(["chase", "--now", "2027-03-01T09:00Z"]) == 2
    err = capsys.readouterr().err
    assert "--now" in err and "--dry-run" in err
    assert all(r.status == "pending" for r in _rungs(live).values())
    with live.db.reading() as session:
        assert not session.exec(
            select(OutboxRow).where(col(OutboxRow.dedupe_key).is_not(None))
        ).all()


def test_the_moment_is_printed_in_utc_whatever_zone_it_was_written_in(
    live: Context,  # noqa: F811
    cli: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["chase", "--dry-run", "--now", "2026-11-30T09:00+01:00"]) == 0
    out = capsys.readouterr().out
    assert "2026-11-30 08:00 UTC" in out and "09:00" not in out
    assert run(["chase", "--dry-run", "--now", "2026-11-30T09:00+01:00", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["at"] == "2026-11-30T08:00:00Z"
