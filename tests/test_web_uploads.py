"""Files sent through the web: streamed to a temporary file under the data folder as they arrive, the
cap (`answers.max_upload_mb`, for all the files of one answer together) enforced while reading, a
refusal answered 413 with nothing recorded and no temporary file left, and file names stripped of
any path and control character. Through a real server, with hand-made multipart bodies where a
browser's would not be hostile enough."""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from scenarios import at_stakeholder_identification
from sqlmodel import select
from starlette.requests import Request
from starlette.types import Message
from test_web_answer import (
    CUSTOMS,
    CUSTOMS_FOCAL,
    KEY,
    links,
    opened,
    post,
    problem_text,
    send,
    snapshot,
)
from webconsole import EMAILS, MINE, Site, logged_in, problem_of

from ibmflow.access import COORDINATOR
from ibmflow.documents import safe_filename
from ibmflow.services.context import Context
from ibmflow.storage.tables import DocumentRow
from ibmflow.web import csrf
from ibmflow.web.common import MB, BodyTooLarge
from ibmflow.web.uploads import read_form

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
BOUNDARY = "ibmflowtestboundary"


@pytest.fixture
def answering(
    ctx: Context, start: Callable[[Context], str], tmp_path: Path
) -> Iterator[tuple[httpx.Client, str]]:
    """A client at a chapter-draft link's page (files allowed), with uploads capped at 1 MB."""
    at_stakeholder_identification(
        ctx, KEY, tmp_path, title="National IBM strategy", starter="chair@ma.example"
    )
    ctx.settings = dataclasses.replace(ctx.settings, answers_max_upload_mb=1)
    token = links(ctx, send(ctx, "chapter_draft", CUSTOMS)[CUSTOMS])[CUSTOMS_FOCAL]
    with httpx.Client(base_url=start(ctx), timeout=30) as client:
        yield client, token


