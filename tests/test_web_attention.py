""" "Needs my attention", through a real server: the page after logging in lists, across every process
the account follows, what is overdue (with working days overdue and the institution), awaited or
stuck, each item linking to where it is acted on; the navigation of every page shows the exact count;
each role sees what concerns it, and nothing of a process it does not follow."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
from sqlmodel import col, select
from webconsole import EMAILS, MINE, OTHER_COORDINATOR, THEIRS, Site, log_in, logged_in, text_of

from ibmflow.access import ADMINISTRATOR, CHAIR, COORDINATOR, MANAGER, Account
from ibmflow.services import accounts, inbound
from ibmflow.services.attention import RECENT_DAYS, desk
from ibmflow.storage.account_tables import UserAccountRow
from ibmflow.storage.tables import (
    InstitutionRow,
    OutboxRow,
    ProcessRow,
    RequestRow,
    StepRecord,
)
from ibmflow.testing import FixedClock

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _late(site: Site, clock: FixedClock) -> None:
    """Thirty days on: every request of both processes and both current steps are overdue."""
    clock.advance(days=30)


@dataclass(frozen=True)
class Open:
    """An open request as the test reads it back."""

    id: int
    due_at: datetime | None
    decision_id: int | None
    institution: str
    weekend: str


def _open_requests(site: Site, key: str) -> list[Open]:
    with site.ctx.db.reading() as session:
        return [
            Open(r.id or 0, r.due_at, r.decision_id, i.short_name, i.weekend)
            for r, i in session.exec(
                select(RequestRow, InstitutionRow)
                .join(InstitutionRow, col(InstitutionRow.id) == col(RequestRow.institution_id))
                .join(ProcessRow, col(ProcessRow.id) == col(RequestRow.process_id))
                .where(ProcessRow.key == key, RequestRow.status == "sent")
                .order_by(col(RequestRow.id))
            )
        ]


def _account(site: Site, email: str) -> Account:
    with site.ctx.db.reading() as session:
        row = session.exec(select(UserAccountRow).where(UserAccountRow.email == email)).one()
        return accounts.account_of(session, row)


def _nav_count(page: httpx.Response) -> int:
    match = re.search(r'<a href="/attention">Needs my attention \((\d+)\)</a>', page.text)
    assert match, "the navigation shows no count"
    return int(match.group(1))


def _group_totals(page: httpx.Response) -> dict[str, int]:
    return {
        kind: int(n)
        for kind, n in re.findall(r'<h2 id="([a-z_]+)">[^<(]+\((\d+)\)</h2>', page.text)
    }


@sqlite_only
def test_logging_in_lands_on_the_desk_and_home_leads_there(site: Site) -> None:
    client = site.client()
    response = log_in(client, EMAILS[COORDINATOR])
    assert response.status_code == 303
    assert response.headers["location"] == "/attention"
    home = client.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/attention"
    assert client.get("/attention").status_code == 200
    anonymous = site.client().get("/")
    assert anonymous.headers["location"] == "/attention"
    # ... which, without a session, asks to log in and comes back to the desk
    to_login = site.client().get("/attention")
    assert to_login.headers["location"] == "/login?next=/attention"


@sqlite_only
def test_a_coordinator_sees_each_overdue_request_with_working_days_and_institution(
    site: Site, clock: FixedClock
) -> None:
    _late(site, clock)
    client, _csrf = logged_in(site, EMAILS[COORDINATOR])
    page = client.get("/attention")
    assert page.status_code == 200
    text = text_of(page)
    mine = _open_requests(site, MINE)
    overdue = [
        r for r in mine if r.due_at is not None and r.due_at < clock.now() and not r.decision_id
    ]
    assert overdue, "the scenario has overdue requests"
    with site.ctx.db.reading() as session:
        process = session.exec(select(ProcessRow).where(ProcessRow.key == MINE)).one()
        session.expunge(process)
    for r in overdue:
        assert f'href="/p/{MINE}#request-{r.id}"' in page.text
        calendar = site.ctx.calendar(process, r.weekend)
        assert r.due_at is not None
        days = calendar.between(calendar.local_day(r.due_at), calendar.local_day(clock.now()))
        assert f"Request #{r.id}: " in text
        assert r.institution in text
        assert f"{days} working days overdue" in text
    # the exact total of overdue requests, and nothing of the process it does not follow
    assert _group_totals(page)["overdue_requests"] == len(overdue)
    theirs = site.objects[THEIRS]
    assert f"/p/{THEIRS}" not in page.text
    assert f'#request-{theirs["request"]}"' not in page.text
    # the current step, overdue too, links to what blocks it
    assert f'href="/p/{MINE}#blockers"' in page.text
    assert "Overdue steps (1)" in text


@sqlite_only
def test_quarantine_decisions_and_votes_link_to_where_they_are_acted_on(site: Site) -> None:
    client, _csrf = logged_in(site, EMAILS[COORDINATOR])
    page = client.get("/attention")
    mine = site.objects[MINE]
    assert f'href="/p/{MINE}#inbound-{mine["inbound"]}"' in page.text
    assert f'href="/p/{MINE}#decision-{mine["decision"]}"' in page.text
    totals = _group_totals(page)
    assert totals["quarantine"] == 1 and totals["decisions"] == 1
    votes = [r for r in _open_requests(site, MINE) if r.decision_id == mine["decision"]]
    assert totals["votes"] == len(votes) > 0  # the decision's ballots, not yet due
    assert f'href="/p/{MINE}#decision-{mine["decision"]}"' in page.text
    assert "Reply from stranger@elsewhere.example" in text_of(page)
    assert "0 votes cast" in text_of(page)


@sqlite_only
def test_the_navigation_shows_the_exact_count_on_every_page(site: Site, clock: FixedClock) -> None:
    _late(site, clock)
    client, _csrf = logged_in(site, EMAILS[COORDINATOR])
    page = client.get("/attention")
    count = _nav_count(page)
    assert count == sum(_group_totals(page).values())
    assert count == desk(site.ctx, _account(site, EMAILS[COORDINATOR])).total
    for path in ("/processes", f"/p/{MINE}", "/report", "/search?q=x"):
        assert _nav_count(client.get(path)) == count, path


@sqlite_only
def test_each_role_sees_what_concerns_it(site: Site, clock: FixedClock) -> None:
    _late(site, clock)
    seen = {}
    for role in (MANAGER, CHAIR, COORDINATOR, ADMINISTRATOR):
        client, _csrf = logged_in(site, EMAILS[role])
        seen[role] = _group_totals(client.get("/attention"))
    assert set(seen[MANAGER]) == {"overdue_steps", "overdue_requests", "votes"}
    assert set(seen[CHAIR]) == {"overdue_steps", "overdue_requests", "votes", "decisions"}
    assert {"quarantine", "decisions"} <= set(seen[COORDINATOR])
    assert seen[MANAGER]["overdue_requests"] == seen[COORDINATOR]["overdue_requests"]
    # the administrator follows every process: both processes' overdue requests
    both = len(
        [
            r
            for key in (MINE, THEIRS)
            for r in _open_requests(site, key)
            if r.due_at is not None and r.due_at < clock.now() and not r.decision_id
        ]
    )
    assert seen[ADMINISTRATOR]["overdue_requests"] == both
    assert seen[ADMINISTRATOR]["quarantine"] == 2


@sqlite_only
def test_a_coordinator_of_another_process_sees_only_that_one(site: Site, clock: FixedClock) -> None:
    _late(site, clock)
    client, _csrf = logged_in(site, OTHER_COORDINATOR)
    page = client.get("/attention")
    assert f"/p/{THEIRS}#" in page.text
    assert f"/p/{MINE}" not in page.text


@sqlite_only
def test_failed_mails_bounces_and_out_of_office_notices_are_listed(
    site: Site, clock: FixedClock
) -> None:
    ctx, rid = site.ctx, site.objects[MINE]["request"]
    with ctx.db.transaction() as tx:
        request = tx.session.get(RequestRow, rid)
        assert request is not None
        reply_key = request.reply_key
        failed = tx.session.get(OutboxRow, site.objects[MINE]["mail"])
        assert failed is not None
        failed.status, failed.last_error = "failed", "550 5.1.1 mailbox unknown"
        tx.session.add(failed)
    to = f"replies+{reply_key}@ibmflow.invalid"
    away = (
        f"From: fp@interior.example\r\nTo: {to}\r\nSubject: Out of office: back on Monday\r\n"
        "Auto-Submitted: auto-replied\r\nMessage-ID: <away@interior.example>\r\n\r\nAway.\r\n"
    ).encode()
    bounce = (
        f"From: MAILER-DAEMON@interior.example\r\nTo: {to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <b@interior.example>\r\n\r\n"
        "The mail could not be delivered.\r\n"
    ).encode()
    for raw, sender in ((away, "fp@interior.example"), (bounce, "")):
        inbound.receive(ctx, raw, via="smtp", envelope_from=sender, envelope_to=[to])
    client, _csrf = logged_in(site, EMAILS[COORDINATOR])
    page = client.get("/attention")
    text = text_of(page)
    totals = _group_totals(page)
    assert totals["failed_mails"] == 2 and totals["out_of_office"] == 1
    assert f'href="/p/{MINE}/mail/{site.objects[MINE]["mail"]}"' in page.text
    assert "550 5.1.1 mailbox unknown" in text
    assert "Out-of-office notice from fp@interior.example: Out of office: back on Monday" in text
    assert f"about request #{rid}" in text
    assert f'href="/p/{MINE}#request-{rid}"' in page.text
    # older than the window: no longer listed
    clock.advance(days=RECENT_DAYS + 1)
    later = _group_totals(client.get("/attention"))
    assert "failed_mails" not in later and "out_of_office" not in later


@sqlite_only
def test_a_suspended_process_has_no_overdue_step(site: Site, clock: FixedClock) -> None:
    from ibmflow.services import processes

    processes.fire(site.ctx, MINE, "suspend", actor=EMAILS[COORDINATOR], reason="elections")
    _late(site, clock)
    client, _csrf = logged_in(site, EMAILS[COORDINATOR])
    assert "overdue_steps" not in _group_totals(client.get("/attention"))


@sqlite_only
def test_each_kind_lists_a_page_and_says_how_many_more(site: Site, clock: FixedClock) -> None:
    _late(site, clock)
    account = _account(site, EMAILS[ADMINISTRATOR])
    whole = desk(site.ctx, account)
    capped = desk(site.ctx, account, cap=1)
    overdue = next(g for g in capped.groups if g.kind == "overdue_requests")
    assert len(overdue.items) == 1 and overdue.more == overdue.total - 1 > 0
    assert capped.total == whole.total


@sqlite_only
def test_nothing_to_do_says_so(site: Site) -> None:
    with site.ctx.db.transaction() as tx:
        for stay in tx.session.exec(select(StepRecord)):
            stay.due_at = site.ctx.clock.now() + timedelta(days=60)
            tx.session.add(stay)
        for request in tx.session.exec(select(RequestRow)):
            request.status = "waived"  # no request open: nothing awaited
            tx.session.add(request)
    client, _csrf = logged_in(site, EMAILS[MANAGER])
    page = client.get("/attention")
    assert "Nothing needs your attention" in text_of(page)
    assert _nav_count(page) == 0


@sqlite_only
def test_an_account_that_follows_no_process_is_told_so(site: Site) -> None:
    accounts.set_processes(site.ctx, EMAILS[MANAGER], [], actor="setup")
    client, _csrf = logged_in(site, EMAILS[MANAGER])
    page = client.get("/attention")
    assert "No process is shared with your account yet." in text_of(page)
    assert _nav_count(page) == 0
