"""The web console through a real server and a real HTTP client: logging in, cookies, CSRF, the login
rate limit, the process page and its forms, optimistic locking, roles, quarantine, mail, audit."""

from __future__ import annotations

import re
import threading

import httpx
import pytest
from sqlmodel import select
from webconsole import (
    EMAILS,
    MINE,
    OTHER_COORDINATOR,
    PASSWORD,
    THEIRS,
    Site,
    audit_count,
    csrf_of,
    log_in,
    logged_in,
    problem_of,
    refused_page,
    text_of,
)

from ibmflow.access import ADMINISTRATOR, CHAIR, COORDINATOR, MANAGER
from ibmflow.services import process_list, processes, reports, requests
from ibmflow.storage.tables import DecisionRow, DocumentRow, InboundMessageRow, RequestRow
from ibmflow.testing import FixedClock

# The console on SQLite; what depends on the database (locking, CSRF, the rate limit's rows) on
# PostgreSQL too.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _version(site: Site) -> int:
    return processes.read_version(site.ctx, MINE)


# --- logging in ----------------------------------------------------------------------------------


@sqlite_only
def test_a_page_without_a_session_sends_to_the_login_page_and_back(site: Site) -> None:
    client = site.client()
    page = client.get(f"/p/{MINE}/audit")
    assert page.status_code == 303 and page.headers["location"] == f"/login?next=/p/{MINE}/audit"
    form = client.get(page.headers["location"])
    assert 'name="next" value="/p/MA-1/audit"' in form.text
    assert '<label for="email">' in form.text and '<label for="password">' in form.text
    done = client.post(
        "/login",
        data={
            "csrf_token": csrf_of(form),
            "email": EMAILS[MANAGER],
            "password": PASSWORD,
            "next": f"/p/{MINE}/audit",
        },
    )
    assert done.status_code == 303 and done.headers["location"] == f"/p/{MINE}/audit"
    assert client.get(done.headers["location"]).status_code == 200


@sqlite_only
def test_the_session_cookie_is_httponly_samesite_lax_and_secure_only_over_https(
    site: Site,
) -> None:
    plain = log_in(site.client(), EMAILS[MANAGER])
    cookie = plain.headers["set-cookie"].split(",")[0].lower()
    assert "ibmflow_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie
    # Behind a TLS proxy (trusted in web.trusted_proxies): tests/test_web_proxies.py.


@sqlite_only
def test_a_next_address_elsewhere_is_ignored(site: Site) -> None:
    client = site.client()
    form = client.get("/login")
    done = client.post(
        "/login",
        data={
            "csrf_token": csrf_of(form),
            "email": EMAILS[MANAGER],
            "password": PASSWORD,
            "next": "//evil.example/steal",
        },
    )
    assert done.headers["location"] == "/attention"  # the desk, never another site


@sqlite_only
def test_a_login_form_without_its_csrf_token_is_refused(site: Site) -> None:
    client = site.client()
    client.get("/login")
    refused = client.post("/login", data={"email": EMAILS[MANAGER], "password": PASSWORD})
    assert refused.status_code == 403 and "ibmflow_session" not in refused.headers.get(
        "set-cookie", ""
    )


def test_five_failed_logins_pause_logins_for_a_while_then_they_work_again(
    site: Site, clock: FixedClock
) -> None:
    client = site.client()
    for _ in range(5):
        failed = log_in(client, EMAILS[COORDINATOR], "not the password")
        assert failed.status_code == 401
        assert "email or the password is wrong" in problem_of(failed)
    paused = log_in(client, EMAILS[COORDINATOR])  # the right password, refused all the same
    assert paused.status_code == 429
    assert paused.headers["retry-after"] == str(15 * 60)
    assert "logins are paused for 15 minutes" in problem_of(paused)
    clock.advance(minutes=14)
    assert log_in(client, EMAILS[COORDINATOR]).status_code == 429
    clock.advance(minutes=1, seconds=1)
    assert log_in(client, EMAILS[COORDINATOR]).status_code == 303


@sqlite_only
def test_logging_out_ends_the_session(site: Site) -> None:
    client, csrf = logged_in(site, EMAILS[MANAGER])
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 303
    assert client.get("/processes").status_code == 303


