"""The process page and the Gantt in a real browser (Debian's Chromium through Playwright): a refused
Complete comes back at the page's own address with its message focused; the late process read on a
laptop and on a phone; the Gantt on a phone is a readable list of the steps. Screenshots at
1366x900 and 390x844 are kept in tests/artifacts/."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from test_web_browser import ARTIFACTS, browser, log_in, screenshot  # noqa: F401 (the browser fixture)
from webconsole import EMAILS, MINE, PASSWORD, start_process

from ibmflow import demo
from ibmflow.access import COORDINATOR, MANAGER
from ibmflow.demo import COORDINATOR as COORDINATOR_EMAIL
from ibmflow.services import accounts, processes, records, requests
from ibmflow.services.context import Context

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
LATE = "MA-5"
LAPTOP, PHONE = {"width": 1366, "height": 900}, {"width": 390, "height": 844}


def _page(chromium: Browser, viewport: dict[str, int]) -> Page:
    opened = chromium.new_context(viewport=viewport).new_page()  # type: ignore[arg-type]
    opened.set_default_timeout(15_000)
    return opened


def _accounts(ctx: Context, keys: list[str]) -> None:
    for role in (COORDINATOR, MANAGER):
        accounts.add_user(
            ctx,
            email=EMAILS[role],
            name=f"The {role}",
            role=role,
            password=PASSWORD,
            processes=keys,
            actor="setup",
        )


@sqlite_only
def test_a_refused_complete_comes_back_at_the_page_with_the_message_focused(
    ctx: Context,
    tmp_path: Path,
    start: Callable[[Context], str],
    browser: Browser,  # noqa: F811 (the fixture imported above)
) -> None:
    """Nothing blocks the step when the page is read; someone else moves the process before the
    coordinator clicks Complete: the browser lands back on /p/KEY, the refusal focused."""
    url = start(ctx)
    start_process(ctx, MINE, tmp_path)
    _accounts(ctx, [MINE])
    requests.send_requests(
        ctx, MINE, kind="acknowledge_contact", scope="permanent", actor=COORDINATOR_EMAIL
    )
    for r in requests.list_requests(ctx, MINE):
        if r.status == "sent" and r.focal_point:
            records.record_answer(
                ctx, MINE, kind=r.kind, email=r.focal_point, actor=COORDINATOR_EMAIL
            )
    page = _page(browser, LAPTOP)
    page.goto(f"{url}/p/{MINE}")
    log_in(page, url, EMAILS[COORDINATOR])
    expect(page).to_have_url(f"{url}/p/{MINE}")
    expect(page.locator("#blockers + p")).to_contain_text("the step can be completed")
    processes.fire(ctx, MINE, "suspend", actor=COORDINATOR_EMAIL, reason="meanwhile")
    processes.fire(ctx, MINE, "resume", actor=COORDINATOR_EMAIL, reason="meanwhile")
    page.get_by_role("button", name="Complete this step").click()
    expect(page).to_have_url(re.compile(rf"{url}/p/{MINE}\?refused=[\w-]+#message$"))
    message = page.locator("#message")
    expect(message).to_have_attribute("role", "alert")
    expect(message).to_contain_text("Someone else changed process")
    expect(message).to_be_focused()
    expect(page.locator("[aria-current=step]")).to_contain_text("key stakeholders")
    screenshot(page, "page-refused-complete-laptop")
    page.context.close()


@sqlite_only
def test_the_late_process_reads_by_urgency_and_the_gantt_is_readable_on_a_phone(
    ctx: Context,
    start: Callable[[Context], str],
    browser: Browser,  # noqa: F811 (the fixture imported above)
) -> None:
    url = start(ctx)
    demo.in_progress(ctx, LATE)
    _accounts(ctx, [LATE])
    heights = {}
    for name, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        page = _page(browser, viewport)
        page.goto(f"{url}/p/{LATE}")
        log_in(page, url, EMAILS[COORDINATOR])
        expect(page).to_have_url(f"{url}/p/{LATE}")
        first = page.locator("#bulk tbody tr").first
        expect(first).to_contain_text("working days late")
        complete = page.get_by_role("button", name="Complete this step")
        expect(complete).to_be_disabled()
        heights[name] = page.evaluate("document.documentElement.scrollHeight")
        screenshot(page, f"page-late-process-{name}")
        ARTIFACTS.mkdir(exist_ok=True)  # what the first screen shows: what blocks, how late
        page.screenshot(path=str(ARTIFACTS / f"page-late-process-{name}-first-screen.png"))
        page.context.close()
    assert heights["laptop"] < 6000 and heights["phone"] < 15000, heights

    for name, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        page = _page(browser, viewport)
        page.goto(f"{url}/report")
        log_in(page, url, EMAILS[MANAGER])
        expect(page).to_have_url(f"{url}/report")
        chart, rows = page.locator("figure.gantt svg"), page.locator("ol.gantt-list li")
        if name == "phone":
            expect(chart).to_be_hidden()
            expect(rows).to_have_count(9)
            expect(rows.nth(4)).to_be_visible()
            expect(rows.nth(4)).to_contain_text("Analysis of the current situation")
            font = page.evaluate(
                "parseFloat(getComputedStyle(document.querySelector('ol.gantt-list li')).fontSize)"
            )
            assert font >= 14, font
            ARTIFACTS.mkdir(exist_ok=True)
            page.locator("ol.gantt-list").screenshot(
                path=str(ARTIFACTS / "report-gantt-phone-steps.png")
            )
        else:
            expect(chart).to_be_visible()
            expect(rows.first).to_be_hidden()
        screenshot(page, f"report-gantt-{name}")
        page.context.close()
