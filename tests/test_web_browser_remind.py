""" "Remind now" and a bulk extension in a real browser (Playwright driving Debian's Chromium against
a real uvicorn server; no SMTP server: mail is captured in the local mailbox).

On a request's due day, before the ladder's 09:00 rung, the coordinator opens the preview of its
reminder, sends it, and lands back on the request's row; the mail is in the captured mailbox under
the request's first mail (In-Reply-To); the sweeps of that day send nothing more for it. The French
focal point's preview is in French (at phone width). Then two requests are extended with one reason.
Screenshots at 1366x900 and 390x844 are kept in tests/artifacts/.

Until the process page's request table offers the bulk form (another branch), the bulk form is
posted by the page itself, built with the fields the table's form sends.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from test_web_browser import browser, deliver, log_in, screenshot  # noqa: F401 (fixtures)
from webconsole import EMAILS, MINE, add_accounts, start_process

from ibmflow.access import COORDINATOR
from ibmflow.demo import COORDINATOR as COORDINATOR_EMAIL
from ibmflow.services import chase, requests
from ibmflow.services.context import Context
from ibmflow.storage.tables import RequestRow
from ibmflow.testing import FixedClock

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _captured(ctx: Context) -> list[email.message.EmailMessage]:
    """Every mail in the local mailbox."""
    found = []
    for path in sorted((ctx.settings.data_dir / "mailbox").rglob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        found.append(message)
    return found


def _request(ctx: Context, rid: int) -> RequestRow:
    with ctx.db.reading() as session:
        row = session.get(RequestRow, rid)
        assert row is not None
        session.expunge(row)
        return row


@sqlite_only
def test_a_coordinator_reminds_from_the_preview_and_extends_two_requests_at_once(
    ctx: Context,
    clock: FixedClock,
    tmp_path: Path,
    start: Callable[[Context], str],
    browser: Browser,  # noqa: F811
) -> None:
    url = start(ctx)
    start_process(ctx, MINE, tmp_path)
    add_accounts(ctx, other=False)
    requests.send_requests(
        ctx, MINE, kind="acknowledge_contact", scope="permanent", actor=COORDINATOR_EMAIL
    )
    sent = {r.institution: r.id for r in requests.list_requests(ctx, MINE)}
    rid, french = sent["MOF_CUSTOMS"], sent["MOA_VETERINARY"]
    due = _request(ctx, rid).due_at
    assert due is not None
    clock.at = due.replace(hour=7, minute=0)  # the due day, 08:00 in Morocco: before the rung
    deliver(ctx)
    assert not [m for m in _captured(ctx) if "Reminder:" in str(m["Subject"])]

    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page: Page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{url}/p/{MINE}/requests/{rid}/remind")
    log_in(page, url, EMAILS[COORDINATOR])
    expect(page).to_have_url(f"{url}/p/{MINE}/requests/{rid}/remind")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Remind request #{rid} now")
    expect(page.locator("pre.mail")).to_contain_text("is due today")
    expect(page.locator("dl").first).to_contain_text("English")
    expect(
        page.get_by_text("It takes the place of the ladder's reminder due today")
    ).to_be_visible()
    expect(page.get_by_role("link", name="Cancel")).to_have_attribute(
        "href", f"/p/{MINE}#request-{rid}"
    )
    screenshot(page, "remind-preview-1366")
    page.get_by_label("Reason (optional, kept on the audit log)").fill("The minister asks")
    page.get_by_role("button", name="Send the reminder now").click()
    expect(page).to_have_url(f"{url}/p/{MINE}?done=reminded#request-{rid}")
    expect(page.locator("#message")).to_contain_text("The reminder is sent")

    assert deliver(ctx) == 1  # one focal point: acknowledgements go to each one
    original = _request(ctx, rid).message_id
    reminders = [m for m in _captured(ctx) if "Reminder:" in str(m["Subject"])]
    (reminder,) = reminders
    assert reminder["In-Reply-To"] == original and original in reminder["References"]

    # The day's sweeps ring the others' due rungs, never Customs' again.
    for hours in (1, 5, 10):
        report = chase.sweep(ctx, now=clock.at + timedelta(hours=hours))
        assert not [r for r in report.rungs if r.key.startswith(f"request:{rid}:")]
        assert hours != 1 or any(r.outcome == "sent" for r in report.rungs)

    # The French focal point's reminder, previewed at phone width: in French.
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    small = phone.new_page()
    small.set_default_timeout(15_000)
    small.goto(f"{url}/p/{MINE}/requests/{french}/remind")
    log_in(small, url, EMAILS[COORDINATOR])
    expect(small.locator("dl").first).to_contain_text("Français")
    expect(small.locator("pre.mail")).to_contain_text("Bonjour")
    screenshot(small, "remind-preview-390")
    phone.close()

    # Two requests extended with one reason, from the request table's bulk form.
    first, second = sent["MFA_VISA"], sent["MOI_BORDER_GUARD"]
    page.goto(f"{url}/p/{MINE}#requests")
    page.check(f"#pick-{first}")
    page.check(f"#pick-{second}")
    page.select_option("#bulk-action", "extend")
    page.fill("#bulk-days", "5")
    page.fill("#bulk-reason", "Ministers abroad")
    page.click("fieldset.bulk button[type=submit]")
    expect(page).to_have_url(re.compile(rf"/p/{MINE}\?done=bulk"))
    expect(page.locator("#message")).to_contain_text("Done for every request ticked")
    extended = page.locator("#extensions + ul")
    expect(extended.get_by_text("Ministers abroad")).to_have_count(2)
    screenshot(page, "bulk-extend-1366")
    context.close()