# --- CSRF ----------------------------------------------------------------------------------------


def test_a_form_without_the_sessions_csrf_token_is_refused_and_changes_nothing(
    site: Site,
) -> None:
    client, csrf = logged_in(site, EMAILS[COORDINATOR])
    before = audit_count(site.ctx)
    form = {"version": str(_version(site)), "reason": "Elections"}
    missing = client.post(f"/p/{MINE}/suspend", data=form)
    assert missing.status_code == 403 and "cannot be accepted" in missing.text
    other, other_csrf = logged_in(site, EMAILS[ADMINISTRATOR])
    foreign = client.post(f"/p/{MINE}/suspend", data={**form, "csrf_token": other_csrf})
    assert foreign.status_code == 403, "a token of another session was accepted"
    assert audit_count(site.ctx) == before
    assert processes.status(site.ctx, MINE).state == "stakeholder_identification"
    done = client.post(f"/p/{MINE}/suspend", data={**form, "csrf_token": csrf})
    assert done.status_code == 303
    assert processes.status(site.ctx, MINE).state == "suspended"
    del other


# --- the process page ----------------------------------------------------------------------------


@sqlite_only
def test_the_process_page_shows_the_steps_and_the_blockers_with_their_forms(site: Site) -> None:
    client, _ = logged_in(site, EMAILS[COORDINATOR])
    page = client.get(f"/p/{MINE}")
    text = text_of(page)
    assert page.status_code == 200
    assert text.count("target ") >= 9
    assert "Identification of a national coordinator done" in text
    assert "Identification of and contact with key stakeholders now" in text
    assert "have not acknowledged the contact request" in text
    assert "Send a request" not in text, "every institution has its request already"
    assert "Waive a pending request" in text and "working days late" not in text
    assert 'action="/p/MA-1/advance"' not in page.text, "offered while blockers are known"
    assert re.search(r"<button[^>]*disabled[^>]*>Complete this step</button>", page.text)
    assert f'name="version" value="{_version(site)}"' in page.text
    for label_for in re.findall(r'<label for="([^"]+)"', page.text):
        assert f'id="{label_for}"' in page.text, f"label for a missing field {label_for}"
    ids = re.findall(r'\sid="([^"]+)"', page.text)
    assert len(ids) == len(set(ids)), "an id appears twice on the page"


@sqlite_only
def test_advancing_with_blockers_is_refused_with_them_in_words(site: Site) -> None:
    client, csrf = logged_in(site, EMAILS[COORDINATOR])
    before = audit_count(site.ctx)
    refused = refused_page(
        client,
        client.post(
            f"/p/{MINE}/advance", data={"csrf_token": csrf, "version": str(_version(site))}
        ),
    )
    assert audit_count(site.ctx) == before
    problem = problem_of(refused)
    assert "Nothing was changed" in problem and "cannot be completed yet" in problem
    assert "have not acknowledged the contact request" in problem


def test_of_two_coordinators_moving_at_once_one_wins_and_the_other_is_told_why(
    site: Site,
) -> None:
    first, first_csrf = logged_in(site, EMAILS[COORDINATOR])
    second, second_csrf = logged_in(site, EMAILS[ADMINISTRATOR])
    seen = _version(site)
    results: dict[str, httpx.Response] = {}

    def suspend(name: str, client: httpx.Client, csrf: str) -> None:
        results[name] = client.post(
            f"/p/{MINE}/suspend",
            data={"csrf_token": csrf, "version": str(seen), "reason": f"by {name}"},
        )

    both = [
        threading.Thread(target=suspend, args=("first", first, first_csrf)),
        threading.Thread(target=suspend, args=("second", second, second_csrf)),
    ]
    for thread in both:
        thread.start()
    for thread in both:
        thread.join()
    assert [r.status_code for r in results.values()] == [303, 303], "both sent back to the page"
    losers = [n for n, r in results.items() if "?refused=" in r.headers["location"]]
    assert len(losers) == 1, "not exactly one refused"
    client = {"first": first, "second": second}[losers[0]]
    loser = refused_page(client, results[losers[0]])
    problem = problem_of(loser)
    assert f"Someone else changed process {MINE} since you loaded the page" in problem
    assert f"you saw version {seen}" in problem and "Nothing was written" in problem
    assert f"version {seen + 1}" in text_of(loser), "the page shows the process as it is now"


