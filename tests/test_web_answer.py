"""Answering requests and votes by link, through the real HTTP server (uvicorn) and a real client.

The links are the ones the service layer put in the outbox; every refusal is checked to record
nothing at all (no audit event, no status change, no consumed link, no vote, no document, no mail).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import secrets
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import free_port
from i18n_check import unmarked_english, visible_text
from outboxtext import one_with_text
from scenarios import at_stakeholder_identification
from sqlalchemy import func
from sqlmodel import col, select
from webconsole import csrf_of

from ibmflow.demo import COORDINATOR
from ibmflow.requestkinds import KINDS
from ibmflow.services import decisions, requests
from ibmflow.services.context import Context
from ibmflow.storage.tables import (
    AuditEventRow,
    DecisionRow,
    DocumentRow,
    LinkTokenRow,
    OutboxRow,
    ProcessRow,
    RequestRow,
    VoteRow,
)
from ibmflow.testing import FixedClock
from ibmflow.web import csrf
from ibmflow.web.app import FORM_ALLOWANCE, MB
from ibmflow.web.server import redact

REPO = Path(__file__).resolve().parent.parent
KEY = "ma-2026"
CUSTOMS, HEALTH, CHAIR, BORDER_GUARD = "MOF_CUSTOMS", "MOH", "CHAIR", "MOI_BORDER_GUARD"
CUSTOMS_FOCAL, CUSTOMS_DEPUTY = "focal@customs.example", "deputy@customs.example"
HEALTH_FOCAL = "focal@health.example"
BORDER_MEMBER, BORDER_FOCAL = "member@borderguard.example", "focal@borderguard.example"
SCORES = {f"f_{item.name}": "4" for item in KINDS["self_assessment"].fields}
CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# --- the process and its links (the server: `start`, from webserver.py) ---------------------------------------------------------


@pytest.fixture
def process(ctx: Context, tmp_path: Path) -> str:
    """A process at stakeholder identification with the demo roster imported (people, members)."""
    at_stakeholder_identification(
        ctx, KEY, tmp_path, title="National IBM strategy", starter="chair@ma.example"
    )
    return KEY


@pytest.fixture
def client(start: Callable[[Context], str], ctx: Context, process: str) -> Iterator[httpx.Client]:
    """A real HTTP client on a server started for the test's process."""
    with httpx.Client(base_url=start(ctx), timeout=20) as http:
        yield http


def send(ctx: Context, kind: str, *codes: str, instructions: str = "") -> dict[str, int]:
    """Send requests of `kind` to institutions; their ids by institution code."""
    ids = requests.send_requests(
        ctx, KEY, kind=kind, actor=COORDINATOR, institutions=list(codes), instructions=instructions
    )
    return dict(zip(codes, ids, strict=True))


def links(ctx: Context, request_id: int) -> dict[str, str]:
    """The link token mailed to each recipient of a request, read from the outbox."""
    found = {}
    with ctx.db.reading() as session:
        for row in session.exec(select(OutboxRow).where(OutboxRow.request_id == request_id)):
            match = re.search(r"/r/([A-Za-z0-9_-]+)", one_with_text(ctx, row).text_body or "")
            if match:
                found[row.to_addrs[0]] = match.group(1)
    assert found, f"no link mailed for request #{request_id}"
    return found


def vote_request(ctx: Context, decision_id: int, code: str) -> int:
    with ctx.db.reading() as session:
        rows = session.exec(
            select(RequestRow).where(
                RequestRow.decision_id == decision_id, RequestRow.kind == "vote"
            )
        ).all()
        codes = {r.id: r for r in rows}
        from ibmflow.storage import repository as repo

        process = repo.get_process(session, KEY)
        by_code = {i.id: i.code for i in repo.institutions(session, process)}
        return next(rid or 0 for rid, r in codes.items() if by_code[r.institution_id] == code)


def request_row(ctx: Context, request_id: int) -> RequestRow:
    with ctx.db.reading() as session:
        row = session.get(RequestRow, request_id)
        assert row is not None
        session.expunge(row)  # kept as read: the session's rollback would expire it
        return row


def snapshot(ctx: Context) -> dict[str, Any]:
    """Everything an answer could change."""
    with ctx.db.reading() as session:

        def count(model: Any, *where: Any) -> int:
            return int(session.exec(select(func.count()).select_from(model).where(*where)).one())

        return {
            "audit": count(AuditEventRow),
            "requests": [
                (r.id, r.status, r.answer_text, r.answer_fields)
                for r in session.exec(select(RequestRow).order_by(col(RequestRow.id)))
            ],
            "used_links": count(LinkTokenRow, col(LinkTokenRow.used_at).is_not(None)),
            "votes": count(VoteRow),
            "documents": count(DocumentRow),
            "outbox": count(OutboxRow),
            "decisions": [d.status for d in session.exec(select(DecisionRow))],
        }


