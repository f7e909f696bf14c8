"""The process list in a real browser (issue 13, item 2): a manager ticks "Only late", pages through
the late processes with the filter kept, and reads the list on a desktop and on a phone, where each
process is a stacked card. Screenshots are kept in tests/artifacts/ (list-desktop.png,
list-phone.png)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from test_web_browser import browser  # noqa: F401 (the browser fixture)
from test_web_process_list import SENEGAL, three_processes
from webconsole import EMAILS, MINE, PASSWORD

from ibmflow.access import ADMINISTRATOR
from ibmflow.services import process_list
from ibmflow.services.context import Context
from ibmflow.testing import FixedClock

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:  # noqa: F811 (the fixture imported above)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@sqlite_only
def test_only_late_then_the_next_page_keeps_the_filter_on_a_desktop_and_a_phone(
    ctx: Context,
    clock: FixedClock,
    tmp_path: Path,
    start: Callable[[Context], str],
    page: Page,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = start(ctx)
    three_processes(ctx, clock, tmp_path)
    page.goto(f"{url}/processes")
    page.get_by_label("Email").fill(EMAILS[ADMINISTRATOR])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{url}/processes")
    rows = page.locator("table.stack tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Identification of a national coordinator")
    expect(rows.first).to_contain_text("5 working days")
    assert screenshot(page, "list-desktop").stat().st_size > 10_000

    monkeypatch.setattr(process_list, "LIST_PAGE", 1)
    page.get_by_label("Only late").check()
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"/processes\?.*late=1"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(SENEGAL)
    expect(page.locator("nav.pager")).to_contain_text("Processes 1-1 of 2 (page 1 of 2)")
    page.get_by_role("link", name="Next processes (2-2)").click()
    expect(page).to_have_url(re.compile(r"late=1.*page=2"))
    expect(rows.first).to_contain_text(MINE)
    expect(rows.first.locator(".badge.overdue")).to_have_text("7")
    expect(page.get_by_label("Only late")).to_be_checked()

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{url}/processes?late=1")
    # On a phone each process is a card: the header row is moved off screen, the cells stacked
    # under their labels, and nothing is wider than the screen.
    assert rows.first.evaluate("row => getComputedStyle(row).display") == "block"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    expect(rows.first.locator("td[data-label='Current step']")).to_be_visible()
    # Each cell's label starts inside its card (a label pulled left out of the card was cut off).
    outside = rows.first.evaluate(
        """row => [...row.querySelectorAll('td')].filter(td => {
            const label = getComputedStyle(td, '::before');
            const starts = td.getBoundingClientRect().left + parseFloat(label.marginLeft || '0');
            return starts < row.getBoundingClientRect().left;
        }).map(td => td.dataset.label)"""
    )
    assert outside == []
    assert screenshot(page, "list-phone").stat().st_size > 10_000
