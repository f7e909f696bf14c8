"""The quick start's main job, `ibmflow demo`: a fresh folder gets a database, an adopted process, a
late one that is chased, demo accounts, and then the web console served beside the worker."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path

import httpx
from helpers import free_port
from sqlmodel import select
from webconsole import log_in

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
        states = {p.process: p.state for p in list_processes(ctx)}
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


ROLES = ("coordinator", "chair", "manager", "administrator")
_LOGIN = re.compile(rf"^\s+({'|'.join(ROLES)})\s+(\S+@\S+)\s+(\S+)\s*$", re.M)
_LINK = re.compile(r"https?://[^/\s\"'<>]+/r/[A-Za-z0-9_-]+")


def _serve_demo(folder: Path, port: int, log: Path) -> subprocess.Popen[str]:
    """`ibmflow demo --port PORT` as a user runs it, its output in `log`; back once the console
    answers (the logins are printed before it listens)."""
    with log.open("w", encoding="utf-8") as out:  # the child keeps its own copy
        proc = subprocess.Popen(
            [IBMFLOW, "demo", "--port", str(port)], cwd=folder, env=_environ(), stdout=out,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    deadline = time.monotonic() + 240
    while True:
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the console did not come up"
        try:
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)
            return proc
        except httpx.TransportError:
            time.sleep(0.5)


def _stop(proc: subprocess.Popen[str], log: Path) -> None:
    """SIGTERM, as Ctrl-C or a service manager stops it; it must exit 0."""
    try:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _printed_logins(text: str) -> dict[str, tuple[str, str]]:
    """role -> (email, password), exactly as the demo printed them."""
    found = {role: (email, password) for role, email, password in _LOGIN.findall(text)}
    assert set(found) == set(ROLES), text
    return found


def _log_in(base: str, email: str, password: str) -> httpx.Response:
    """The login form posted as a browser does (CSRF token and nonce cookie from the form)."""
    with httpx.Client(base_url=base, timeout=30) as browser:
        answer = log_in(browser, email, password)
        if answer.status_code == 303:
            assert browser.get("/processes").status_code == 200
        return answer


def _assert_printed_logins_work(base: str, text: str) -> dict[str, tuple[str, str]]:
    logins = _printed_logins(text)
    refused = {
        role: status
        for role, (email, password) in logins.items()
        if (status := _log_in(base, email, password).status_code) != 303
    }
    assert not refused, f"printed logins refused (role: HTTP status): {refused}"
    return logins


def _mail_links(folder: Path) -> list[str]:
    """The answer links in the mails captured under var/mailbox, in the order they were sent (the
    files are numbered: 2.eml before 10.eml), so the last are the chaser's, for open requests."""
    links: list[str] = []
    captured = (folder / "var" / "mailbox").rglob("*.eml")
    for eml in sorted(captured, key=lambda p: (len(p.stem), p.stem)):
        message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                links += _LINK.findall(part.get_content())
    return links


def test_the_demo_serves_the_console_beside_the_worker_until_sigterm(tmp_path: Path) -> None:
    """The quick start followed literally: every printed login opens the console it serves, the
    mails link to the port it listens on, and a second run prints new logins that work too."""
    folder = _folder(tmp_path)
    port, log = free_port(), tmp_path / "demo.log"
    base = f"http://127.0.0.1:{port}"
    proc = _serve_demo(folder, port, log)
    try:
        assert f"Open {base}/" in log.read_text()
        first = _assert_printed_logins_work(base, log.read_text())
        links = _mail_links(folder)
        assert links, "the demo captured no mail with an answer link"
        assert {link.rsplit("/r/", 1)[0] for link in links} == {base}
        opened = [httpx.get(link, timeout=30) for link in links[-5:]]
        assert any(p.status_code == 200 and 'name="csrf_token"' in p.text for p in opened)
    finally:
        _stop(proc, log)
    port, log = free_port(), tmp_path / "again.log"
    proc = _serve_demo(folder, port, log)
    try:
        again = _assert_printed_logins_work(f"http://127.0.0.1:{port}", log.read_text())
        assert all(again[role][1] != first[role][1] for role in ROLES), "new passwords each run"
    finally:
        _stop(proc, log)


def test_the_demo_says_what_it_does() -> None:
    done = subprocess.run([IBMFLOW, "demo", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--no-serve" in done.stdout
