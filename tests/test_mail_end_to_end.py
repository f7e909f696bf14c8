"""End to end by mail: a process goes through all nine steps while every answer and vote arrives by
link (a real HTTP server) or by reply (ibmflow's real SMTP receiver); the mails leave through the
outbox and the real aiosmtplib client to a real SMTP server on loopback, where the focal points
"read" them."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx
import pytest
from aiosmtpd.controller import Controller
from helpers import free_port
from smtpsink import Sink

from ibmflow.demo import VOTERS, demo_roster_text
from ibmflow.entrypoints.receiver import controller
from ibmflow.services import audit_log, decisions, processes, records, requests, roster
from ibmflow.services.context import Context
from ibmflow.services.dispatch import build_transport, dispatch_once
from ibmflow.services.documents import Upload
from ibmflow.web.server import build_server

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

KEY = "MA-MAIL"
COORDINATOR = "coordinator@interior.example"
INVOLVED = [*VOTERS, "MOH"]
FOCAL = {  # institution -> the focal point who answers for it in this run
    "CHAIR": "chair@interior.example",
    "MFA_VISA": "visa@mfa.example",
    "MOI_BORDER_GUARD": "focal@borderguard.example",
    "MOF_CUSTOMS": "focal@customs.example",
    "MOA_VETERINARY": "focal@veterinary.example",
    "MOA_PHYTOSANITARY": "focal@phyto.example",
    "MOH": "focal@health.example",
}


@dataclass
class World:
    """The servers around ibmflow, and the focal points' side of the mail."""

    ctx: Context
    sink: Sink
    web: httpx.Client
    inbound_port: int
    answered_by: dict[str, int] = field(default_factory=lambda: {"link": 0, "reply": 0})
    used: set[str] = field(default_factory=set)
    turn: int = 0

    def deliver(self) -> None:
        """Run the dispatcher once: the outbox goes to the SMTP server."""
        report = asyncio.run(
            dispatch_once(self.ctx, build_transport(self.ctx.settings), worker_id="e2e")
        )
        assert report is not None

    def next_request_to(self, address: str) -> EmailMessage:
        """The oldest request or vote mail a person received and has not answered yet."""
        self.deliver()
        mails = [
            m
            for to, m in self.sink.messages
            if address in to and "/r/" in _text(m) and m["Message-ID"] not in self.used
        ]
        assert mails, f"{address} has no request left to answer"
        self.used.add(mails[0]["Message-ID"])
        return mails[0]

    def answer(
        self, address: str, *, link: dict[str, str] | None = None, reply: str | None = None
    ) -> None:
        """Answer the oldest open request to `address`: by link, by reply, or alternating."""
        mail = self.next_request_to(address)
        self.turn += 1
        use_link = self.turn % 2 == 0 if link is not None and reply is not None else bool(link)
        if use_link:
            token = re.search(r"/r/([A-Za-z0-9_-]+)", _text(mail))
            assert token
            page = self.web.get(f"/r/{token.group(1)}")
            assert page.status_code == 200, page.text
            csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
            assert csrf
            response = self.web.post(
                f"/r/{token.group(1)}",
                data={"csrf_token": csrf.group(1), **(link or {})},
                files=[("files", ("", b"", "application/octet-stream"))],
            )
            assert response.status_code in (200, 303), response.text
            self.answered_by["link"] += 1
        else:
            answer = EmailMessage()
            answer["From"] = f"Focal point <{address}>"
            answer["To"] = mail["Reply-To"]
            answer["Subject"] = f"Re: {mail['Subject']}"
            answer["Message-ID"] = f"<reply-{self.turn}@{address.split('@')[1]}>"
            answer["In-Reply-To"] = mail["Message-ID"]
            answer["References"] = mail["Message-ID"]
            answer.set_content(
                f"{reply}\n\nOn Monday, the coordinator wrote:\n> {_text(mail)[:80]}"
            )

            async def send() -> None:
                client = aiosmtplib.SMTP(
                    hostname="127.0.0.1", port=self.inbound_port, start_tls=False, timeout=30
                )
                async with client:
                    await client.send_message(answer)

            asyncio.run(send())
            self.answered_by["reply"] += 1


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


@pytest.fixture
def world(ctx: Context) -> Iterator[World]:
    sink = Sink()
    outgoing = Controller(sink, hostname="127.0.0.1", port=free_port())
    outgoing.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    ctx.settings = replace(
        ctx.settings,
        smtp_host="127.0.0.1",
        smtp_port=outgoing.port,
        smtp_security="none",
        mail_base_url=base_url,
    )
    server = build_server(ctx, log_level="warning", log_config=None)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.01)
    inbound_port = free_port()
    receiver = controller(ctx, lmtp=False, host="127.0.0.1", port=inbound_port)
    receiver.start()
    try:
        with httpx.Client(base_url=base_url, timeout=30) as web:
            yield World(ctx=ctx, sink=sink, web=web, inbound_port=inbound_port)
    finally:
        receiver.stop()
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        outgoing.stop()