def audit_events(ctx: Context, action: str) -> list[AuditEventRow]:
    with ctx.db.reading() as session:
        rows = list(session.exec(select(AuditEventRow).where(AuditEventRow.action == action)))
        session.expunge_all()
        return rows


def opened(client: httpx.Client, token: str) -> str:
    """Open a link as a browser does (which sets the CSRF cookie); the form's CSRF token."""
    page = client.get(f"/r/{token}")
    assert page.status_code == 200, page.text
    return csrf_of(page)


def post(
    client: httpx.Client,
    token: str,
    data: dict[str, str],
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
) -> httpx.Response:
    # A file part is always sent, as browsers do, so that the form is multipart.
    return client.post(f"/r/{token}", data=data, files=files or [("files", ("", b"", "x"))])


def problem_text(page: httpx.Response) -> str:
    match = re.search(
        r'<div class="problem" role="alert" id="problem">(.*?)</div>', page.text, re.S
    )
    assert match, f"no problem shown: {page.status_code}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1)))


# --- answering ------------------------------------------------------------------------------------


def test_looking_twice_then_answering_once_records_the_answer_and_consumes_the_link(
    ctx: Context, client: httpx.Client
) -> None:
    rid = send(ctx, "self_assessment", CUSTOMS, instructions="Use the 2010 grid.")[CUSTOMS]
    token = links(ctx, rid)[CUSTOMS_FOCAL]
    before = snapshot(ctx)
    first, second = client.get(f"/r/{token}"), client.get(f"/r/{token}")
    assert first.status_code == second.status_code == client.head(f"/r/{token}").status_code == 200
    assert snapshot(ctx) == before, "opening a link recorded something"
    page = first.text
    for expected in (
        "Self-assessment",
        "National IBM strategy",
        "Ministry of Finance \N{EN DASH} Customs Directorate",
        "Identification of and contact with key stakeholders",
        "Rachid Alaoui",
        "Use the 2010 grid.",
        "Tuesday 20 January 2026, 23:59 Morocco time",
        'name="f_legal_framework" value="5"',
        'type="file"',
    ):
        assert expected in page
    assert re.search(r'<label for="text">', page) and re.search(r'<label for="files">', page)

    answer = post(
        client,
        token,
        {"csrf_token": csrf_of(first), **SCORES, "text": "Grid attached."},
        [("files", ("grid.pdf", b"%PDF-1.7 grid", "application/pdf"))],
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{token}/done"
    thanks = client.get(f"/r/{token}/done")
    assert thanks.status_code == 200 and "your answer is recorded" in thanks.text

    row = request_row(ctx, rid)
    assert (row.status, row.answered_via, row.answered_by) == ("answered", "link", CUSTOMS_FOCAL)
    assert row.answer_text == "Grid attached."
    assert row.answer_fields is not None
    assert {k: v for k, v in row.answer_fields.items() if k != "documents"} == {
        k.removeprefix("f_"): 4 for k in SCORES
    }
    assert len(row.answer_fields["documents"]) == 1
    (event,) = audit_events(ctx, "request.answered")
    assert event.actor == CUSTOMS_FOCAL and event.entity == f"request:{rid}"
    assert json.loads(event.after_json or "{}")["via"] == "link"
    after = snapshot(ctx)
    assert after["used_links"] == 2  # the focal point's link and the deputy's
    assert after["documents"] == 1
    with ctx.db.reading() as session:
        kinds = [r.kind for r in session.exec(select(OutboxRow).where(OutboxRow.request_id == rid))]
    assert "answer_receipt" in kinds


def test_a_second_answer_is_refused_and_records_nothing(ctx: Context, client: httpx.Client) -> None:
    rid = send(ctx, "consultation_comments", CUSTOMS)[CUSTOMS]
    mailed = links(ctx, rid)
    token = mailed[CUSTOMS_FOCAL]
    form = {"csrf_token": opened(client, token), "text": "No comments"}
    assert post(client, token, form).status_code == 303
    before = snapshot(ctx)

    again = post(client, token, {**form, "text": "Second thoughts"})
    assert again.status_code == 410
    assert "already been answered" in again.text
    assert client.get(f"/r/{token}").status_code == 410
    deputy = client.get(f"/r/{mailed[CUSTOMS_DEPUTY]}")  # the institution answered once, for all
    assert deputy.status_code == 410 and "already been answered" in deputy.text
    assert snapshot(ctx) == before
    assert request_row(ctx, rid).answer_text == "No comments"


def test_simultaneous_answers_on_one_link_record_one(ctx: Context, client: httpx.Client) -> None:
    """A double (or sextuple) click: one answer recorded, the other posts told it is answered."""
    rid = send(ctx, "consultation_comments", CUSTOMS)[CUSTOMS]
    token = links(ctx, rid)[CUSTOMS_FOCAL]
    form = {"csrf_token": opened(client, token)}
    statuses: list[int] = []

    def click(n: int) -> None:
        with httpx.Client(base_url=client.base_url, cookies=client.cookies, timeout=20) as http:
            statuses.append(post(http, token, {**form, "text": f"answer {n}"}).status_code)

    clicks = [threading.Thread(target=click, args=(n,)) for n in range(6)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()
    assert sorted(statuses) == [303, 410, 410, 410, 410, 410]
    assert len(audit_events(ctx, "request.answered")) == 1


@sqlite_only
def test_an_expired_link_is_refused_and_records_nothing(
    ctx: Context, clock: FixedClock, client: httpx.Client
) -> None:
    rid = send(ctx, "activity_inventory", CUSTOMS)[CUSTOMS]
    token = links(ctx, rid)[CUSTOMS_FOCAL]
    form = {"csrf_token": opened(client, token), "f_ongoing": "x", "f_planned": "y"}
    row = request_row(ctx, rid)
    assert row.due_at is not None
    before = snapshot(ctx)
    clock.at = row.due_at + timedelta(days=ctx.settings.mail_token_grace_days, minutes=1)
    page = client.get(f"/r/{token}")
    assert page.status_code == 410
    assert "This link has expired" in page.text and "Reply to the mail instead" in page.text
    refused = post(client, token, form)
    assert refused.status_code == 410 and "This link has expired" in refused.text
    assert snapshot(ctx) == before
    assert request_row(ctx, rid).status == "sent"


@sqlite_only
def test_a_forged_or_mangled_link_is_refused_and_records_nothing(
    ctx: Context, client: httpx.Client
) -> None:
    rid = send(ctx, "consultation_comments", CUSTOMS)[CUSTOMS]
    real = links(ctx, rid)[CUSTOMS_FOCAL]
    real_csrf = opened(client, real)
    before = snapshot(ctx)
    forged = secrets.token_urlsafe(24)
    for token in (forged, real[:-1], "x" * 300):
        page = client.get(f"/r/{token}")
        assert page.status_code == 404, token
        assert "This link is not valid" in page.text
    # The link is checked before the form is read: unknown, whatever CSRF token comes with it.
    assert post(client, forged, {"csrf_token": real_csrf, "text": "x"}).status_code == 404
    secret = csrf.load_secret(ctx.settings.data_dir)
    forged_csrf = csrf.token_for(secret, requests.token_hash(forged))
    client.cookies.set(csrf.cookie_name(secret, requests.token_hash(forged)), forged_csrf)
    page = post(client, forged, {"csrf_token": forged_csrf, "text": "x"})
    assert page.status_code == 404 and "This link is not valid" in page.text
    assert snapshot(ctx) == before


@sqlite_only
def test_a_withdrawn_request_link_is_refused_and_records_nothing(
    ctx: Context, client: httpx.Client
) -> None:
    rid = send(ctx, "consultation_comments", CUSTOMS)[CUSTOMS]
    token = links(ctx, rid)[CUSTOMS_FOCAL]
    form = {"csrf_token": opened(client, token), "text": "Late comments"}
    requests.close(ctx, KEY, rid, status="withdrawn", reason="sent by mistake", actor=COORDINATOR)
    before = snapshot(ctx)
    page = client.get(f"/r/{token}")
    assert page.status_code == 410 and "withdrawn by the coordinator" in page.text
    assert post(client, token, form).status_code == 410
    assert snapshot(ctx) == before
    assert request_row(ctx, rid).status == "withdrawn"


def test_one_institutions_link_never_reaches_another_institutions_request(
    ctx: Context, client: httpx.Client
) -> None:
    ids = send(ctx, "consultation_comments", CUSTOMS, HEALTH)
    customs, health = links(ctx, ids[CUSTOMS])[CUSTOMS_FOCAL], links(ctx, ids[HEALTH])[HEALTH_FOCAL]
    page = client.get(f"/r/{customs}")
    assert "Customs Directorate" in page.text and "Ministry of Health" not in page.text
    assert health not in page.text and f"#{ids[HEALTH]}" not in page.text
    for listing in ("/r", "/r/", "/requests", f"/r/{customs}/{ids[HEALTH]}"):
        assert client.get(listing).status_code in (404, 405), listing

    # Customs' CSRF token (and cookie) do not open Health's form.
    before = snapshot(ctx)
    customs_csrf = csrf_of(page)
    assert post(client, health, {"csrf_token": customs_csrf, "text": "x"}).status_code == 403
    assert snapshot(ctx) == before

    # Ids slipped into the form are ignored: the link alone says which request is answered.
    tampered = {
        "csrf_token": customs_csrf,
        "text": "Customs' comments",
        "request_id": str(ids[HEALTH]),
        "institution": HEALTH,
        "token": health,
    }
    assert post(client, customs, tampered).status_code == 303
    assert request_row(ctx, ids[CUSTOMS]).status == "answered"
    untouched = request_row(ctx, ids[HEALTH])
    assert (untouched.status, untouched.answer_text) == ("sent", None)
    assert client.get(f"/r/{health}").status_code == 200


@sqlite_only
def test_a_post_without_the_links_csrf_token_and_cookie_is_forbidden(
    ctx: Context, client: httpx.Client
) -> None:
    rid = send(ctx, "consultation_comments", CUSTOMS)[CUSTOMS]
    token = links(ctx, rid)[CUSTOMS_FOCAL]
    good = opened(client, token)
    cookies = dict(client.cookies)
    assert len(cookies) == 1
    before = snapshot(ctx)

    assert post(client, token, {"text": "no field"}).status_code == 403
    assert post(client, token, {"csrf_token": "0" * 64, "text": "wrong field"}).status_code == 403
    client.cookies.clear()
    page = post(client, token, {"csrf_token": good, "text": "no cookie (another site)"})
    assert page.status_code == 403 and "Open the link from the mail again" in page.text
    client.cookies.update({name: "0" * 64 for name in cookies})
    assert post(client, token, {"csrf_token": good, "text": "wrong cookie"}).status_code == 403
    assert snapshot(ctx) == before


# --- uploads -------------------------------------------------------------------------------------


@sqlite_only
def test_uploads_too_large_or_of_a_refused_type_are_refused_and_record_nothing(
    ctx: Context, start: Callable[[Context], str], process: str
) -> None:
    ctx.settings = dataclasses.replace(ctx.settings, answers_max_upload_mb=1)
    rid = send(ctx, "chapter_draft", CUSTOMS)[CUSTOMS]
    token = links(ctx, rid)[CUSTOMS_FOCAL]
    with httpx.Client(base_url=start(ctx), timeout=20) as client:
        base = {"csrf_token": opened(client, token), "text": "Our chapter"}
        before = snapshot(ctx)

        # Past the request's cap: refused before the body is read (Content-Length says so).
        huge = post(client, token, base, [("files", ("draft.pdf", b"x" * (2 * MB + 1), "a/b"))])
        assert huge.status_code == 413
        assert "larger than 1 MB in all" in problem_text(huge)

        # Past the cap without a Content-Length (chunked): reading stops at the cap.
        built = client.build_request(
            "POST",
            f"/r/{token}",
            data=base,
            files=[("files", ("draft.pdf", b"y" * (MB + FORM_ALLOWANCE + 1024), "a/b"))],
        )
        body = built.read()
        headers = {"content-type": built.headers["content-type"]}
        chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
        chunked = client.post(f"/r/{token}", content=chunks, headers=headers)
        assert chunked.status_code == 413
        assert "larger than 1 MB in all" in problem_text(chunked)

        # One file just over the limit: reading stops there (tests/test_web_uploads.py).
        big = post(client, token, base, [("files", ("draft.pdf", b"z" * (MB + 10), "a/b"))])
        assert big.status_code == 413
        assert "larger than 1 MB in all" in problem_text(big)

        bad = post(client, token, base, [("files", ("tool.exe", b"MZ\x90\x00", "a/b"))])
        assert bad.status_code == 400
        assert "tool.exe: files of this type are not accepted" in problem_text(bad)
        assert ">Our chapter</textarea>" in bad.text
        assert snapshot(ctx) == before

        fine = post(client, token, base, [("files", ("draft.docx", b"PK\x03\x04", "a/b"))])
        assert fine.status_code == 303
    assert request_row(ctx, rid).status == "answered"


# --- votes ---------------------------------------------------------------------------------------


def test_a_vote_by_link_is_cast_and_answers_the_vote_request(
    ctx: Context, client: httpx.Client
) -> None:
    decision = decisions.open_decision(ctx, KEY, subject="terms_of_reference", actor=COORDINATOR)
    rid = vote_request(ctx, decision, CHAIR)
    token = links(ctx, rid)["chair@interior.example"]
    page = client.get(f"/r/{token}")
    assert page.status_code == 200
    assert "Vote: Adopt the Terms of Reference" in page.text
    assert 'value="approve"' in page.text and 'value="object"' in page.text
    assert '<label for="reason">' in page.text
    before = snapshot(ctx)

    missing = post(client, token, {"csrf_token": csrf_of(page)})
    assert missing.status_code == 400 and "approve or object" in problem_text(missing)
    assert snapshot(ctx) == before

    assert (
        post(client, token, {"csrf_token": csrf_of(page), "choice": "approve"}).status_code == 303
    )
    (vote,) = audit_events(ctx, "vote.cast")
    after = json.loads(vote.after_json or "{}")
    assert (after["institution"], after["approve"], after["via"]) == (CHAIR, True, "link")
    row = request_row(ctx, rid)
    assert (row.status, row.answered_via) == ("answered", "link")
    assert snapshot(ctx)["decisions"] == ["open"]


def test_an_objection_needs_a_reason_and_then_rejects_the_decision(
    ctx: Context, client: httpx.Client
) -> None:
    decision = decisions.open_decision(ctx, KEY, subject="terms_of_reference", actor=COORDINATOR)
    token = links(ctx, vote_request(ctx, decision, CUSTOMS))[CUSTOMS_FOCAL]
    form = {"csrf_token": opened(client, token), "choice": "object"}
    before = snapshot(ctx)

    bare = post(client, token, {**form, "reason": "  "})
    assert bare.status_code == 400
    assert "reason for your objection" in problem_text(bare)
    assert 'value="object" checked' in bare.text
    assert snapshot(ctx) == before

    reason = "The tariff chapter is missing."
    assert post(client, token, {**form, "reason": reason}).status_code == 303
    assert snapshot(ctx)["decisions"] == ["rejected"]
    (vote,) = audit_events(ctx, "vote.cast")
    assert vote.reason == reason
    late = links(ctx, vote_request(ctx, decision, CHAIR))["chair@interior.example"]
    assert client.get(f"/r/{late}").status_code == 410  # the decision is closed: no vote needed


@sqlite_only
def test_a_representatives_link_says_whom_they_represent(
    ctx: Context, client: httpx.Client
) -> None:
    decisions.nominate(
        ctx,
        KEY,
        member=BORDER_MEMBER,
        representative=BORDER_FOCAL,
        actor=BORDER_MEMBER,
        valid_from=date(2026, 1, 1),
    )
    decision = decisions.open_decision(ctx, KEY, subject="terms_of_reference", actor=COORDINATOR)
    mailed = links(ctx, vote_request(ctx, decision, BORDER_GUARD))
    member_page = client.get(f"/r/{mailed[BORDER_MEMBER]}")
    assert "representing" not in member_page.text
    token = mailed[BORDER_FOCAL]
    page = client.get(f"/r/{token}")
    assert "Hicham Tazi, representing Nadia Berrada" in page.text

    assert (
        post(client, token, {"csrf_token": csrf_of(page), "choice": "approve"}).status_code == 303
    )
    (vote,) = audit_events(ctx, "vote.cast")
    assert (vote.actor, vote.on_behalf_of) == (BORDER_FOCAL, BORDER_MEMBER)
    assert client.get(f"/r/{mailed[BORDER_MEMBER]}").status_code == 410


# --- structured answers, escaping ----------------------------------------------------------------


@sqlite_only
def test_a_score_out_of_range_is_refused_naming_the_field_and_keeping_the_input(
    ctx: Context, client: httpx.Client
) -> None:
    rid = send(ctx, "self_assessment", HEALTH)[HEALTH]
    token = links(ctx, rid)[HEALTH_FOCAL]
    form = {"csrf_token": opened(client, token), **SCORES, "f_procedures": "9", "text": "Notes"}
    before = snapshot(ctx)
    page = post(client, token, form)
    assert page.status_code == 400
    assert "Procedures: give a score from 1 to 5." in problem_text(page)
    assert 'id="problem-procedures"' in page.text
    assert 'name="f_legal_framework" value="4" checked' in page.text
    assert ">Notes</textarea>" in page.text
    assert snapshot(ctx) == before

    assert post(client, token, {**form, "f_procedures": "2"}).status_code == 303
    fields = request_row(ctx, rid).answer_fields
    assert fields is not None and fields["procedures"] == 2


@sqlite_only
def test_html_in_instructions_and_answers_is_shown_escaped(
    ctx: Context, client: httpx.Client
) -> None:
    rid = send(
        ctx, "activity_inventory", CUSTOMS, instructions="<b>List</b> <script>alert(1)</script>"
    )[CUSTOMS]
    token = links(ctx, rid)[CUSTOMS_FOCAL]
    page = client.get(f"/r/{token}")
    assert "&lt;b&gt;List&lt;/b&gt; &lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>" not in page.text
    injected = '</textarea><img src=x onerror="alert(1)">'
    back = post(
        client, token, {"csrf_token": csrf_of(page), "f_ongoing": injected, "text": injected}
    )
    assert back.status_code == 400  # "planned" is missing
    assert "Planned border management activities: please fill this in." in problem_text(back)
    assert "<img" not in back.text
    assert "&lt;/textarea&gt;&lt;img src=x onerror=&#34;alert(1)&#34;&gt;</textarea>" in back.text


# --- logs, headers, health, secret ---------------------------------------------------------------


@sqlite_only
def test_the_server_log_never_shows_a_link_token(
    ctx: Context, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    rid = send(ctx, "consultation_comments", CUSTOMS)[CUSTOMS]
    token = links(ctx, rid)[CUSTOMS_FOCAL]
    forged = secrets.token_urlsafe(24)
    with caplog.at_level(logging.INFO, logger="uvicorn"):
        form = {"csrf_token": opened(client, token), "text": "No comments"}
        assert post(client, token, {"text": "no csrf"}).status_code == 403
        assert post(client, token, form).status_code == 303
        assert client.get(f"/r/{token}/done").status_code == 200
        assert client.get(f"/r/{forged}?again=1").status_code == 404
        time.sleep(0.2)  # the access log is written as each response ends
    access = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert len(access) >= 5
    assert any('"POST /r/… HTTP/1.1" 303' in line for line in access)
    assert any('"GET /r/…/done HTTP/1.1" 200' in line for line in access)
    assert token not in caplog.text and forged not in caplog.text
    for record in caplog.records:
        assert token not in record.getMessage()


@sqlite_only
def test_ibmflow_serve_serves_the_links_and_keeps_tokens_out_of_its_log(
    ctx: Context, clock: FixedClock, env: dict[str, str], process: str, tmp_path: Path
) -> None:
    clock.at = datetime.now(UTC)  # the server runs on the system clock: the link must be current
    token = links(ctx, send(ctx, "consultation_comments", CUSTOMS)[CUSTOMS])[CUSTOMS_FOCAL]
    port = free_port()
    code = "import sys; from ibmflow.cli import run, web; sys.exit(run(sys.argv[1:]))"
    server = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, **env, "IBMFLOW_CONFIG": str(REPO / "config.toml")},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    assert http.get("/healthz").status_code == 200
                    break
                except httpx.TransportError:
                    assert server.poll() is None and time.monotonic() < deadline, "no server"
                    time.sleep(0.1)
            page = http.get(f"/r/{token}")
            assert page.status_code == 200 and "Customs Directorate" in page.text
            assert http.post(f"/r/{token}", data={"text": "no csrf"}).status_code == 403
    finally:
        server.send_signal(signal.SIGTERM)  # as a service manager stops it
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert f"Serving the web console on http://127.0.0.1:{port}/" in out
    assert '"GET /r/… HTTP/1.1" 200' in out and '"POST /r/… HTTP/1.1" 403' in out  # access log
    assert token not in out + err
    secret = Path(env["IBMFLOW_PATHS_DATA_DIR"]) / csrf.SECRET_FILE
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_redaction_covers_every_shape_of_link_path() -> None:
    assert redact('"GET /r/abc-DEF_123 HTTP/1.1"') == '"GET /r/… HTTP/1.1"'
    assert redact("/r/abc/done?x=1 and /r/other#frag") == "/r/…/done?x=1 and /r/…#frag"
    assert redact("https://ibm.example/r/tok") == "https://ibm.example/r/…"
    assert redact("GET /healthz") == "GET /healthz"


@sqlite_only
def test_every_response_carries_the_security_headers(ctx: Context, client: httpx.Client) -> None:
    token = links(ctx, send(ctx, "consultation_comments", CUSTOMS)[CUSTOMS])[CUSTOMS_FOCAL]
    responses = [
        client.get(f"/r/{token}"),
        client.get(f"/r/{secrets.token_urlsafe(24)}"),
        post(client, token, {"text": "no csrf"}),
        client.get("/healthz"),
        client.get("/nowhere"),
    ]
    for response in responses:
        headers = response.headers
        assert headers["referrer-policy"] == "no-referrer", response.url
        assert headers["content-security-policy"] == CSP
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-store"
        assert "server" not in headers
    cookie = responses[0].headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/;" not in cookie
    assert client.get("/docs").status_code == 404 and client.get("/openapi.json").status_code == 404


@sqlite_only
def test_health_and_the_done_page_of_an_unanswered_link(ctx: Context, client: httpx.Client) -> None:
    health = client.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    token = links(ctx, send(ctx, "consultation_comments", CUSTOMS)[CUSTOMS])[CUSTOMS_FOCAL]
    early = client.get(f"/r/{token}/done")
    assert early.status_code == 303 and early.headers["location"] == f"../{token}"
    assert client.get(f"/r/{token}/done", follow_redirects=True).url.path == f"/r/{token}"


def test_the_secret_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    secret = csrf.load_secret(folder)
    path = folder / csrf.SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert csrf.load_secret(folder) == secret and len(secret) == 32
    path.chmod(0o644)
    assert csrf.load_secret(folder) == secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert csrf.token_for(secret, "a" * 64) != csrf.token_for(secret, "b" * 64)
    assert not csrf.verify(secret, "a" * 64, csrf.token_for(secret, "b" * 64), None)


def test_serve_is_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    from ibmflow.cli import run, web  # noqa: F401  (registers `serve`)

    assert run(["serve", "--help"]) == 0
    assert "--port" in capsys.readouterr().out


# --- languages: the addressee's, a switch, the browser's for a link that tells nothing -------------


@pytest.fixture
def french(start: Callable[[Context], str], ctx: Context, process: str) -> Iterator[httpx.Client]:
    """A server whose process speaks French (its addressees have no language of their own, so the
    process's applies), visited by a browser that prefers English."""
    ctx.settings = dataclasses.replace(ctx.settings, language="fr", languages=("en", "fr"))
    with ctx.db.transaction() as tx:
        row = tx.session.exec(select(ProcessRow).where(func.lower(ProcessRow.key) == KEY)).one()
        row.language = "fr"
        tx.session.add(row)
    with httpx.Client(
        base_url=start(ctx), timeout=20, headers={"Accept-Language": "en-GB,en;q=0.9"}
    ) as http:
        yield http


@sqlite_only
def test_the_answer_page_opens_in_the_addressees_language_and_the_receipt_follows(
    ctx: Context, french: httpx.Client
) -> None:
    decision = decisions.open_decision(ctx, KEY, subject="terms_of_reference", actor=COORDINATOR)
    token = links(ctx, vote_request(ctx, decision, CUSTOMS))[CUSTOMS_FOCAL]
    page = french.get(f"/r/{token}")
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text
    for expected in (
        "<dt>Processus</dt>",
        "<dt>Date limite</dt>",
        "heure du Maroc",
        "<legend>Votre vote</legend>",
        "> Approuver</label>",
        "> S’opposer</label>",
        "Motif (obligatoire pour vous opposer)",
        "prises à l’unanimité",
        "Envoyer mon vote",
        'href="?lang=en"',
    ):
        assert expected in page.text, expected
    assert "Send my vote" not in page.text and "Process</dt>" not in page.text

    form = {"csrf_token": csrf_of(page), "choice": "object", "reason": "Le chapitre 3 manque."}
    sent = post(french, token, form)
    assert sent.status_code == 303
    assert sent.headers["location"] == f"{token}/done"
    receipt = french.get(f"/r/{token}/done")
    assert receipt.status_code == 200
    assert '<html lang="fr">' in receipt.text
    assert "Merci\u00a0: votre réponse est enregistrée" in receipt.text
    (vote,) = audit_events(ctx, "vote.cast")
    assert vote.reason == "Le chapitre 3 manque."
    again = french.get(f"/r/{token}")  # used: still the addressee's language
    assert again.status_code == 410 and "Cette demande a déjà reçu une réponse" in again.text


@sqlite_only
def test_a_language_switch_beats_the_addressees_language_and_is_remembered(
    ctx: Context, french: httpx.Client
) -> None:
    rid = send(ctx, "activity_inventory", CUSTOMS)[CUSTOMS]
    token = links(ctx, rid)[CUSTOMS_FOCAL]
    english = french.get(f"/r/{token}?lang=en")
    assert english.status_code == 200 and '<html lang="en">' in english.text
    assert "Send the answer" in english.text and 'href="?lang=fr"' in english.text
    assert french.cookies.get("ibmflow_lang") == "en"
    remembered = french.get(f"/r/{token}")
    assert '<html lang="en">' in remembered.text and "Files (optional)" in remembered.text
    french.cookies.delete("ibmflow_lang")
    back = french.get(f"/r/{token}?lang=fr")
    assert '<html lang="fr">' in back.text and "Fichiers (facultatifs)" in back.text
    assert "Jusqu’à 10 fichiers, 20\u00a0Mo au total\u00a0; types acceptés\u00a0:" in back.text


@sqlite_only
def test_forged_and_expired_links_answer_in_the_browsers_language(
    ctx: Context, clock: FixedClock, french: httpx.Client
) -> None:
    forged = french.get("/r/" + "x" * 43)
    assert forged.status_code == 404 and '<html lang="en">' in forged.text
    assert "This link is not valid" in forged.text
    in_french = french.get("/r/" + "x" * 43, headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert '<html lang="fr">' in in_french.text
    assert "Ce lien n’est pas valide. Vérifiez qu’il a été copié en entier" in in_french.text

    rid = send(ctx, "activity_inventory", CUSTOMS)[CUSTOMS]
    token = links(ctx, rid)[CUSTOMS_FOCAL]
    row = request_row(ctx, rid)
    assert row.due_at is not None
    clock.at = row.due_at + timedelta(days=ctx.settings.mail_token_grace_days, minutes=1)
    expired = french.get(f"/r/{token}")  # the addressee reads French; the browser English
    assert expired.status_code == 410 and '<html lang="en">' in expired.text
    assert "This link has expired" in expired.text
    expired_fr = french.get(f"/r/{token}", headers={"Accept-Language": "fr"})
    assert "Ce lien a expiré. Répondez plutôt au courriel" in expired_fr.text


@sqlite_only
def test_every_sentence_of_the_answer_pages_is_marked_for_translation(
    start: Callable[[Context], str], ctx: Context, process: str
) -> None:
    """Rendered in the pseudo-locale, the answer page (a structured request, a vote by a
    representative), its problem display and its receipt show no English outside the catalog's
    brackets; what is left is data (names, titles, labels of request kinds and fields)."""
    ctx.settings = dataclasses.replace(ctx.settings, languages=("en", "fr", "en_XA"))
    decisions.nominate(
        ctx,
        KEY,
        member=BORDER_MEMBER,
        representative=BORDER_FOCAL,
        actor=BORDER_MEMBER,
        valid_from=date(2026, 1, 1),
    )
    decision = decisions.open_decision(ctx, KEY, subject="terms_of_reference", actor=COORDINATOR)
    structured = send(ctx, "self_assessment", CUSTOMS, instructions="Use the 2010 grid.")[CUSTOMS]
    with httpx.Client(base_url=start(ctx), timeout=20) as http:
        vote_token = links(ctx, vote_request(ctx, decision, BORDER_GUARD))[BORDER_FOCAL]
        form_token = links(ctx, structured)[CUSTOMS_FOCAL]
        pages = [http.get(f"/r/{t}?lang=en_XA") for t in (vote_token, form_token)]
        assert all(p.status_code == 200 for p in pages)
        assert '<html lang="en-XA">' in pages[0].text
        sent = post(http, vote_token, {"csrf_token": csrf_of(pages[0]), "choice": "approve"})
        assert sent.status_code == 303
        pages.append(http.get(f"/r/{vote_token}/done"))
        pages.append(http.get("/r/" + "x" * 43))
    assert pages[2].status_code == 200 and pages[3].status_code == 404
    data = [
        "National IBM strategy",
        "Identification of and contact with key stakeholders",
        "Ministry of Finance \N{EN DASH} Customs Directorate",
        "Ministry of the Interior \N{EN DASH} Border Guard",
        KINDS["vote"].label.capitalize(),
        KINDS["self_assessment"].label.capitalize(),
        "Rachid Alaoui",
        "Hicham Tazi",
        "Nadia Berrada",
        "Use the 2010 grid.",
        "Adopt the Terms of Reference",
        KINDS["self_assessment"].label,
        *(item.label for item in KINDS["self_assessment"].fields),
        *ctx.settings.answers_allowed_types,
        "English",
        "Français",
    ]
    for page in pages:
        assert unmarked_english(page.text, data) == [], visible_text(page.text)
