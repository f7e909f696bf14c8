"""The coordinator's desk in a real browser (Debian's Chromium through Playwright, a real uvicorn
server): after logging in, "Needs my attention" lists a late request of each of two processes with
its working days overdue and institution; an item leads to the request on its process page; the
search box in the header finds a request by number. Screenshots at a laptop's width (1366 x 900) and
a phone's (390 x 844) are kept in tests/artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from test_web_browser import ARTIFACTS, browser, log_in  # noqa: F401  (the browser fixture)
from webconsole import EMAILS, MINE, THEIRS, add_accounts, start_process

from ibmflow.access import COORDINATOR
from ibmflow.services import accounts, requests
from ibmflow.services.context import Context
from ibmflow.testing import FixedClock

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
WIDTHS = {"laptop": (1366, 900), "phone": (390, 844)}


def _shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@sqlite_only
@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_desk_lists_a_late_request_of_each_of_two_processes(
    ctx: Context,
    tmp_path: Path,
    start: Callable[[Context], str],
    browser: Browser,  # noqa: F811
    clock: FixedClock,
    width: str,
) -> None:
    url = start(ctx)
    late: dict[str, int] = {}
    for key in (MINE, THEIRS):
        start_process(ctx, key, tmp_path)
        late[key] = requests.send_requests(
            ctx, key, kind="acknowledge_contact", scope="permanent", actor=EMAILS[COORDINATOR]
        )[0]
    add_accounts(ctx, other=False)
    accounts.set_processes(ctx, EMAILS[COORDINATOR], [MINE, THEIRS], actor="setup")
    clock.advance(days=40)  # past the requests' due dates

    w, h = WIDTHS[width]
    context = browser.new_context(viewport={"width": w, "height": h})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{url}/login")
        log_in(page, url, EMAILS[COORDINATOR])
        expect(page).to_have_url(f"{url}/attention")
        expect(page.locator("h1")).to_have_text("Needs my attention")
        nav = page.get_by_role("navigation", name="Main")
        expect(
            nav.get_by_role("link", name=re.compile(r"Needs my attention \(\d+\)"))
        ).to_be_visible()
        overdue = page.locator("section", has=page.locator("h2#overdue_requests"))
        for key, rid in late.items():
            item = overdue.locator("li", has=page.locator(f'a[href="/p/{key}#request-{rid}"]'))
            expect(item).to_have_count(1)
            expect(item).to_contain_text(f"Request #{rid}")
            expect(item).to_contain_text(re.compile(r"\d+ working days overdue"))
            expect(item.locator(".where")).to_contain_text(key)
        _shot(page, f"desk-{width}")
        assert page.evaluate("document.documentElement.scrollWidth") <= w, "no sideways scroll"

        overdue.locator(f'a[href="/p/{THEIRS}#request-{late[THEIRS]}"]').click()
        expect(page).to_have_url(f"{url}/p/{THEIRS}#request-{late[THEIRS]}")
        expect(page.locator(f"#request-{late[THEIRS]}")).to_be_visible()

        search = page.get_by_role("search").get_by_label("Search")
        search.fill(f"#{late[MINE]}")
        search.press("Enter")
        expect(page).to_have_url(re.compile(r"/search\?q="))
        found = page.locator(f'a[href="/p/{MINE}#request-{late[MINE]}"]')
        expect(found).to_contain_text(f"Request #{late[MINE]}")
        _shot(page, f"search-{width}")
    finally:
        context.close()