@sqlite_only
def test_opening_requests_from_the_page_sends_them_and_shows_them(site: Site) -> None:
    client, csrf = logged_in(site, EMAILS[COORDINATOR])
    sent = client.post(
        f"/p/{MINE}/requests",
        data={
            "csrf_token": csrf,
            "kind": "self_assessment",
            "scope": "involved",
            "institution": ["MOF_CUSTOMS", "MOH"],
            "due_days": "15",
            "instructions": "Use the 2010 grid.",
        },
    )
    assert sent.status_code == 303 and sent.headers["location"] == f"/p/{MINE}?done=requests"
    page = client.get(sent.headers["location"])
    assert "The requests were sent" in text_of(page)
    rows = [r for r in requests.list_requests(site.ctx, MINE) if r.kind == "self_assessment"]
    assert sorted(r.institution for r in rows) == ["MOF_CUSTOMS", "MOH"]
    assert all(f'id="request-{r.id}"' in page.text for r in rows)


@sqlite_only
def test_waiving_a_request_needs_a_reason(site: Site) -> None:
    client, csrf = logged_in(site, EMAILS[COORDINATOR])
    rid = site.objects[MINE]["request"]
    refused = client.post(f"/p/{MINE}/requests/{rid}/waive", data={"csrf_token": csrf})
    assert "a reason is required" in problem_of(refused_page(client, refused))
    done = client.post(
        f"/p/{MINE}/requests/{rid}/waive",
        data={"csrf_token": csrf, "reason": "the Chair acknowledged in person"},
    )
    assert done.status_code == 303
    with site.ctx.db.reading() as session:
        row = session.get(RequestRow, rid)
        assert row is not None
        assert (row.status, row.closed_reason) == ("waived", "the Chair acknowledged in person")


@sqlite_only
def test_a_document_uploaded_is_attached_and_can_be_downloaded(site: Site) -> None:
    client, csrf = logged_in(site, EMAILS[COORDINATOR])
    done = client.post(
        f"/p/{MINE}/documents",
        data={"csrf_token": csrf, "kind": "terms_of_reference"},
        files=[("file", ("ToR v2.pdf", b"%PDF-1.7 terms", "application/pdf"))],
    )
    assert done.status_code == 303
    with site.ctx.db.reading() as session:
        doc = session.exec(
            select(DocumentRow).where(DocumentRow.kind == "terms_of_reference")
        ).one()
        doc_id, uploaded_by = doc.id, doc.uploaded_by
    assert uploaded_by == EMAILS[COORDINATOR]
    got = client.get(f"/p/{MINE}/documents/{doc_id}")
    assert got.content == b"%PDF-1.7 terms"
    assert got.headers["content-disposition"] == 'attachment; filename="ToR_v2.pdf"'
    refused = client.post(
        f"/p/{MINE}/documents",
        data={"csrf_token": csrf, "kind": "other"},
        files=[("file", ("run.exe", b"MZ", "application/octet-stream"))],
    )
    assert "not accepted" in problem_of(refused_page(client, refused))


@sqlite_only
def test_a_vote_recorded_in_the_console_is_marked_as_entered_via_the_web(site: Site) -> None:
    client, csrf = logged_in(site, EMAILS[CHAIR])
    did = site.objects[MINE]["decision"]
    done = client.post(
        f"/p/{MINE}/decisions/{did}/votes",
        data={
            "csrf_token": csrf,
            "institution": "MOF_CUSTOMS",
            "voter": "focal@customs.example",
            "choice": "object",
            "reason": "Budget unclear",
        },
    )
    assert done.status_code == 303
    page = client.get(done.headers["location"])
    assert "Rachid Alaoui voted for institution Customs Directorate: objected (Budget unclear)" in (
        text_of(page)
    )
    with site.ctx.db.reading() as session:
        decision = session.get(DecisionRow, did)
        assert decision is not None and decision.status == "rejected"
        answered = session.exec(
            select(RequestRow).where(RequestRow.decision_id == did, RequestRow.status == "answered")
        ).one()
        assert answered.answered_via == "web"


