"""The quick start's main job, `ibmflow demo`: a fresh folder gets a database, an adopted process, a
late one that is chased, demo accounts, and then the web console served beside the worker."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlmodel import select

from ibmflow.bootstrap import bootstrap
from ibmflow.config import load_settings
from ibmflow.services.processes import list_processes
from ibmflow.storage.tables import RungRow

REPO = Path(__file__).resolve().parent.parent
IBMFLOW = str(Path(sys.executable).parent / "ibmflow")


def _folder(tmp_path: Path) -> Path:
    """A fresh working folder holding what a checkout holds: the config, workflows, templates."""
    for name in ("workflows", "notifications"):
        (tmp_path / name).symlink_to(REPO / name)
    (tmp_path / "config.toml").write_text((REPO / "config.toml").read_text(), encoding="utf-8")
    return tmp_path


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("IBMFLOW_")}


def test_the_demo_sets_up_two_processes_chases_the_late_one_and_prints_the_logins(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path)
    done = subprocess.run(
        [IBMFLOW, "demo", "--no-serve"], cwd=folder, env=_environ(), capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "audit chain: intact" in done.stdout
    for email in ("coordinator@interior.example", "manager@cabinet.example"):
        assert re.search(rf"{re.escape(email)}\s+\S{{8,}}", done.stdout), done.stdout
    ctx = bootstrap(load_settings(config_path=folder / "config.toml", environ={}))
    try:
        states = {p["process"]: p["state"] for p in list_processes(ctx)}
        assert states == {"DEMO-1": "adopted", "DEMO-2": "situation_analysis"}
        with ctx.db.reading() as session:
            sent = session.exec(select(RungRow.key).where(RungRow.status == "sent")).all()
        assert sent, "the late process was chased"
    finally:
        ctx.db.dispose()
    assert any((folder / "var" / "mailbox").iterdir())
    # A second run keeps the processes and only renews the demo passwords.
    again = subprocess.run(
        [IBMFLOW, "demo", "--no-serve"], cwd=folder, env=_environ(), capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "[1/9]" not in again.stdout


def test_the_demo_serves_the_console_beside_the_worker_until_sigterm(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path / "demo.log").open("w", encoding="utf-8")
    proc = subprocess.Popen(
        [IBMFLOW, "demo", "--port", str(port)], cwd=folder, env=_environ(), stdout=log,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, (tmp_path / "demo.log").read_text()
            assert time.monotonic() < deadline, "the console did not come up"
            try:
                page = httpx.get(f"{base}/login", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert page.status_code == 200 and "password" in page.text.lower()
        text = (tmp_path / "demo.log").read_text()
        assert f"Open {base}/" in text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, (tmp_path / "demo.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def test_the_demo_says_what_it_does() -> None:
    done = subprocess.run([IBMFLOW, "demo", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--no-serve" in done.stdout
