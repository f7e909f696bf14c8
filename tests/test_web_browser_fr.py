"""A francophone administration in a real browser (Playwright driving Debian's Chromium against a real
uvicorn server): a French coordinator completes a step and sees French; a French-speaking focal point
gets a French request mail, follows its link, answers on a French page and gets a French receipt.

The demo roster's Veterinary Inspection reads French. Screenshots are kept in tests/artifacts/.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from test_web_browser import browser, deliver, page, screenshot  # noqa: F401 (fixtures)
from webconsole import EMAILS, MINE, PASSWORD, add_accounts, start_process

from ibmflow.access import COORDINATOR
from ibmflow.services import accounts
from ibmflow.services.context import Context

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
FRENCH_INSTITUTION = "VET_INSPECTION"


def _mails_to(ctx: Context, address: str) -> list[email.message.EmailMessage]:
    """The mails captured for `address` in the local mailbox (no SMTP server configured)."""
    found = []
    for path in sorted((ctx.settings.data_dir / "mailbox").rglob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if address in str(message["To"]):
            found.append(message)
    return found


def _text(message: email.message.EmailMessage) -> str:
    body = message.get_body(("plain",))
    return body.get_content() if body else ""


def _lang(message: email.message.EmailMessage) -> str:
    body = message.get_body(("html",))
    found = re.search(r'<html lang="([^"]+)"', body.get_content() if body else "")
    return found.group(1) if found else "?"


@sqlite_only
def test_a_french_coordinator_and_a_french_focal_point_work_in_french(
    ctx: Context,
    tmp_path: Path,
    start: Callable[[Context], str],
    page: Page,  # noqa: F811
) -> None:
    url = start(ctx)
    start_process(ctx, MINE, tmp_path)
    add_accounts(ctx, other=False)
    accounts.set_language(ctx, EMAILS[COORDINATOR], "fr", actor="setup")
    deliver(ctx)

    page.goto(f"{url}/p/{MINE}")
    page.locator("input[name=email]").fill(EMAILS[COORDINATOR])
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").last.click()
    expect(page).to_have_url(f"{url}/p/{MINE}")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    blockers = page.locator("#blockers + .blocker")
    expect(blockers).to_contain_text("n’ont pas accusé réception")
    blockers.get_by_text("Envoyer une demande (accusé").first.click()
    form = blockers.locator("form").first
    form.get_by_role("button", name="Envoyer les demandes").click()
    expect(page.locator("#message")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    screenshot(page, "fr-process-page-requests-sent")
    deliver(ctx)

    # Every focal point answers from the link of their mail; the French one reads French.
    mailbox = sorted((ctx.settings.data_dir / "mailbox").rglob("*.eml"))
    requests = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in mailbox
    ]
    requests = [m for m in requests if "/r/" in _text(m)]
    assert requests, "no request mail captured"
    french = [m for m in requests if _lang(m) == "fr"]
    assert french and len(french) < len(requests), [(m["To"], _lang(m)) for m in requests]
    assert "point focal" in _text(french[0]) and "heure du Maroc" in _text(french[0])
    for message in requests:
        link = re.search(r"https?://\S+/r/\S+", _text(message))
        assert link
        # Each focal point in a browser of their own (no coordinator's cookie).
        own = page.context.browser.new_context(viewport={"width": 390, "height": 844})
        answer = own.new_page()
        answer.goto(link.group(0))
        is_french = message in french
        expect(answer.locator("html")).to_have_attribute("lang", "fr" if is_french else "en")
        answer.locator("textarea").first.fill("Confirmé : je suis le point focal.")
        answer.locator("form button[type=submit]").last.click()
        if is_french:
            expect(answer.locator("h1")).to_contain_text("Merci")
            screenshot(answer, "fr-answer-receipt-page-phone")
        own.close()
    deliver(ctx)
    receipts = [
        m
        for m in (
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted((ctx.settings.data_dir / "mailbox").rglob("*.eml"))
        )
        if str(m["To"]) == str(french[0]["To"]) and m not in requests and "/r/" not in _text(m)
    ]
    assert receipts, "the French focal point got no receipt"
    assert _lang(receipts[-1]) == "fr" and "réponse" in _text(receipts[-1]).lower()

    page.goto(f"{url}/p/{MINE}")
    page.get_by_role("button", name="Achever cette étape").click()
    expect(page.locator("#message")).to_be_visible()
    expect(page.locator("[aria-current=step]")).to_contain_text("organes de coordination")
    assert screenshot(page, "fr-process-page-step-completed").stat().st_size > 10_000
