"""`ibmflow serve` as a user runs it: a subprocess on a free port, a request sent through its API,
the mail dispatched by a separate `ibmflow mail dispatch`, and the link in that mail opened on it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest
from helpers import free_port
from webconsole import EMAILS, MINE, add_accounts, start_process

from ibmflow.access import COORDINATOR
from ibmflow.services import accounts
from ibmflow.services.context import Context

REPO = Path(__file__).resolve().parent.parent
IBMFLOW = str(Path(sys.executable).parent / "ibmflow")
_LINK = re.compile(r"https?://[^/\s\"'<>]+/r/[A-Za-z0-9_-]+")

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _environ(env: dict[str, str]) -> dict[str, str]:
    """The test's database and folders, the checkout's config.toml, no other IBMFLOW_ setting."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("IBMFLOW_")}
    return {**kept, **env, "IBMFLOW_CONFIG": str(REPO / "config.toml")}


def _serve(args: list[str], environ: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[str]:
    """`ibmflow serve ARGS` in a subprocess, its output in `log`; back once it answers."""
    port = args[args.index("--port") + 1]
    with log.open("w", encoding="utf-8") as out:  # the child keeps its own copy
        proc = subprocess.Popen(
            [IBMFLOW, "serve", *args], cwd=cwd, env=environ, stdout=out,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the server did not come up"
        try:
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)
            return proc
        except httpx.TransportError:
            time.sleep(0.3)


def _stop(proc: subprocess.Popen[str], log: Path) -> None:
    try:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _mail_links(mailbox: Path) -> list[str]:
    """The answer links in the plain-text parts of the mails captured in `mailbox`."""
    links: list[str] = []
    for eml in sorted(mailbox.rglob("*.eml")):
        message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                links += _LINK.findall(part.get_content())
    return links


@sqlite_only
def test_serve_on_a_port_mails_links_to_that_port(
    ctx: Context, env: dict[str, str], tmp_path: Path
) -> None:
    """mail.base_url not configured: `serve --port N` says the mails link to port N, and the
    request mails written by its API carry links that open on it."""
    start_process(ctx, MINE, tmp_path)
    add_accounts(ctx, other=False)
    token = accounts.issue_token(ctx, EMAILS[COORDINATOR], actor="test")
    ctx.db.dispose()
    environ, port, log = _environ(env), free_port(), tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"
    proc = _serve(["--port", str(port)], environ, tmp_path, log)
    try:
        printed = log.read_text()
        assert f"the mails link to {base}/r/…" in printed, printed
        worker = "a separate `ibmflow worker` links to http://127.0.0.1:8000/r/…"
        assert worker in printed and "set web.port or mail.base_url" in printed, printed
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        with api:
            opened = api.post(
                f"/api/processes/{MINE}/requests", json={"kind": "acknowledge_contact"}
            )
            assert opened.status_code == 201 and opened.json()["requests"], opened.text
        dispatched = subprocess.run(
            [IBMFLOW, "mail", "dispatch", "--once"], cwd=tmp_path, env=environ, capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
        assert dispatched.returncode == 0, dispatched.stderr
        links = _mail_links(Path(env["IBMFLOW_PATHS_DATA_DIR"]) / "mailbox")
        assert links and all(link.startswith(f"{base}/r/") for link in links), links
        page = httpx.get(links[0], timeout=30)
        assert page.status_code == 200 and "acknowledge" in page.text.lower(), page.text
    finally:
        _stop(proc, log)


@sqlite_only
def test_serve_keeps_a_configured_base_url_and_says_so(
    ctx: Context, env: dict[str, str], tmp_path: Path
) -> None:
    """mail.base_url configured: the links stay there, whatever port serve listens on."""
    ctx.db.dispose()
    environ = {**_environ(env), "IBMFLOW_MAIL_BASE_URL": "https://ibmflow.interior.example"}
    port, log = free_port(), tmp_path / "serve.log"
    proc = _serve(["--port", str(port)], environ, tmp_path, log)
    try:
        printed = log.read_text()
        assert f"on http://127.0.0.1:{port}/" in printed, printed
        assert "the mails link to https://ibmflow.interior.example/r/…" in printed, printed
        assert "ibmflow worker" not in printed, printed
    finally:
        _stop(proc, log)


@sqlite_only
@pytest.mark.parametrize("command", [["serve"], ["demo"]], ids=["serve", "demo"])
def test_a_port_in_use_is_refused_before_anything_is_set_up_saying_what_to_do(
    env: dict[str, str], tmp_path: Path, command: list[str]
) -> None:
    """Another program (an earlier demo still running) holds the port: `ibmflow serve` and
    `ibmflow demo` exit 1 at once with a sentence that says so and how to choose another port, instead
    of uvicorn's 'address already in use' after the demo has printed logins for a console that never
    comes up."""
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        result = subprocess.run(
            [IBMFLOW, *command, "--port", str(port)], cwd=tmp_path, env=_environ(env),
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"127.0.0.1:{port} is already in use" in result.stderr
    assert "--port" in result.stderr and "Traceback" not in result.stderr
    assert "Demo logins" not in result.stdout and "Serving" not in result.stdout
