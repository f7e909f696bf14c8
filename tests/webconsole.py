"""What the console, API, access and browser tests share: two processes with the demo roster, an
account per role, logging in with a real HTTP client, and reading forms back from the pages."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from scenarios import at_stakeholder_identification
from sqlalchemy import func
from sqlmodel import col, select

from ibmflow.access import ADMINISTRATOR, CHAIR, COORDINATOR, MANAGER
from ibmflow.demo import COORDINATOR as COORDINATOR_EMAIL
from ibmflow.services import accounts, decisions, inbound, records, requests
from ibmflow.services.context import Context
from ibmflow.services.documents import Upload
from ibmflow.storage.tables import AuditEventRow, OutboxRow, RequestRow

MINE, THEIRS = "MA-1", "TN-1"
PASSWORD = "a long enough password"
EMAILS = {
    COORDINATOR: COORDINATOR_EMAIL,
    CHAIR: "chair@interior.example",
    MANAGER: "manager@cabinet.example",
    ADMINISTRATOR: "admin@ibmflow.example",
}
OTHER_COORDINATOR = "coordinator@tunisia.example"


def start_process(ctx: Context, key: str, tmp_path: Path) -> None:
    """A process at stakeholder identification, its coordinator appointed, the demo roster
    recorded without the step's requests (the tests send them)."""
    at_stakeholder_identification(
        ctx,
        key,
        tmp_path,
        title=f"National IBM strategy {key}",
        coordinator=COORDINATOR_EMAIL,
        requests=False,
    )


def add_accounts(ctx: Context, *, other: bool = True) -> None:
    """One account per role on MA-1 (the administrator sees all), a coordinator of TN-1."""
    for role, email in EMAILS.items():
        accounts.add_user(
            ctx,
            email=email,
            name=f"The {role}",
            role=role,
            password=PASSWORD,
            processes=[MINE],
            actor="setup",
        )
    if not other:
        return
    accounts.add_user(
        ctx,
        email=OTHER_COORDINATOR,
        name="Other coordinator",
        role=COORDINATOR,
        password=PASSWORD,
        processes=[THEIRS],
        actor="setup",
    )


@dataclass
class Site:
    """The console of a test: its URL, its context, and the objects of each process."""

    url: str
    ctx: Context
    # key -> {"request": id, "decision": id, "inbound": id, "mail": id, "document": id}
    objects: dict[str, dict[str, int]]
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self) -> httpx.Client:
        """A new HTTP client (closed when the test ends)."""
        client = httpx.Client(base_url=self.url, timeout=30)
        self.clients.append(client)
        return client


def _objects(ctx: Context, key: str) -> dict[str, int]:
    """An object of each kind in a process: a request, a decision, a quarantined mail, a mail,
    a document."""
    rid = requests.send_requests(
        ctx, key, kind="acknowledge_contact", scope="permanent", actor=COORDINATOR_EMAIL
    )[0]
    with ctx.db.reading() as session:
        request = session.get(RequestRow, rid)
        assert request is not None
        reply_key = request.reply_key
        mail = session.exec(
            select(OutboxRow.id).where(OutboxRow.request_id == rid).order_by(col(OutboxRow.id))
        ).first()
    stranger = (
        f"From: stranger@elsewhere.example\r\nTo: replies+{reply_key}@ibmflow.invalid\r\n"
        f"Subject: Re: request\r\nMessage-ID: <{key}@elsewhere.example>\r\n\r\nHello\r\n"
    ).encode()
    outcome = inbound.receive(
        ctx,
        stranger,
        via="smtp",
        envelope_from="stranger@elsewhere.example",
        envelope_to=[f"replies+{reply_key}@ibmflow.invalid"],
    )
    document = records.attach_document(
        ctx, key, _file(ctx, key), kind="other", actor=COORDINATOR_EMAIL
    )
    decision = decisions.open_decision(ctx, key, subject="other", actor=COORDINATOR_EMAIL)
    assert mail is not None and outcome.inbound_id is not None
    return {
        "request": rid,
        "decision": decision,
        "inbound": outcome.inbound_id,
        "mail": mail,
        "document": document,
    }


def _file(ctx: Context, key: str) -> Upload:
    return Upload(f"note-{key}.txt", "text/plain", f"A note of {key}".encode())


@pytest.fixture
def site(ctx: Context, tmp_path: Path, start: Callable[[Context], str]) -> Iterator[Site]:
    """The console on a real server: MA-1 and TN-1 with an object of each kind, the accounts."""
    url = start(ctx)
    for key in (MINE, THEIRS):
        start_process(ctx, key, tmp_path)
    objects = {key: _objects(ctx, key) for key in (MINE, THEIRS)}
    add_accounts(ctx)
    built = Site(url=url, ctx=ctx, objects=objects)
    yield built
    for client in built.clients:
        client.close()


def csrf_of(page: httpx.Response | str) -> str:
    """The CSRF token of the first form of a page."""
    text = page if isinstance(page, str) else page.text
    match = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def log_in(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    """Log in through the login form as a browser does; the response to the POST."""
    form = client.get("/login")
    assert form.status_code == 200
    return client.post(
        "/login", data={"csrf_token": csrf_of(form), "email": email, "password": password}
    )


def logged_in(site: Site, email: str) -> tuple[httpx.Client, str]:
    """A client logged in as `email`, and its session's CSRF token."""
    client = site.client()
    response = log_in(client, email)
    assert response.status_code == 303, response.text
    return client, csrf_of(client.get("/processes"))


def audit_count(ctx: Context) -> int:
    with ctx.db.reading() as session:
        return int(session.exec(select(func.count()).select_from(AuditEventRow)).one())


def text_of(page: httpx.Response) -> str:
    """A page's text without tags, spaces squeezed (to look for sentences)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text)).replace("&#39;", "'")


def refused_page(client: httpx.Client, response: httpx.Response) -> httpx.Response:
    """The process page a refused console action redirected to (post/redirect/get), as the
    browser then shows it: the refusal's message on top."""
    location = response.headers.get("location", "")
    assert response.status_code == 303 and "?refused=" in location, (
        f"not sent back to the page with a refusal: {response.status_code} {location}"
    )
    return client.get(location)


def problem_of(page: httpx.Response) -> str:
    """The refusal a page shows on top (the message region, focused)."""
    match = re.search(
        r'<div class="problem" role="alert" id="(?:problem|message)"[^>]*>(.*?)</div>',
        page.text,
        re.S,
    )
    assert match, f"no problem shown (status {page.status_code})"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).replace("&#39;", "'")


def fill(**values: Any) -> dict[str, str]:
    return {name: str(value) for name, value in values.items()}
