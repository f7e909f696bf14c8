"""The console in a real browser: Playwright drives Debian's Chromium against a real uvicorn server.

A coordinator logs in, sees a blocker, opens the requests that clear it; the focal points answer
from the links in the captured mails; the coordinator completes the step. A manager reads the
deadline report and downloads it as CSV and iCalendar. Screenshots are kept in tests/artifacts/.

Without Chromium (`apt-get install chromium`) these tests are skipped, except under CI=true.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import icalendar
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from webconsole import EMAILS, MINE, PASSWORD, add_accounts, start_process

from ibmflow.access import COORDINATOR, MANAGER
from ibmflow.services import records, requests
from ibmflow.services.context import Context
from ibmflow.services.dispatch import build_transport, dispatch_once
from ibmflow.testing import FixedClock

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def require_chromium(path: Path, environ: Mapping[str, str]) -> None:
    """Skip when the browser is missing, saying how to install it; under CI=true, fail."""
    if path.exists():
        return
    reason = f"{path} is missing: install Debian's Chromium (apt-get install chromium)"
    if environ.get("CI"):
        pytest.fail(f"the browser tests must run under CI: {reason}")
    pytest.skip(reason)


def test_without_chromium_the_browser_tests_skip_or_under_ci_fail(tmp_path: Path) -> None:
    missing = tmp_path / "chromium"
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        require_chromium(missing, {})
    with pytest.raises(pytest.fail.Exception, match="must run under CI"):
        require_chromium(missing, {"CI": "true"})


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless (never a browser build of Playwright's own)."""
    require_chromium(CHROMIUM, os.environ)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def log_in(page: Page, url: str, email: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def deliver(ctx: Context) -> int:
    """Run the dispatcher until the outbox is empty (no SMTP: into the local mailbox). In a thread
    of its own: Playwright's event loop runs in this one."""
    transport = build_transport(ctx.settings)

    async def drain() -> int:
        sent = 0
        while True:
            report = await dispatch_once(ctx, transport, worker_id="test")
            sent += len(report.sent)
            if not report.claimed:
                return sent

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, drain()).result()


@sqlite_only
def test_a_coordinator_clears_a_blocker_with_answers_by_link_and_completes_the_step(
    ctx: Context, tmp_path: Path, start: Callable[[Context], str], page: Page
) -> None:
    url = start(ctx)
    start_process(ctx, MINE, tmp_path)
    add_accounts(ctx, other=False)
    deliver(ctx)  # the mails of the steps so far

    page.goto(f"{url}/p/{MINE}")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    log_in(page, url, EMAILS[COORDINATOR])
    expect(page).to_have_url(f"{url}/p/{MINE}")
    blockers = page.locator("#blockers + .blocker")
    expect(blockers).to_contain_text("have not acknowledged the contact request")

    blockers.get_by_text("Send a request (acknowledgement of the contact request)").click()
    form = blockers.locator("form").first
    expect(form.get_by_label("Kind of request")).to_have_value("acknowledge_contact")
    expect(form.get_by_label("Send it to", exact=True)).to_have_value("permanent")
    form.get_by_role("button", name="Send the requests").click()
    expect(page.locator("#message")).to_contain_text("The requests were sent")
    assert page.locator("#bulk tbody tr").count() == 7
    assert deliver(ctx) == 7

    page.get_by_role("link", name="Outgoing mail").click()
    subjects = page.locator("tbody tr", has_text="request").locator("a")
    mails = [subjects.nth(i).get_attribute("href") for i in range(subjects.count())]
    assert len(mails) == 7
    for mail in mails:
        page.goto(f"{url}{mail}")
        expect(page.locator("dl")).to_contain_text("captured")
        link = page.locator("pre.mail a", has_text="/r/")
        link.click()  # the focal point's page: no account, the link is the key
        # The page speaks its addressee's language: Veterinary Inspection reads French.
        expect(page.locator("h1")).to_contain_text(
            re.compile("Acknowledgement of the contact request|Accusé de réception")
        )
        page.locator("form textarea").first.fill("Confirmed, I am the focal point.")
        page.locator("form button[type=submit]").last.click()
        expect(page.locator("h1")).to_have_text(
            re.compile(
                "Thank you: your answer is recorded|Merci\u00a0: votre réponse est enregistrée"
            )
        )

    page.goto(f"{url}/p/{MINE}")
    expect(page.locator("#blockers + p")).to_contain_text("the step can be completed")
    page.get_by_role("button", name="Complete this step").click()
    expect(page.locator("#message")).to_contain_text("The step is completed")
    expect(page.locator("[aria-current=step]")).to_contain_text(
        "Establishment of the coordinating bodies"
    )
    expect(page.locator("#blockers + .blocker")).to_contain_text("name at least 1")
    assert screenshot(page, "process-page").stat().st_size > 10_000


@sqlite_only
def test_a_manager_sees_an_overdue_request_and_downloads_the_report_as_csv_and_ical(
    ctx: Context,
    tmp_path: Path,
    start: Callable[[Context], str],
    page: Page,
    clock: FixedClock,
) -> None:
    url = start(ctx)
    start_process(ctx, MINE, tmp_path)
    add_accounts(ctx, other=False)
    sent = requests.send_requests(
        ctx, MINE, kind="acknowledge_contact", scope="permanent", actor=EMAILS[COORDINATOR]
    )
    for email in ("focal@customs.example", "visa@mfa.example"):
        records.record_answer(
            ctx, MINE, kind="acknowledge_contact", email=email, actor=EMAILS[COORDINATOR]
        )
    open_ids = {r.id for r in requests.list_requests(ctx, MINE) if r.status == "sent"}
    assert len(sent) == 7 and len(open_ids) == 5
    clock.advance(days=40)  # past the requests' 10 and the step's 20 working days

    page.goto(f"{url}/report")
    log_in(page, url, EMAILS[MANAGER])
    expect(page).to_have_url(f"{url}/report")
    overdue = page.locator("tr.overdue-row")
    expect(overdue).to_have_count(6)
    border_guard = page.locator("tr.overdue-row", has_text="Border Guard")
    expect(border_guard).to_contain_text("acknowledgement of the contact request")
    expect(border_guard).to_contain_text("overdue")
    expect(page.locator("figure.gantt svg")).to_have_count(1)
    expect(page.locator("figure.gantt svg title").first).to_contain_text(MINE)
    screenshot(page, "deadline-report")

    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Download as CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(csv_download.value.path()).read_text("utf-8"))))
    assert {r["status"] for r in rows} == {"overdue"}
    assert {int(r["request_id"]) for r in rows if r["kind"] == "request"} == open_ids
    assert [r["step"] for r in rows if r["kind"] == "step"] == ["stakeholder_identification"]
    assert all(r["process"] == MINE and int(r["working_days_overdue"]) > 0 for r in rows)

    with page.expect_download() as ics_download:
        page.get_by_role("link", name="Add the deadlines to a calendar (.ics)").click()
    assert ics_download.value.suggested_filename == "ibmflow-deadlines.ics"
    calendar = icalendar.Calendar.from_ical(Path(ics_download.value.path()).read_bytes())
    events = list(calendar.walk("VEVENT"))
    uids = {str(e["UID"]).split("@")[0] for e in events}
    assert uids == {f"request-{i}" for i in open_ids} | {
        next(str(e["UID"]).split("@")[0] for e in events if str(e["UID"]).startswith("step-"))
    }
    assert len(events) == 6
    assert all(str(e["SUMMARY"]).startswith(f"[{MINE}]") for e in events)
