"""The audit chain as stored: every edit, deletion, insertion or reordering of the stored events is
detected by `audit verify`, on a real SQLite file (Hypothesis) and on PostgreSQL (examples)."""

from __future__ import annotations

import json
import os
import pty
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ibmflow.audit import Verification
from ibmflow.bootstrap import bootstrap
from ibmflow.cli import run
from ibmflow.config import load_settings
from ibmflow.demo import drive
from ibmflow.services.audit_log import verify_chain
from ibmflow.services.context import Context
from ibmflow.storage import migrate

REPO = Path(__file__).resolve().parent.parent
COLUMNS = [
    "at",
    "actor",
    "on_behalf_of",
    "action",
    "process",
    "entity",
    "before_json",
    "after_json",
    "reason",
    "prev_hash",
    "hash",
]


def _context(url: str, data: Path) -> Context:
    return bootstrap(
        load_settings(
            environ={
                "IBMFLOW_DATABASE_URL": url,
                "IBMFLOW_PATHS_DATA_DIR": str(data),
                "IBMFLOW_PATHS_WORKFLOWS_DIR": str(REPO / "workflows"),
            }
        )
    )


@pytest.fixture(scope="module")
def stored_chain() -> Iterator[tuple[Path, int]]:
    """An SQLite file holding the audit chain of a whole demo process (about 90 events)."""
    folder = Path(tempfile.mkdtemp(prefix="ibmflow-audit-"))
    ctx = _context(f"sqlite:///{folder / 'chain.db'}", folder / "data")
    migrate.upgrade(ctx.db)
    drive(ctx, "AUD-1")
    count = verify_chain(ctx).checked
    ctx.db.dispose()
    yield folder / "chain.db", count
    shutil.rmtree(folder, ignore_errors=True)


def _tamper(conn: sqlite3.Connection, kind: str, seq: int, other: int, column: str) -> None:
    if kind == "edit":
        old = conn.execute(f"SELECT {column} FROM audit_event WHERE seq=?", (seq,)).fetchone()[0]
        new = "forged" if old != "forged" else "forged again"  # also not a time, not JSON
        conn.execute(f"UPDATE audit_event SET {column}=? WHERE seq=?", (new, seq))
    elif kind == "delete":
        conn.execute("DELETE FROM audit_event WHERE seq=?", (seq,))
    elif kind == "insert":  # a copy of an event, renumbered into a gap made for it
        conn.execute("UPDATE audit_event SET seq = seq + 1000000 WHERE seq >= ?", (seq,))
        conn.execute("UPDATE audit_event SET seq = seq - 1000000 + 1 WHERE seq >= 1000000")
        cols = ", ".join(COLUMNS)
        conn.execute(
            f"INSERT INTO audit_event (seq, {cols}) SELECT ?, {cols} FROM audit_event WHERE seq=?",
            (seq, other if other < seq else other + 1),
        )
    elif kind == "swap":
        conn.execute("UPDATE audit_event SET seq=-1 WHERE seq=?", (seq,))
        conn.execute("UPDATE audit_event SET seq=? WHERE seq=?", (seq, other))
        conn.execute("UPDATE audit_event SET seq=? WHERE seq=-1", (other,))
    elif kind == "truncate":
        conn.execute("DELETE FROM audit_event WHERE seq>=?", (seq,))


def _spaced(conn: sqlite3.Connection) -> None:
    """Store the JSON texts as they were stored before the compact form: with json.dumps's spaces."""
    for name in ("before_json", "after_json"):
        for seq, text in conn.execute(f"SELECT seq, {name} FROM audit_event").fetchall():
            if text is not None:
                again = json.dumps(json.loads(text), sort_keys=True, ensure_ascii=False)
                conn.execute(f"UPDATE audit_event SET {name}=? WHERE seq=?", (again, seq))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_tampering_of_the_stored_chain_is_detected(
    stored_chain: tuple[Path, int], data: st.DataObject
) -> None:
    path, count = stored_chain
    kind = data.draw(st.sampled_from(["edit", "delete", "insert", "swap", "truncate"]))
    seq = data.draw(st.integers(1, count), label="seq")
    other = data.draw(st.integers(1, count).filter(lambda n: n != seq), label="other")
    column = data.draw(st.sampled_from(COLUMNS), label="column")
    spaced = data.draw(st.booleans(), label="stored with spaces, as before")
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "copy.db"
        shutil.copy(path, copy)
        conn = sqlite3.connect(copy, isolation_level=None)
        if spaced:
            _spaced(conn)
        _tamper(conn, kind, seq, other, column)
        conn.close()
        ctx = _context(f"sqlite:///{copy}", Path(folder) / "data")
        try:
            result = verify_chain(ctx)
        finally:
            ctx.db.dispose()
    assert not result.ok, (kind, seq, other, column)
    assert result.first_bad_seq is not None and result.problem