def _advance(world: World, to: str) -> None:
    moved = processes.fire(world.ctx, KEY, "complete", actor=COORDINATOR)
    assert moved.outcome.after == to, processes.status(world.ctx, KEY).blockers


def _vote_all(world: World, subject: str) -> None:
    decisions.open_decision(world.ctx, KEY, subject=subject, actor=COORDINATOR)
    for member in VOTERS.values():
        world.answer(member, link={"choice": "approve"}, reply="approve")


def test_every_answer_of_the_nine_steps_comes_by_link_or_by_reply(
    world: World, tmp_path: Path
) -> None:
    ctx = world.ctx
    processes.start_process(
        ctx, title="Morocco national IBM strategy", key=KEY, actor="chair@interior.example"
    )
    records.appoint_coordinator(
        ctx,
        KEY,
        name="Karim Benali",
        email=COORDINATOR,
        authority="Head of Government",
        reference="Decree 2.26.101",
        appointed_on=date(2026, 1, 5),
        actor="chair@interior.example",
    )
    path = tmp_path / "roster.toml"
    path.write_text(demo_roster_text(), encoding="utf-8")
    roster.import_roster(ctx, KEY, path, actor=COORDINATOR)
    _advance(world, "stakeholder_identification")

    # 2. Entering the step mailed an acknowledgement request to every permanent focal point.
    acks = [r for r in requests.list_requests(ctx, KEY) if r.kind == "acknowledge_contact"]
    assert len(acks) == 7 and {r.status for r in acks} == {"sent"}
    for request in acks:
        world.answer(
            request.focal_point,
            link={"text": "Confirmed."},
            reply="I confirm, I am the focal point.",
        )
    _advance(world, "coordinating_bodies")

    # 3. ToR and task force by the coordinator; the IAWG votes by link and by reply.
    records.add_task_force(
        ctx, KEY, name="Situation analysis", lead="MOI_BORDER_GUARD", actor=COORDINATOR
    )
    tor = Upload("tor.pdf", "application/pdf", b"%PDF terms of reference")
    records.attach_document(ctx, KEY, tor, kind="terms_of_reference", actor=COORDINATOR)
    _vote_all(world, "terms_of_reference")
    _advance(world, "objectives")

    # 4. Objectives.
    records.attach_document(ctx, KEY, tor, kind="objectives", actor=COORDINATOR)
    _vote_all(world, "objectives")
    _advance(world, "situation_analysis")

    # 5. The step opened the self-assessment and the inventory for every involved institution.
    scores = {
        f"f_{name}": "3"
        for name in (
            "legal_framework",
            "institutional_framework",
            "procedures",
            "human_resources",
            "information_exchange",
            "infrastructure",
        )
    }
    score_lines = "\n".join(f"{name[2:]}: 3" for name in scores)
    for code in INVOLVED:
        world.answer(FOCAL[code], link={**scores, "text": "grid"}, reply=score_lines)
        world.answer(
            FOCAL[code],
            link={"f_ongoing": "Joint patrols", "f_planned": "New posts"},
            reply="ongoing: Joint patrols\nplanned: New posts",
        )
    records.attach_document(ctx, KEY, tor, kind="consolidated_report", actor=COORDINATOR)
    _vote_all(world, "consolidated_report")
    _advance(world, "chapter_drafting")

    # 6. Chapters (coordinator's work).
    records.add_chapter(ctx, KEY, title="Border checks", lead="MOI_BORDER_GUARD", actor=COORDINATOR)
    records.submit_chapter(ctx, KEY, title="Border checks", upload=tor, actor=COORDINATOR)
    records.attach_document(ctx, KEY, tor, kind="assembled_draft", actor=COORDINATOR)
    _advance(world, "consultation")

    # 7. The draft went to every institution; each answers.
    for code in INVOLVED:
        world.answer(FOCAL[code], link={"text": "No comments"}, reply="No comments from us.")
    _advance(world, "final_preparation")

    # 8. Final document and the decision to submit it.
    records.attach_document(ctx, KEY, tor, kind="final_document", actor=COORDINATOR)
    _vote_all(world, "submission_for_adoption")
    _advance(world, "adoption")

    # 9. Adoption.
    records.record_adoption(
        ctx,
        KEY,
        authority="Council of Government",
        reference="Decision 12/2026",
        adopted_on=date(2026, 11, 20),
        actor=COORDINATOR,
    )
    _advance(world, "adopted")

    answered = [r for r in requests.list_requests(ctx, KEY) if r.status == "answered"]
    assert {r.answered_via for r in answered} == {"link", "reply"}
    assert world.answered_by["link"] > 10 and world.answered_by["reply"] > 10
    assert not [r for r in answered if r.answered_via == "cli"]
    world.deliver()
    adopted = [m for _, m in world.sink.messages if "is adopted" in str(m["Subject"])]
    assert adopted, "the adoption was announced"
    assert all(m["Auto-Submitted"] == "auto-generated" for _, m in world.sink.messages)
    assert audit_log.verify_chain(ctx).ok
