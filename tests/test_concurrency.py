"""Two coordinators advancing the same process at the same moment, from two OS processes: exactly one
succeeds, the other gets a clear conflict, and nothing partial is written (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

from ibmflow.bootstrap import bootstrap
from ibmflow.config import load_settings
from ibmflow.demo import demo_roster_text
from ibmflow.errors import ConcurrencyConflict
from ibmflow.roster import parse_roster
from ibmflow.services import audit_log, processes, records, roster
from ibmflow.services.context import Context

IBMFLOW = str(Path(sys.executable).parent / "ibmflow")


def _ready_to_advance_twice(ctx: Context, tmp_path: Path) -> None:
    """A process whose first two steps could both be completed: only the lock stops a double move."""
    processes.start_process(ctx, title="Race", key="RACE-1", actor="chair@interior.example")
    records.appoint_coordinator(
        ctx,
        "RACE-1",
        name="Karim Benali",
        email="karim@x.example",
        authority="Head of Government",
        reference="D-1",
        appointed_on=date(2026, 1, 5),
        actor="chair@interior.example",
    )
    path = tmp_path / "roster.toml"
    path.write_text(demo_roster_text(), encoding="utf-8")
    roster.import_roster(ctx, "RACE-1", path, actor="karim@x.example")
    for person in parse_roster(path, known_institutions=_known()).people:
        if "focal_point" in person.roles:
            records.record_answer(
                ctx, "RACE-1", kind="acknowledge_contact", email=person.email, actor=person.email
            )


def _known() -> dict[str, Any]:
    return {
        "CHAIR": "permanent",
        "MFA_VISA": "permanent",
        "MOI_BORDER_GUARD": "permanent",
        "MOF_CUSTOMS": "permanent",
        "MOA_VETERINARY": "permanent",
        "MOA_PHYTOSANITARY": "permanent",
        "MOH": "associated",
    }


def _coordinator(env: dict[str, str], barrier: Any, results: Any, name: str) -> None:
    """One coordinator: read the process, wait for the other, then advance what they saw."""
    ctx = bootstrap(load_settings(environ=env))
    seen = processes.read_version(ctx, "RACE-1")
    barrier.wait(timeout=30)
    try:
        moved = processes.fire(ctx, "RACE-1", "complete", actor=name, expected_version=seen)
        results.put((name, "moved", moved.outcome.after))
    except ConcurrencyConflict as exc:
        results.put((name, "conflict", str(exc)))
    except Exception as exc:  # reported to the test, which fails on it
        results.put((name, "error", repr(exc)))
    finally:
        ctx.db.dispose()


def test_two_os_processes_advance_at_once_exactly_one_wins(
    ctx: Context, env: dict[str, str], tmp_path: Path
) -> None:
    _ready_to_advance_twice(ctx, tmp_path)
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(2), spawn.Queue()
    workers = [
        spawn.Process(target=_coordinator, args=(env, barrier, results, f"coord{i}@x.example"))
        for i in (1, 2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    outcomes = sorted(results.get(timeout=5)[1:] for _ in workers)
    assert [o[0] for o in outcomes] == ["conflict", "moved"], outcomes
    assert outcomes[1][1] == "stakeholder_identification"
    assert "changed since you read it" in outcomes[0][1] and "try again" in outcomes[0][1]

    status = processes.status(ctx, "RACE-1")
    assert (status.state, status.version) == ("stakeholder_identification", 2)
    log = audit_log.process_log(ctx, "RACE-1")
    assert [e["action"] for e in log].count("step.completed") == 1
    assert audit_log.verify_chain(ctx).ok


def test_two_cli_advances_with_the_same_expected_version(
    ctx: Context, env: dict[str, str], tmp_path: Path
) -> None:
    """`ibmflow advance --expect-version N` twice at once: one moves, the other exits 3."""
    _ready_to_advance_twice(ctx, tmp_path)
    environ = {**os.environ, **env}
    procs = [
        subprocess.Popen(
            [IBMFLOW, "advance", "RACE-1", "--expect-version", "1", "--json"],
            env=environ,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    finished = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in finished)
    assert codes == [0, 3], finished
    winner = next(out for code, out, _ in finished if code == 0)
    loser = next(err for code, _, err in finished if code == 3)
    assert json.loads(winner)["to"] == "stakeholder_identification"
    assert loser.startswith("conflict: process RACE-1 changed since you read it")
    assert processes.status(ctx, "RACE-1").version == 2
    assert audit_log.verify_chain(ctx).ok
