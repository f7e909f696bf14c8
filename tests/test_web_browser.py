"""The console in a real browser: Playwright drives Debian's Chromium against a real uvicorn server.

A coordinator logs in, sees a blocker, opens the requests that clear it; the focal points answer
from the links in the captured mails; the coordinator completes the step. A manager reads the
deadline report and downloads it as CSV and iCalendar. Screenshots are kept in tests/artifacts/.

Without Chromium (`apt-get install chromium`) these tests are skipped, except under CI=true.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from webconsole import EMAILS, MINE, PASSWORD, add_accounts, start_process

from ibmflow.access import COORDINATOR
from ibmflow.mail.dispatch import build_transport, dispatch_once
from ibmflow.services.context import Context

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

    blockers.get_by_text("Send the missing requests").click()
    form = blockers.locator("form").first
    expect(form.get_by_label("Kind of request")).to_have_value("acknowledge_contact")
    expect(form.get_by_label("Send it to", exact=True)).to_have_value("permanent")
    form.get_by_role("button", name="Send the requests").click()
    expect(page.locator("#notice")).to_contain_text("The requests were sent")
    assert page.locator("#requests ~ .table-wrap tbody tr").count() == 7
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
        expect(page.locator("h1")).to_contain_text("Acknowledgement of the contact request")
        page.get_by_label("Your answer").fill("Confirmed, I am the focal point.")
        page.get_by_role("button", name="Send the answer").click()
        expect(page.locator("h1")).to_have_text("Thank you: your answer is recorded")

    page.goto(f"{url}/p/{MINE}")
    expect(page.locator("#blockers + p")).to_contain_text("the step can be completed")
    page.get_by_role("button", name="Complete this step").click()
    expect(page.locator("#notice")).to_contain_text("The step is completed")
    expect(page.locator("[aria-current=step]")).to_contain_text(
        "Establishment of the coordinating bodies"
    )
    expect(page.locator("#blockers + .blocker")).to_contain_text("name at least 1")
    assert screenshot(page, "process-page").stat().st_size > 10_000
