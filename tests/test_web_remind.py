""" "Remind now" and the requests' bulk actions over HTTP, against a real server: the preview page,
sending from it, CSRF, roles, and the ids a bulk form carries checked against the process."""

from __future__ import annotations

import pytest
from sqlmodel import col, select
from webconsole import (
    EMAILS,
    MINE,
    THEIRS,
    Site,
    audit_count,
    logged_in,
    problem_of,
    refused_page,
    text_of,
)

from ibmflow.access import CHAIR, COORDINATOR, MANAGER
from ibmflow.services import requests
from ibmflow.storage.tables import AuditEventRow, OutboxRow, RequestRow

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _open(site: Site, key: str = MINE) -> list[int]:
    return [r.id for r in requests.list_requests(site.ctx, key) if r.status == "sent"]


def _reminders(site: Site, rid: int) -> list[OutboxRow]:
    with site.ctx.db.reading() as session:
        rows = session.exec(
            select(OutboxRow)
            .where(OutboxRow.request_id == rid, OutboxRow.kind == "reminder")
            .order_by(col(OutboxRow.id))
        ).all()
        session.expunge_all()
    return list(rows)


def _events(site: Site, action: str) -> list[AuditEventRow]:
    with site.ctx.db.reading() as session:
        rows = session.exec(select(AuditEventRow).where(AuditEventRow.action == action)).all()
        session.expunge_all()
    return list(rows)


