"""Errors as the user meets them: a full disk while storing a file (command line, answer page,
console), the JSON API's errors in the shape and status the README gives, and no link token in the
access log whatever the path's encoding. Through real servers and the command line in-process.

The full disk: every write of a file under the documents folder fails with ENOSPC. The test patches
`os.write` only (the lowest write the document store makes; it passes every other write through),
since a really full file system cannot be made without privileges; the same path is also driven by a
real failure, the documents folder being a file.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from clirun import on_database
from scenarios import at_stakeholder_identification
from test_web_answer import (
    CUSTOMS,
    CUSTOMS_FOCAL,
    KEY,
    links,
    opened,
    post,
    send,
    snapshot,
)
from webconsole import EMAILS, MINE, Site, logged_in

from ibmflow.access import COORDINATOR
from ibmflow.cli import run
from ibmflow.services import accounts, processes
from ibmflow.services.context import Context
from ibmflow.web.server import redact

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def process(ctx: Context, tmp_path: Path) -> str:
    at_stakeholder_identification(
        ctx, KEY, tmp_path, title="National IBM strategy", starter="chair@ma.example"
    )
    return KEY


@pytest.fixture
def disk_full(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, the disk of the documents folder has no space left."""
    real = os.write
    root = str(ctx.settings.documents_dir)

    def write(fd: int, data: bytes | memoryview) -> int:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = ""
        if target.startswith(root):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(os, "write", write)


