"""The audit history in a real browser (Playwright driving Debian's Chromium against a real uvicorn
server): a coordinator reads what happened in words, filters it with the form (the action chosen
by its label), follows the pages with the filters kept, shows the mail deliveries, and downloads
the filtered events as CSV. Screenshots are kept in tests/artifacts/.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from test_web_browser import browser, deliver, log_in, page, screenshot  # noqa: F401 (fixtures)
from webconsole import EMAILS, MINE, add_accounts, start_process

from ibmflow.access import COORDINATOR
from ibmflow.demo import COORDINATOR as COORDINATOR_EMAIL
from ibmflow.services import requests
from ibmflow.services.context import Context

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@sqlite_only
def test_a_coordinator_filters_the_audit_history_and_downloads_it(
    ctx: Context,
    tmp_path: Path,
    start: Callable[[Context], str],
    page: Page,  # noqa: F811
) -> None:
    url = start(ctx)
    start_process(ctx, MINE, tmp_path)
    add_accounts(ctx, other=False)
    requests.send_requests(
        ctx, MINE, kind="acknowledge_contact", scope="permanent", actor=COORDINATOR_EMAIL
    )
    delivered = deliver(ctx)
    assert delivered >= 7

    page.goto(f"{url}/p/{MINE}/audit")
    log_in(page, url, EMAILS[COORDINATOR])
    expect(page).to_have_url(f"{url}/p/{MINE}/audit")
    table = page.locator("table tbody")
    expect(table).to_contain_text("sent to")
    expect(table).not_to_contain_text("delivered")
    screenshot(page, "audit-history")

    filters = page.locator("#filters")
    filters.get_by_label("Action").select_option(label="Request sent")
    filters.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"action=request\.sent"))
    rows = table.locator("tr")
    assert rows.count() == 7 and all("sent to" in t for t in rows.all_inner_texts())
    expect(filters.get_by_label("Action")).to_have_value("request.sent")

    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    saved = download.value
    assert saved.suggested_filename == f"{MINE}-audit.csv"
    data = Path(saved.path()).read_text(encoding="utf-8-sig")
    exported = list(csv.DictReader(io.StringIO(data)))
    assert len(exported) == 7 and {r["Action"] for r in exported} == {"request.sent"}

    filters.get_by_label("Action").select_option(label="Any action")
    filters.get_by_label("Show mail deliveries").check()
    filters.get_by_role("button", name="Filter").click()
    expect(table).to_contain_text("delivered")
    first = table.locator("a", has_text="Mail ").first
    first.click()
    expect(page).to_have_url(re.compile(rf"/p/{MINE}/mail/\d+$"))
    screenshot(page, "audit-mail-followed")