@sqlite_only
def test_the_preview_shows_the_exact_mail_and_sending_it_threads_it_under_the_request(
    site: Site,
) -> None:
    client, csrf = logged_in(site, EMAILS[COORDINATOR])
    rid = site.objects[MINE]["request"]
    page = client.get(f"/p/{MINE}/requests/{rid}/remind")
    assert page.status_code == 200, page.text
    text = text_of(page)
    assert f"Remind request #{rid} now" in text
    assert "Reminder: acknowledgement of the contact request" in text  # the subject
    assert '<pre class="mail"' in page.text and "/r/…" in page.text  # the link shortened
    assert '<dd lang="en">English</dd>' in page.text  # the reader's language, named
    assert f'action="/p/{MINE}/requests/{rid}/remind#request-{rid}"' in page.text
    assert f'href="/p/{MINE}#request-{rid}"' in page.text  # Cancel
    assert not _reminders(site, rid)  # a preview sends nothing

    sent = client.post(
        f"/p/{MINE}/requests/{rid}/remind", data={"csrf_token": csrf, "reason": "urgent"}
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/p/{MINE}?done=reminded"
    assert "The reminder is sent" in text_of(client.get(sent.headers["location"]))
    (mail,) = _reminders(site, rid)
    with site.ctx.db.reading() as session:
        request = session.get(RequestRow, rid)
        assert request is not None
        assert mail.in_reply_to == request.message_id
    (event,) = _events(site, "request.reminded")
    assert event.actor == EMAILS[COORDINATOR] and event.reason == "urgent"

    # Refused, the action and the preview both come back to the process page with the reason.
    again = client.post(f"/p/{MINE}/requests/{rid}/remind", data={"csrf_token": csrf})
    assert "already reminded by hand today" in problem_of(refused_page(client, again))
    refused_preview = client.get(f"/p/{MINE}/requests/{rid}/remind")
    assert "already reminded by hand today" in problem_of(refused_page(client, refused_preview))


@sqlite_only
def test_remind_without_the_forms_token_is_refused_and_sends_nothing(site: Site) -> None:
    client, _csrf = logged_in(site, EMAILS[COORDINATOR])
    rid = site.objects[MINE]["request"]
    before = audit_count(site.ctx)
    refused = client.post(f"/p/{MINE}/requests/{rid}/remind", data={"reason": "x"})
    assert refused.status_code == 403
    assert "did not come from a page of this session" in text_of(refused)
    assert audit_count(site.ctx) == before and not _reminders(site, rid)


@sqlite_only
@pytest.mark.parametrize("role", [MANAGER, CHAIR])
def test_a_manager_or_the_chair_may_not_remind(site: Site, role: str) -> None:
    client, csrf = logged_in(site, EMAILS[role])
    rid = site.objects[MINE]["request"]
    assert client.get(f"/p/{MINE}/requests/{rid}/remind").status_code == 403
    posted = client.post(f"/p/{MINE}/requests/{rid}/remind", data={"csrf_token": csrf})
    assert posted.status_code == 403
    bulk = client.post(
        f"/p/{MINE}/requests/bulk",
        data={"csrf_token": csrf, "rid": [str(rid)], "action": "remind", "reason": "x"},
    )
    assert bulk.status_code == 403
    assert not _reminders(site, rid)


@sqlite_only
def test_another_process_request_is_not_found(site: Site) -> None:
    client, _csrf = logged_in(site, EMAILS[COORDINATOR])
    theirs = site.objects[THEIRS]["request"]
    assert client.get(f"/p/{MINE}/requests/{theirs}/remind").status_code == 404
    assert client.get(f"/p/{THEIRS}/requests/{theirs}/remind").status_code == 404


@sqlite_only
def test_bulk_extend_of_two_requests_with_one_reason(site: Site) -> None:
    client, csrf = logged_in(site, EMAILS[COORDINATOR])
    first, second = _open(site)[:2]
    done = client.post(
        f"/p/{MINE}/requests/bulk",
        data={
            "csrf_token": csrf,
            "rid": [str(first), str(second)],
            "action": "extend",
            "reason": "Ministers abroad",
            "days": "5",
        },
    )
    assert done.status_code == 303 and done.headers["location"] == f"/p/{MINE}?done=bulk"
    assert "Done for every request ticked" in text_of(client.get(done.headers["location"]))
    events = _events(site, "deadline.extended")
    assert sorted(e.entity for e in events) == sorted([f"request:{first}", f"request:{second}"])
    assert {e.reason for e in events} == {"Ministers abroad"}


@sqlite_only
def test_bulk_with_a_request_of_another_process_changes_nothing(site: Site) -> None:
    client, csrf = logged_in(site, EMAILS[COORDINATOR])
    mine = _open(site)[0]
    theirs = site.objects[THEIRS]["request"]
    before = audit_count(site.ctx)
    refused = client.post(
        f"/p/{MINE}/requests/bulk",
        data={
            "csrf_token": csrf,
            "rid": [str(mine), str(theirs)],
            "action": "waive",
            "reason": "x",
        },
    )
    shown = refused_page(client, refused)
    assert f"There is no request #{theirs} in process {MINE}" in problem_of(shown)
    assert audit_count(site.ctx) == before
    assert mine in _open(site)


@sqlite_only
@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"action": "waive"}, "Give a reason"),
        ({"action": "extend", "reason": "x"}, "number of working days"),
        ({"action": "delete", "reason": "x"}, "choose remind, extend or waive"),
        ({"action": "waive", "reason": "x", "rid": ["abc"]}, "must be a whole number"),
        ({"action": "waive", "reason": "x", "rid": []}, "Tick at least one request"),
    ],
)
def test_bulk_says_what_is_wrong_with_the_form(
    site: Site, fields: dict[str, object], expected: str
) -> None:
    client, csrf = logged_in(site, EMAILS[COORDINATOR])
    data: dict[str, object] = {"rid": [str(i) for i in _open(site)[:2]], **fields}
    refused = client.post(f"/p/{MINE}/requests/bulk", data={"csrf_token": csrf, **data})
    assert expected in problem_of(refused_page(client, refused))


@sqlite_only
def test_the_process_page_links_each_open_request_to_its_reminder_for_who_may_send_it(
    site: Site,
) -> None:
    rid = site.objects[MINE]["request"]
    link = f'href="/p/{MINE}/requests/{rid}/remind"'
    coordinator, _ = logged_in(site, EMAILS[COORDINATOR])
    assert link in coordinator.get(f"/p/{MINE}").text
    manager, _ = logged_in(site, EMAILS[MANAGER])
    assert link not in manager.get(f"/p/{MINE}").text
