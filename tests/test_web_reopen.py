"""Reopening an answered request from the console's process page, through the real server: the
coordinator's form (CSRF, a reason), the new due date when the old one has passed, the ladder planned
again; nobody else is offered the form or may post it."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from outboxtext import one_with_text
from sqlmodel import col, select
from webconsole import (
    EMAILS,
    MINE,
    Site,
    audit_count,
    logged_in,
    problem_of,
    refused_page,
    text_of,
)

from ibmflow.access import CHAIR, COORDINATOR
from ibmflow.demo import COORDINATOR as COORDINATOR_EMAIL
from ibmflow.services import records, requests
from ibmflow.storage.tables import EarlierAnswerRow, OutboxRow, RequestRow, RungRow
from ibmflow.testing import FixedClock


def _answered(site: Site) -> tuple[int, datetime]:
    """The site's request, answered by its focal point; its id and due date."""
    rid = site.objects[MINE]["request"]
    focal = next(r for r in requests.list_requests(site.ctx, MINE) if r.id == rid)
    records.record_answer(
        site.ctx,
        MINE,
        kind="acknowledge_contact",
        actor=COORDINATOR_EMAIL,
        email=str(focal.focal_point),
    )
    with site.ctx.db.reading() as session:
        row = session.get(RequestRow, rid)
        assert row is not None and row.status == "answered" and row.due_at is not None
        return rid, row.due_at


def test_the_coordinator_reopens_an_answered_request_from_the_process_page(site: Site) -> None:
    """The form sits next to the answer; without a reason it is refused; with one the request is
    open again, its due date counted anew (the old one has passed), its rungs planned for it, the
    answer kept and a fresh link mailed."""
    rid, old_due = _answered(site)
    clock = site.ctx.clock
    assert isinstance(clock, FixedClock)
    clock.advance(days=30)
    client, csrf = logged_in(site, EMAILS[COORDINATOR])
    page = client.get(f"/p/{MINE}")
    assert f'action="/p/{MINE}/requests/{rid}/reopen"' in page.text

    refused = client.post(f"/p/{MINE}/requests/{rid}/reopen", data={"csrf_token": csrf})
    assert "a reason is required" in problem_of(refused_page(client, refused))
    forged = client.post(f"/p/{MINE}/requests/{rid}/reopen", data={"reason": "typo"})
    assert forged.status_code == 403

    done = client.post(
        f"/p/{MINE}/requests/{rid}/reopen",
        data={"csrf_token": csrf, "reason": "the acknowledgement came from a generic address"},
    )
    assert done.status_code == 303
    assert "reopened" in text_of(client.get(done.headers["location"]))
    now = clock.now()
    with site.ctx.db.reading() as session:
        row = session.get(RequestRow, rid)
        assert row is not None and row.status == "sent" and row.due_at is not None
        assert row.due_at > now > old_due
        [earlier] = session.exec(
            select(EarlierAnswerRow).where(EarlierAnswerRow.request_id == rid)
        ).all()
        assert earlier.answered_via == "cli" and earlier.due_at == old_due
        pending = session.exec(
            select(RungRow).where(RungRow.request_id == rid, RungRow.status == "pending")
        ).all()
        assert pending and min(r.fire_at for r in pending) > now
        local_due = row.due_at.astimezone(ZoneInfo("Africa/Casablanca")).date()
        assert {r.rung: r.due_on for r in pending}["due"] == local_due
        mail = session.exec(
            select(OutboxRow)
            .where(OutboxRow.request_id == rid, OutboxRow.kind == "request_reopened")
            .order_by(col(OutboxRow.id))
        ).one()
        assert "/r/" in (one_with_text(site.ctx, mail).text_body or "")


def test_only_the_coordinator_is_offered_and_allowed_the_reopen_form(site: Site) -> None:
    rid, _ = _answered(site)
    client, csrf = logged_in(site, EMAILS[CHAIR])
    assert f"/requests/{rid}/reopen" not in client.get(f"/p/{MINE}").text
    before = audit_count(site.ctx)
    refused = client.post(
        f"/p/{MINE}/requests/{rid}/reopen", data={"csrf_token": csrf, "reason": "typo"}
    )
    assert refused.status_code == 403
    assert audit_count(site.ctx) == before


def test_reopening_a_pending_request_from_the_page_is_refused_with_the_reason(site: Site) -> None:
    rid = site.objects[MINE]["request"]
    client, csrf = logged_in(site, EMAILS[COORDINATOR])
    refused = client.post(
        f"/p/{MINE}/requests/{rid}/reopen", data={"csrf_token": csrf, "reason": "typo"}
    )
    assert f"request #{rid} is sent, not answered" in problem_of(refused_page(client, refused))