# --- roles ---------------------------------------------------------------------------------------


@sqlite_only
def test_a_chair_records_the_iawg_but_may_not_move_the_process(site: Site) -> None:
    client, csrf = logged_in(site, EMAILS[CHAIR])
    page = client.get(f"/p/{MINE}")
    assert "Complete this step" not in page.text
    assert f'action="/p/MA-1/decisions/{site.objects[MINE]["decision"]}/votes"' in page.text
    refused = client.post(
        f"/p/{MINE}/advance", data={"csrf_token": csrf, "version": str(_version(site))}
    )
    assert refused.status_code == 403
    assert "As a chair you may not advance" in text_of(refused)


@sqlite_only
def test_a_manager_reads_and_is_shown_no_form_but_their_own_language_and_logout(site: Site) -> None:
    client, _ = logged_in(site, EMAILS[MANAGER])
    page = client.get(f"/p/{MINE}")
    assert page.status_code == 200
    # Only the account's own: its language (the switch) and its session.
    posts = re.findall(r'<form [^>]*method="post"[^>]*action="([^"]+)"', page.text)
    assert set(posts) == {"/language", "/logout"}
    assert re.findall(r'<form [^>]*method="get"[^>]*action="([^"]+)"', page.text) == [
        "/search",
        f"/p/{MINE}#requests",
    ], "the search box and the requests' filters, which change nothing"
    assert client.get(f"/p/{MINE}/mail").status_code == 403


@sqlite_only
def test_a_coordinator_sees_only_their_processes(site: Site) -> None:
    client, _ = logged_in(site, OTHER_COORDINATOR)
    listing = client.get("/processes")
    assert f'href="/p/{THEIRS}"' in listing.text and f'href="/p/{MINE}"' not in listing.text
    assert client.get(f"/p/{MINE}").status_code == 404


# --- quarantine, mail, audit ---------------------------------------------------------------------


@sqlite_only
def test_a_quarantined_reply_is_assigned_to_a_request_from_the_page(site: Site) -> None:
    client, csrf = logged_in(site, EMAILS[COORDINATOR])
    iid, rid = site.objects[MINE]["inbound"], site.objects[MINE]["request"]
    page = client.get(f"/p/{MINE}")
    assert f'id="inbound-{iid}"' in page.text and "stranger@elsewhere.example" in page.text
    theirs = site.objects[THEIRS]["request"]
    crossed = client.post(
        f"/p/{MINE}/quarantine/{iid}/assign", data={"csrf_token": csrf, "request": str(theirs)}
    )
    said = problem_of(refused_page(client, crossed))
    assert f"no request #{theirs} in {MINE}" in said, "a request of another process was offered"
    done = client.post(
        f"/p/{MINE}/quarantine/{iid}/assign", data={"csrf_token": csrf, "request": str(rid)}
    )
    assert done.status_code == 303
    with site.ctx.db.reading() as session:
        row = session.get(InboundMessageRow, iid)
        assert row is not None and (row.status, row.request_id) == ("assigned", rid)


@sqlite_only
def test_the_mail_page_shows_captured_mail_with_its_link_to_follow(site: Site) -> None:
    client, _ = logged_in(site, EMAILS[COORDINATOR])
    listing = client.get(f"/p/{MINE}/mail")
    assert listing.status_code == 200
    mail = site.objects[MINE]["mail"]
    assert f'href="/p/{MINE}/mail/{mail}"' in listing.text
    assert f'href="/p/{THEIRS}/mail/' not in listing.text
    shown = client.get(f"/p/{MINE}/mail/{mail}")
    link = re.search(r'<a href="(http://127\.0\.0\.1:\d+/r/[\w-]+)">', shown.text)
    assert link, "the mail's answer link is not a link"
    assert link.group(1).startswith(site.url)
    assert client.get(link.group(1)).status_code == 200