def test_audit_verify_exits_non_zero_naming_the_first_bad_event(
    stored_chain: tuple[Path, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, _ = stored_chain
    copy = tmp_path / "copy.db"
    shutil.copy(path, copy)
    monkeypatch.setenv("IBMFLOW_DATABASE_URL", f"sqlite:///{copy}")
    monkeypatch.setenv("IBMFLOW_PATHS_WORKFLOWS_DIR", str(REPO / "workflows"))
    monkeypatch.chdir(tmp_path)
    assert run(["audit", "verify"]) == 0
    conn = sqlite3.connect(copy, isolation_level=None)
    conn.execute("UPDATE audit_event SET actor='someone.else@x.example' WHERE seq=17")
    conn.close()
    capsys.readouterr()
    assert run(["audit", "verify"]) == 2
    err = capsys.readouterr().err
    assert "AUDIT CHAIN BROKEN: event #17" in err and "was edited" in err


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET reason = 'rewritten' WHERE seq = 5",
        "DELETE FROM audit_event WHERE seq = 7",
        "DELETE FROM audit_event WHERE seq = (SELECT max(seq) FROM audit_event)",
        "UPDATE audit_event SET seq = -seq WHERE seq IN (3, 4);"
        "UPDATE audit_event SET seq = CASE seq WHEN -3 THEN 4 ELSE 3 END WHERE seq IN (-3, -4)",
    ],
)
def test_tampering_on_postgresql_is_detected(pg_url: str, tmp_path: Path, statement: str) -> None:
    ctx = _context(pg_url, tmp_path / "data")
    migrate.upgrade(ctx.db)
    drive(ctx, "AUD-PG")
    assert verify_chain(ctx).ok
    with ctx.db.engine.begin() as conn:
        conn.execute(sa.text(statement))
    result = verify_chain(ctx)
    ctx.db.dispose()
    assert not result.ok and result.first_bad_seq is not None


def _verified_copy(path: Path, folder: Path, *statements: str) -> Verification:
    folder.mkdir(exist_ok=True)
    copy = folder / "copy.db"
    shutil.copy(path, copy)
    conn = sqlite3.connect(copy, isolation_level=None)
    for statement in statements:
        conn.execute(statement)
    conn.close()
    ctx = _context(f"sqlite:///{copy}", folder / "data")
    try:
        return verify_chain(ctx)
    finally:
        ctx.db.dispose()


def test_a_chain_stored_with_spaces_as_before_verifies(
    stored_chain: tuple[Path, int], tmp_path: Path
) -> None:
    path, count = stored_chain
    copy = tmp_path / "spaced.db"
    shutil.copy(path, copy)
    conn = sqlite3.connect(copy, isolation_level=None)
    _spaced(conn)
    (spaced,) = conn.execute("SELECT after_json FROM audit_event WHERE seq = 1").fetchone()
    conn.close()
    assert '": ' in spaced
    result = _verified_copy(copy, tmp_path / "again")
    assert result.ok and result.checked == count


def test_an_unreadable_event_is_named(stored_chain: tuple[Path, int], tmp_path: Path) -> None:
    path, _ = stored_chain
    result = _verified_copy(path, tmp_path, "UPDATE audit_event SET at = 'forged' WHERE seq = 23")
    assert not result.ok and result.first_bad_seq == 23 and result.head_seq == 22
    assert result.problem is not None
    assert result.problem.startswith("event #23 cannot be read any more (")


def test_an_event_numbered_before_the_first_is_found(
    stored_chain: tuple[Path, int], tmp_path: Path
) -> None:
    path, _ = stored_chain
    cols = ", ".join(COLUMNS)
    copy = f"INSERT INTO audit_event (seq, {cols}) SELECT 0, {cols} FROM audit_event WHERE seq=1"
    result = _verified_copy(path, tmp_path, copy)
    assert not result.ok and result.problem == "event #0 was inserted: numbering starts at #1"


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    def start(self, total: int, what: str) -> None:
        self.seen.append((what, total))

    def advance(self, done: int) -> None:
        self.seen.append(("advance", done))


def test_verification_reports_its_progress(stored_chain: tuple[Path, int], tmp_path: Path) -> None:
    path, count = stored_chain
    ctx = _context(f"sqlite:///{path}", tmp_path / "data")
    recorder = Recorder()
    try:
        assert verify_chain(ctx, recorder).ok
    finally:
        ctx.db.dispose()
    assert recorder.seen == [("verifying the audit chain", count), ("advance", count)]


def _ibmflow(copy: Path, terminal: bool, *args: str) -> tuple[int, str]:
    """Run `ibmflow ARGS` on `copy`, its stdout and stderr a terminal (a pty) or pipes."""
    command = [sys.executable, "-c", "import sys; from ibmflow.cli import run; sys.exit(run())"]
    env = {
        **os.environ,
        "IBMFLOW_DATABASE_URL": f"sqlite:///{copy}",
        "IBMFLOW_PATHS_WORKFLOWS_DIR": str(REPO / "workflows"),
        "COLUMNS": "100",
        "TERM": "xterm-256color",
    }
    if not terminal:
        done = subprocess.run(
            [*command, *args], env=env, cwd=copy.parent, capture_output=True, text=True, check=False
        )
        return done.returncode, done.stdout + done.stderr
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [*command, *args],
        env=env,
        cwd=copy.parent,
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", errors="replace")


def test_audit_verify_shows_a_progress_bar_on_a_terminal_only(
    stored_chain: tuple[Path, int], tmp_path: Path
) -> None:
    path, count = stored_chain
    copy = tmp_path / "copy.db"
    shutil.copy(path, copy)
    code, shown = _ibmflow(copy, True, "audit", "verify")
    assert code == 0 and "verifying the audit chain" in shown and f"{count}/{count}" in shown
    assert f"audit chain intact: {count} events" in shown
    code, piped = _ibmflow(copy, False, "audit", "verify")
    assert code == 0 and "verifying" not in piped and f"audit chain intact: {count} events" in piped
    code, as_json = _ibmflow(copy, True, "audit", "verify", "--json")
    assert code == 0 and "verifying" not in as_json and '"ok": true' in as_json