def leftovers(ctx: Context) -> list[Path]:
    root = ctx.settings.documents_dir
    return [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []


Cli = Callable[..., tuple[int, str]]


@pytest.fixture
def cli(
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    """Run `ibmflow ARGS...` in-process on the test's database; (exit code, stdout + stderr)."""
    on_database(env, tmp_path, monkeypatch)

    def invoke(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = run(list(args))
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return invoke


# --- a full disk -----------------------------------------------------------------------------------


@sqlite_only
def test_attach_and_answer_on_a_full_disk_exit_1_saying_so(
    ctx: Context, process: str, cli: Cli, tmp_path: Path, disk_full: None
) -> None:
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.7 report")
    before = snapshot(ctx)
    code, out = cli("attach", KEY, str(report), "--kind", "other")
    assert code == 1, out
    assert "no space left on the disk of" in out and "free space and retry" in out
    assert "Traceback" not in out and "OSError" not in out
    code, out = cli(
        "answer", KEY, "--kind", "activity_inventory", "--institution", CUSTOMS,
        "--text", "Our inventory", "--file", str(report),
    )  # fmt: skip
    assert code == 1 and "no space left on the disk of" in out, out
    assert snapshot(ctx) == before and leftovers(ctx) == []


@sqlite_only
def test_attach_into_a_documents_folder_that_is_a_file_exits_1_saying_so(
    ctx: Context, process: str, cli: Cli, tmp_path: Path
) -> None:
    ctx.settings.documents_dir.parent.mkdir(parents=True, exist_ok=True)
    ctx.settings.documents_dir.write_text("not a folder")
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.7 report")
    before = snapshot(ctx)
    code, out = cli("attach", KEY, str(report), "--kind", "other")
    assert code == 1 and "cannot store the file in" in out, out
    assert "writable folder" in out and "Traceback" not in out
    assert snapshot(ctx) == before


@sqlite_only
def test_the_answer_page_on_a_full_disk_answers_507_and_records_nothing(
    ctx: Context, start: Callable[[Context], str], process: str, disk_full: None
) -> None:
    token = links(ctx, send(ctx, "chapter_draft", CUSTOMS)[CUSTOMS])[CUSTOMS_FOCAL]
    with httpx.Client(base_url=start(ctx), timeout=30) as client:
        form = {"csrf_token": opened(client, token), "text": "Our chapter"}
        before = snapshot(ctx)
        full = post(client, token, form, [("files", ("draft.pdf", b"%PDF draft", "a/b"))])
        assert full.status_code == 507
        assert "could not be stored" in full.text and "nothing was recorded" in full.text
        assert snapshot(ctx) == before and leftovers(ctx) == []
        assert client.get(f"/r/{token}").status_code == 200  # the link is still open


@sqlite_only
def test_the_answer_page_with_no_documents_folder_answers_507(
    ctx: Context, start: Callable[[Context], str], process: str
) -> None:
    token = links(ctx, send(ctx, "chapter_draft", CUSTOMS)[CUSTOMS])[CUSTOMS_FOCAL]
    ctx.settings.documents_dir.parent.mkdir(parents=True, exist_ok=True)
    ctx.settings.documents_dir.write_text("not a folder")
    with httpx.Client(base_url=start(ctx), timeout=30) as client:
        form = {"csrf_token": opened(client, token), "text": "Our chapter"}
        before = snapshot(ctx)
        refused = post(client, token, form, [("files", ("draft.pdf", b"%PDF draft", "a/b"))])
        assert refused.status_code == 507 and snapshot(ctx) == before


@sqlite_only
def test_the_consoles_document_form_on_a_full_disk_answers_507(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, csrf = logged_in(site, EMAILS[COORDINATOR])
    real = os.write
    root = str(site.ctx.settings.documents_dir)

    def write(fd: int, data: bytes | memoryview) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").startswith(root):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(os, "write", write)
    full = client.post(
        f"/p/{MINE}/documents",
        data={"csrf_token": csrf, "kind": "other"},
        files=[("file", ("terms.pdf", b"%PDF terms", "application/pdf"))],
    )
    assert full.status_code == 507
    assert "no space left on the disk of" in full.text


# --- the API's errors ------------------------------------------------------------------------------


def _bearer(site: Site) -> httpx.Client:
    client = site.client()
    token = accounts.issue_token(site.ctx, EMAILS[COORDINATOR], actor="test")
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def _error_shape(response: httpx.Response, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) <= {"error", "message", "blockers"} and body["error"] == error, body
    assert isinstance(body["message"], str) and body["message"]
    return str(body["message"])


@sqlite_only
def test_every_api_error_has_the_readmes_shape_and_status(site: Site) -> None:
    api = _bearer(site)
    path = f"/api/processes/{MINE}/requests"

    def endless() -> Iterator[bytes]:
        yield b'{"kind": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    chunked = api.post(path, content=endless(), headers={"Content-Type": "application/json"})
    assert "larger than 1,024 KB" in _error_shape(chunked, 413, "too_large")

    missing = api.post(f"/api/processes/{MINE}/suspend", json={})
    assert "reason" in _error_shape(missing, 422, "invalid")
    extra = api.post(f"/api/processes/{MINE}/advance", json={"force": True})
    assert "force" in _error_shape(extra, 422, "invalid")
    broken = api.post(path, content=b"{not json", headers={"Content-Type": "application/json"})
    _error_shape(broken, 422, "invalid")
    wrong_type = api.post(path, json={"kind": "self_assessment", "due_days": "soon"})
    assert "due_days" in _error_shape(wrong_type, 422, "invalid")
    horizon = api.get("/api/report", params={"horizon": 999})
    assert "horizon" in _error_shape(horizon, 422, "invalid")
    _error_shape(api.get("/api/nowhere"), 404, "not_found")
    _error_shape(api.delete(f"/api/processes/{MINE}"), 405, "method_not_allowed")
    assert processes.status(site.ctx, MINE).state == "stakeholder_identification"


@sqlite_only
def test_a_console_address_with_no_page_is_the_consoles_page_saying_so(site: Site) -> None:
    """Outside /api a mistyped address, or a form's address visited, is a page a person (and a
    screen reader) can read, with the way back; not FastAPI's JSON."""
    client = site.client()
    missing = client.get("/p/MA-1/nowhere")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in missing.text and 'href="/processes"' in missing.text
    visited = client.get("/logout")
    assert visited.status_code == 405 and visited.headers["allow"] == "POST"
    assert "<h1>This page cannot be opened this way</h1>" in visited.text


# --- the access log --------------------------------------------------------------------------------


def _raw_get(base: str, path: str) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while data := sock.recv(65536):
            answer += data
    return answer


@sqlite_only
def test_the_access_log_never_shows_a_token_however_the_path_is_encoded(
    ctx: Context, start: Callable[[Context], str], process: str, caplog: pytest.LogCaptureFixture
) -> None:
    token = links(ctx, send(ctx, "consultation_comments", CUSTOMS)[CUSTOMS])[CUSTOMS_FOCAL]
    encoded = "".join(f"%{ord(c):02X}" for c in token)
    crafted = [
        f"/r/%2e%2e%2f%2e%2e%2f{token}",
        f"/r/%2e%2e/%2e%2e/{token}",
        f"/r%2f{token}",
        f"/x/..%2fr%2f{token}",
        f"//r//{token}",
        f"/R/{token}",
        f"/r/{encoded}",
        f"/r/{token[:7]}%{ord(token[7]):02X}{token[8:]}",
        f"/healthz?next=%2Fr%2F{token}",
        f"/healthz?t={token}",
        f"/nowhere/{token}/x",
    ]
    url = start(ctx)
    with caplog.at_level(logging.INFO, logger="uvicorn"):
        for path in crafted:
            assert _raw_get(url, path).startswith(b"HTTP/1.1 ")
        time.sleep(0.2)  # the access log is written as each response ends
    access = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert len(access) == len(crafted)
    leaked = [line for line in access if token in line or token[4:28] in line]
    assert not leaked, "\n".join(leaked)
    assert token not in caplog.text


def test_redaction_decodes_before_it_looks_for_tokens() -> None:
    token = secrets.token_urlsafe(24)
    for text in (
        f"/r/../../{token}",
        f"/r%2F{token}",
        f"/r%252F{token}",
        f"/x?next=%2Fr%2F{token}",
        f"/anything/{token}",
    ):
        assert token not in redact(text), text
    assert redact("/r/abc/done") == "/r/…/done"
    assert redact("GET /healthz") == "GET /healthz"
    assert redact("ibmflow.web.uploads.read_form_of_the_console") == (
        "ibmflow.web.uploads.read_form_of_the_console"
    )
