"""The benchmarks' fair floor (bench/capture.py): what ibmflow executed, captured on a real SQLite
file and replayed with the bare sqlite3 driver on a copy taken before, writes the same rows."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ibmflow import demo
from ibmflow.bootstrap import bootstrap
from ibmflow.config import load_settings
from ibmflow.services import processes, roster
from ibmflow.services.context import Context
from ibmflow.storage import migrate
from ibmflow.testing import FixedClock

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from capture import (  # noqa: E402  (bench/ is not a package)
    Capture,
    replay_sqlite,
    sqlite_copy,
    sqlite_differences,
)

KEY, WHO = "MA-CAPTURE", demo.COORDINATOR


@pytest.fixture
def sqlite_ctx(tmp_path: Path) -> Iterator[Context]:
    """ibmflow on a migrated SQLite file (this helper replays SQLite files only)."""
    env = {
        "IBMFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'ibmflow.db'}",
        "IBMFLOW_PATHS_DATA_DIR": str(tmp_path / "data"),
        "IBMFLOW_PATHS_WORKFLOWS_DIR": str(REPO / "workflows"),
        "IBMFLOW_PATHS_NOTIFICATIONS_DIR": str(REPO / "notifications"),
    }
    context = bootstrap(
        load_settings(config_path=REPO / "config.toml", environ=env), clock=FixedClock()
    )
    migrate.upgrade(context.db)
    yield context
    context.db.dispose()


def test_a_replayed_capture_writes_the_same_rows(sqlite_ctx: Context, tmp_path: Path) -> None:
    original = tmp_path / "ibmflow.db"
    processes.start_process(
        sqlite_ctx, title="Capture", key=KEY, actor=WHO, country="MA", timezone="Africa/Casablanca"
    )
    copy = sqlite_copy(original, tmp_path / "copy.db")
    assert sqlite_differences(original, copy) == []
    path = tmp_path / "roster.toml"
    path.write_text(demo.demo_roster_text(), encoding="utf-8")

    with Capture(sqlite_ctx.db) as capture:
        roster.import_roster(sqlite_ctx, KEY, path, actor=WHO)  # not timed
        with capture.timed():
            processes.status(sqlite_ctx, KEY)  # a read transaction, on the read engine
            processes.start_process(
                sqlite_ctx, title="Second", key="MA-2", actor=WHO, country="MA", timezone="UTC"
            )
    changed = sqlite_differences(original, copy)
    assert "process" in changed and "audit_event" in changed
    summary = capture.summary()
    assert 0 < summary["timed_commits"] < summary["commits"]
    replayed = replay_sqlite(capture.ops, copy)
    assert replayed.timed_parts == 1
    assert replayed.commits == summary["timed_commits"]
    assert replayed.statements == summary["timed_statements"]
    assert sqlite_differences(original, copy) == []