def stored_files(ctx: Context) -> list[Path]:
    """Every file under the documents folder, temporary ones included."""
    root = ctx.settings.documents_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def part(name: str, value: bytes, filename: bytes | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'.encode()
    if filename is not None:
        disposition += b'; filename="' + filename + b'"'
    kind = b"\r\nContent-Type: application/octet-stream" if filename is not None else b""
    return (
        f"--{BOUNDARY}\r\n".encode()
        + b"Content-Disposition: "
        + disposition
        + kind
        + b"\r\n\r\n"
        + value
        + b"\r\n"
    )


def multipart(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def post_raw(client: httpx.Client, token: str, body: bytes) -> httpx.Response:
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    return client.post(f"/r/{token}", content=body, headers=headers)


# --- the cap ---------------------------------------------------------------------------------------


@sqlite_only
def test_an_upload_over_the_cap_is_answered_413_and_nothing_is_stored(
    ctx: Context, answering: tuple[httpx.Client, str]
) -> None:
    client, token = answering
    base = {"csrf_token": opened(client, token), "text": "Our chapter"}
    before = snapshot(ctx)
    huge = post(client, token, base, [("files", ("draft.pdf", b"x" * (MB + 4096), "a/b"))])
    assert huge.status_code == 413
    assert "larger than 1 MB in all" in problem_text(huge)
    assert "Nothing was recorded" in problem_text(huge)
    assert snapshot(ctx) == before
    assert stored_files(ctx) == [], "a refused upload left a file behind"
    assert client.get(f"/r/{token}").status_code == 200  # the link still works


@sqlite_only
def test_files_together_over_the_cap_are_refused_though_each_is_within_it(
    ctx: Context, answering: tuple[httpx.Client, str]
) -> None:
    client, token = answering
    base = {"csrf_token": opened(client, token), "text": "Our chapter"}
    before = snapshot(ctx)
    half = b"h" * (MB // 2 + MB // 10)  # 0.6 MB each, 1.2 MB together against 1 MB in all
    two = post(
        client, token, base, [("files", ("a.pdf", half, "a/b")), ("files", ("b.pdf", half, "a/b"))]
    )
    assert two.status_code == 413 and "larger than 1 MB in all" in problem_text(two)
    assert snapshot(ctx) == before and stored_files(ctx) == []
    one = post(client, token, base, [("files", ("a.pdf", half, "a/b"))])
    assert one.status_code == 303
    assert [p.stat().st_size for p in stored_files(ctx)] == [len(half)]


ATTEMPTED = 64 * MB


def endless_upload(client: httpx.Client, token: str, csrf_token: str) -> tuple[bytes, int]:
    """POST an upload to a link that never ends (chunked, no last chunk), pouring from a thread
    while the answer is awaited; the answer's head and how many bytes could be poured."""
    cookies = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    head = (
        part(csrf.FIELD, csrf_token.encode())
        + part("text", b"Our chapter")
        + (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; '
            'filename="endless.pdf"\r\n\r\n'
        ).encode()
    )
    host, port = str(client.base_url.host), int(client.base_url.port or 80)
    sent = 0
    with socket.create_connection((host, port), timeout=60) as sock:
        sock.sendall(
            (
                f"POST /r/{token} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookies}\r\n"
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
                "Transfer-Encoding: chunked\r\n\r\n"
            ).encode()
            + f"{len(head):x}\r\n".encode()
            + head
            + b"\r\n"
        )

        def pour() -> None:
            nonlocal sent
            chunk = b"e" * 65536
            framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
            try:
                while sent < ATTEMPTED:  # never the last chunk: the body does not end
                    sock.sendall(framed)
                    sent += len(chunk)
            except OSError:
                pass  # the server answered and closed the connection

        pourer = threading.Thread(target=pour, daemon=True)
        pourer.start()
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            assert data, "the server closed the connection without answering"
            answer += data
        pourer.join(timeout=60)
    return answer, sent


@sqlite_only
def test_the_server_answers_413_before_an_endless_upload_ends(
    ctx: Context, answering: tuple[httpx.Client, str]
) -> None:
    """Reading stops at the cap: an upload that never ends is answered and cut off, and the client
    could not push more than a fraction of what it tried to."""
    client, token = answering
    form = opened(client, token)
    before = snapshot(ctx)
    answer, sent = endless_upload(client, token, form)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert sent < ATTEMPTED // 4, f"the server read {sent} bytes of an upload capped at 1 MB"
    assert snapshot(ctx) == before and stored_files(ctx) == []


@sqlite_only
def test_a_link_that_cannot_be_answered_takes_no_upload_at_all(
    ctx: Context, answering: tuple[httpx.Client, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown (or used, expired, closed) link is refused before the body is read: without an
    open link nobody can make the server write a byte (every write under the documents folder is
    counted through `os.write`, the store's lowest write)."""
    client, token = answering
    form = {"csrf_token": opened(client, token), "text": "Our chapter"}
    written: list[int] = []
    real, root = os.write, str(ctx.settings.documents_dir)

    def write(fd: int, data: bytes | memoryview) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").startswith(root):
            written.append(len(data))
        return real(fd, data)

    monkeypatch.setattr(os, "write", write)
    forged = secrets.token_urlsafe(24)
    refused = post(client, forged, form, [("files", ("draft.pdf", b"d" * 300_000, "a/b"))])
    assert refused.status_code == 404 and written == []
    answer, sent = endless_upload(client, forged, form["csrf_token"])
    assert answer.startswith(b"HTTP/1.1 404 ") and sent < ATTEMPTED // 4
    assert written == [] and stored_files(ctx) == []
    fine = post(client, token, form, [("files", ("draft.pdf", b"d" * 300_000, "a/b"))])
    assert fine.status_code == 303 and sum(written) == 300_000  # the count does see writes


def test_the_reader_stops_pulling_the_body_one_chunk_past_the_cap(tmp_path: Path) -> None:
    """The limit is checked as each chunk arrives, never after the whole body is in (the endless
    body below would never end)."""
    pulled = 0
    chunk = 65536

    async def receive() -> Message:
        nonlocal pulled
        pulled += 1
        if pulled == 1:
            body = (
                part("text", b"hi")
                + (
                    f"--{BOUNDARY}\r\nContent-Disposition: form-data; "
                    'name="files"; filename="a.pdf"\r\n\r\n'
                ).encode()
            )
            return {"type": "http.request", "body": body, "more_body": True}
        return {"type": "http.request", "body": b"z" * chunk, "more_body": True}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/r/x",
        "headers": [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())],
    }

    async def attempt() -> None:
        async with read_form(Request(scope, receive), folder=tmp_path, files_cap=MB, fields_cap=MB):
            raise AssertionError("an endless body was accepted")

    with pytest.raises(BodyTooLarge):
        anyio.run(attempt)
    # Up to the cap and one chunk past it, then at most one cap more dropped (files and text) so
    # that a browser still sending hears the answer: never the rest of an endless body.
    assert pulled <= (MB + 1) // chunk + 2 + (MB + MB) // chunk
    assert list(tmp_path.iterdir()) == [], "the temporary file was left behind"


# --- file names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../x.pdf", "x.pdf"),
        ("..\\..\\windows\\y.pdf", "y.pdf"),
        ("C:\\Users\\a\\report.docx", "report.docx"),
        ("/etc/passwd.txt", "passwd.txt"),
        ("bad\x00name\x07\r\n.pdf", "badname.pdf"),
        ("line\u2028sep\u202e.pdf", "linesep.pdf"),
        ("..", "attachment"),
        ("  .hidden.pdf  ", "hidden.pdf"),
        ("", "attachment"),
    ],
)
def test_file_names_lose_their_path_and_control_characters(given: str, kept: str) -> None:
    assert safe_filename(given) == kept


@sqlite_only
def test_a_file_named_with_a_path_is_stored_under_its_own_name(
    ctx: Context, answering: tuple[httpx.Client, str]
) -> None:
    client, token = answering
    body = multipart(
        part(csrf.FIELD, opened(client, token).encode()),
        part("text", b"Our chapter"),
        part("files", b"%PDF one", b"../../x.pdf"),
        part("files", b"%PDF two", b"..\\..\\evil\x01.pdf"),
    )
    assert post_raw(client, token, body).status_code == 303
    with ctx.db.reading() as session:
        names = sorted(d.filename for d in session.exec(select(DocumentRow)))
    assert names == ["evil.pdf", "x.pdf"]


# --- the console's upload forms --------------------------------------------------------------------


@sqlite_only
def test_the_consoles_document_form_caps_streams_and_strips_names(site: Site) -> None:
    site.ctx.settings = dataclasses.replace(site.ctx.settings, answers_max_upload_mb=1)
    client, token = logged_in(site, EMAILS[COORDINATOR])
    before = sorted(p.name for p in stored_files(site.ctx))
    big = client.post(
        f"/p/{MINE}/documents",
        data={"csrf_token": token, "kind": "other"},
        files=[("file", ("big.pdf", b"b" * (MB + 4096), "application/pdf"))],
    )
    assert big.status_code == 413 and "larger than 1 MB" in text_of_message(big)
    assert sorted(p.name for p in stored_files(site.ctx)) == before
    named = client.post(
        f"/p/{MINE}/documents",
        data={"csrf_token": token, "kind": "other"},
        files=[("file", ("..\\..\\terms.pdf", b"%PDF terms", "application/pdf"))],
    )
    assert "done=" in named.headers["location"], problem_of(client.get(named.headers["location"]))
    with site.ctx.db.reading() as session:
        newest = session.exec(select(DocumentRow).order_by(DocumentRow.id.desc())).first()  # type: ignore[union-attr]
        assert newest is not None and newest.filename == "terms.pdf"


def text_of_message(page: httpx.Response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))