@sqlite_only
def test_the_audit_page_shows_the_history_and_that_the_chain_verifies(site: Site) -> None:
    client, _ = logged_in(site, EMAILS[MANAGER])
    page = client.get(f"/p/{MINE}/audit")
    text = text_of(page)
    assert "The audit chain is intact" in text
    assert "Step completed by " in text and " sent to " in text
    assert "step.completed" not in text and "request.sent" not in text, "in words, not codes"
    assert "Account " not in text, "account events are not a process's history"


@sqlite_only
def test_deadlines_are_extended_from_the_page_with_a_reason(site: Site) -> None:
    client, csrf = logged_in(site, EMAILS[COORDINATOR])
    rid = site.objects[MINE]["request"]
    before = next(r for r in requests.list_requests(site.ctx, MINE) if r.id == rid).due_at
    refused = client.post(
        f"/p/{MINE}/requests/{rid}/extend", data={"csrf_token": csrf, "days": "5"}
    )
    assert "needs a reason" in problem_of(refused_page(client, refused))
    done = client.post(
        f"/p/{MINE}/requests/{rid}/extend",
        data={"csrf_token": csrf, "days": "5", "reason": "the minister is abroad"},
    )
    assert "done=" in done.headers["location"]
    after = next(r for r in requests.list_requests(site.ctx, MINE) if r.id == rid).due_at
    assert after > before
    step = client.post(
        f"/p/{MINE}/extend",
        data={"csrf_token": csrf, "to": "2026-03-02", "reason": "elections"},
    )
    assert "done=" in step.headers["location"]
    page = text_of(client.get(f"/p/{MINE}"))
    assert "(acknowledgement of the contact request): from" in page
    assert "the minister is abroad" in page and f"request #{rid}: from" not in page
    assert "The step Identification of and contact with key stakeholders: from" in page
    assert "to 2 Mar 2026" in page


# --- long lists come in pages --------------------------------------------------------------------


@sqlite_only
def test_the_process_list_comes_in_pages_linked_by_name(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(process_list, "LIST_PAGE", 1)
    client, _ = logged_in(site, EMAILS[ADMINISTRATOR])
    first = client.get("/processes")
    assert f'href="/p/{MINE}"' in first.text and f'href="/p/{THEIRS}"' not in first.text
    assert '<nav class="pager" aria-label="Pages of the processes">' in first.text
    assert '<a href="/processes?page=2" rel="next">Next processes (2-2)</a>' in first.text
    assert "Processes 1-1 of 2 (page 1 of 2)" in text_of(first) and 'rel="prev"' not in first.text
    second = client.get("/processes?page=2")
    assert f'href="/p/{THEIRS}"' in second.text and f'href="/p/{MINE}"' not in second.text
    assert '<a href="/processes" rel="prev">Previous processes (1-1)</a>' in second.text
    assert 'rel="next"' not in second.text
    past = client.get("/processes?page=7")
    assert past.status_code == 200 and "Page 7 is past the last page (2)" in text_of(past)
    assert '<a href="/processes?page=2" rel="prev">Previous processes (2-2)</a>' in past.text
    for wrong in ("0", "-1", "two", "1.5"):
        refused = client.get(f"/processes?page={wrong}")
        assert refused.status_code == 400 and "Give a whole number from 1." in text_of(refused)


@sqlite_only
def test_the_deadline_report_comes_in_pages_that_keep_the_horizon(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reports, "REPORT_PAGE", 1)
    client, _ = logged_in(site, EMAILS[ADMINISTRATOR])
    first = client.get("/report", params={"horizon": 5})
    assert f'id="process-{MINE}"' in first.text and f'id="process-{THEIRS}"' not in first.text
    assert "across the 2 processes you follow, 1 to a page" in text_of(first)
    assert '<a href="/report?horizon=5&amp;page=2" rel="next">' in first.text
    second = client.get("/report", params={"horizon": 5, "page": 2})
    assert f'id="process-{THEIRS}"' in second.text and f'id="process-{MINE}"' not in second.text
    assert '<a href="/report?horizon=5" rel="prev">Previous processes (1-1)</a>' in second.text
    assert client.get("/report?page=0").status_code == 400
    manager, _ = logged_in(site, EMAILS[MANAGER])
    mine = manager.get("/report")
    assert "across the 1 process you follow." in text_of(mine) and 'class="pager"' not in mine.text
