"""Accessibility: every console page and the answer pages, in Debian's Chromium at a desktop width
(1366 x 900) and a phone's (390 x 844), checked by axe-core against WCAG 2.1 A and AA.

axe-core is the npm package pinned in tests/a11y/package-lock.json (installed on first use by the
`axe_script` fixture of conftest.py) and injected by Playwright into each page as it is served by a
real uvicorn. The table `PAGES` names each page by the route the gate declares; a GET route of the
console that is neither in it nor in `NOT_PAGES` fails `test_every_page_the_gate_declares_is_checked`:
add it to the table. A screenshot of each page at each width is kept in tests/artifacts/a11y/.

Without Chromium or npm these tests are skipped, except under CI=true.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from axecore import install_axe
from outboxtext import one_with_text
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from sqlmodel import select
from test_web_browser import CHROMIUM, require_chromium
from webconsole import (
    EMAILS,
    MINE,
    PASSWORD,
    THEIRS,
    _objects,
    add_accounts,
    csrf_of,
    start_process,
)
from webserver import serve

from ibmflow import demo
from ibmflow.access import ADMINISTRATOR, COORDINATOR, MANAGER
from ibmflow.bootstrap import bootstrap
from ibmflow.config import load_settings
from ibmflow.services import decisions, processes, requests
from ibmflow.services.context import Context
from ibmflow.storage import migrate
from ibmflow.storage.tables import OutboxRow, RequestRow
from ibmflow.testing import FixedClock
from ibmflow.web.app import create_app

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "a11y"
WIDTHS = {"wide": (1366, 900), "narrow": (390, 844)}
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# axe-core's run over the whole page, its rules narrowed to the tags given.
AXE_RUN = "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
NEW, ADOPTED, LATE = "MA-2", "DEMO-1", "DEMO-2"
ANONYMOUS = ""


@dataclass(frozen=True)
class Case:
    """A page to check: its name, the route the gate declares for it, who looks at it, its path
    (`{name}` filled from the tour's values), the status it answers with, and what to do on it
    before checking (submit a form to see its problem, say)."""

    name: str
    route: str
    who: str
    path: str
    status: int = 200
    then: Callable[[Page], None] | None = None


def _refused_login(page: Page) -> None:
    page.fill("#email", EMAILS[COORDINATOR])
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    page.wait_for_selector("#problem")


def _answer_with_nothing(page: Page) -> None:
    """Send the answer form empty (the browser's own checks off): the page shows what is wrong."""
    page.eval_on_selector("main form", "form => { form.noValidate = true; }")
    page.click("main form button[type=submit]")
    page.wait_for_selector("#problem")


PAGES = [
    Case("login", "/login", ANONYMOUS, "/login"),
    Case("login refused", "/login", ANONYMOUS, "/login", then=_refused_login),
    Case("process list", "/processes", ADMINISTRATOR, "/processes"),
    Case("process list, a bad page", "/processes", COORDINATOR, "/processes?page=x", 400),
    Case(
        "process at stakeholder identification",
        "/p/{key}",
        COORDINATOR,
        f"/p/{MINE}",
    ),
    Case(
        "process after an action",
        "/p/{key}",
        COORDINATOR,
        f"/p/{MINE}?done=requests",
    ),
    Case("process just started", "/p/{key}", ADMINISTRATOR, f"/p/{NEW}"),
    Case("process suspended", "/p/{key}", ADMINISTRATOR, f"/p/{THEIRS}"),
    Case("process late", "/p/{key}", ADMINISTRATOR, f"/p/{LATE}"),
    Case("process adopted", "/p/{key}", ADMINISTRATOR, f"/p/{ADOPTED}"),
    Case("process not there", "/p/{key}", COORDINATOR, "/p/XX-9", 404),
    Case("audit", "/p/{key}/audit", COORDINATOR, f"/p/{MINE}/audit"),
    Case(
        "audit past the end",
        "/p/{key}/audit",
        COORDINATOR,
        f"/p/{MINE}/audit?page=9",
    ),
    Case("mail list", "/p/{key}/mail", COORDINATOR, f"/p/{MINE}/mail"),
    Case("mail list refused", "/p/{key}/mail", MANAGER, f"/p/{MINE}/mail", 403),
    Case("a mail", "/p/{key}/mail/{mail}", COORDINATOR, f"/p/{MINE}/mail/{{mail}}"),
    Case("a mail not there", "/p/{key}/mail/{mail}", COORDINATOR, f"/p/{MINE}/mail/999999", 404),
    Case("report", "/report", MANAGER, "/report"),
    Case("report of every process", "/report", ADMINISTRATOR, "/report"),
    Case("report, a bad horizon", "/report", MANAGER, "/report?horizon=x", 400),
    Case("answer page", "/r/{token}", ANONYMOUS, "/r/{acknowledge}"),
    Case("answer page with scores", "/r/{token}", ANONYMOUS, "/r/{assessment}"),
    Case(
        "answer page refused", "/r/{token}", ANONYMOUS, "/r/{assessment}", then=_answer_with_nothing
    ),
    Case("vote page", "/r/{token}", ANONYMOUS, "/r/{vote}"),
    Case("answer link unknown", "/r/{token}", ANONYMOUS, "/r/no-such-link-0123456789abcdef", 404),
    Case("answer link used", "/r/{token}", ANONYMOUS, "/r/{used}", 410),
    Case("answer done", "/r/{token}/done", ANONYMOUS, "/r/{used}/done"),
    Case("page not found", "", COORDINATOR, "/no/such/page", 404),
    Case("needs my attention", "/attention", COORDINATOR, "/attention"),
    Case("needs my attention, a manager", "/attention", MANAGER, "/attention"),
    Case("needs my attention, every process", "/attention", ADMINISTRATOR, "/attention"),
    Case("search", "/search", COORDINATOR, "/search?q=customs"),
    Case("search, nothing asked", "/search", COORDINATOR, "/search"),
    Case("process list, only late", "/processes", ADMINISTRATOR, "/processes?late=1&sort=due"),
    Case("process list, a bad sort", "/processes", ADMINISTRATOR, "/processes?sort=x", 400),
    Case("audit, filtered", "/p/{key}/audit", COORDINATOR, f"/p/{MINE}/audit?deliveries=1"),
    Case(
        "remind now",
        "/p/{key}/requests/{rid}/remind",
        COORDINATOR,
        f"/p/{MINE}/requests/{{request}}/remind",
    ),
]
# The console's GET routes that are not pages, and what they are.
NOT_PAGES = {
    "/": "a redirection to the desk (or the login page)",
    "/healthz": "JSON for the load balancer",
    "/p/{key}/documents/{doc}": "a file download",
    "/report.csv": "a CSV download",
    "/report.ics": "an iCalendar download",
    "/p/{key}/audit.csv": "a CSV download",
    "/p/{key}/audit.json": "a JSON download",
    "/p/{key}/answers/{kind}.csv": "a CSV download",
    "/p/{key}/answers/{kind}.xlsx": "a spreadsheet download",
    "/p/{key}/requests.csv": "a CSV download",
    "/p/{key}/requests.xlsx": "a spreadsheet download",
}


@dataclass
class Tour:
    """The console the pages are read from: its URL and the values their paths are filled with."""

    url: str
    ctx: Context
    values: dict[str, str]


def _wired(folder: Path) -> Context:
    """ibmflow on an SQLite file in `folder` (the module's tour outlives a test's `ctx`)."""
    environ = {
        "IBMFLOW_DATABASE_URL": f"sqlite:///{folder / 'ibmflow.db'}",
        "IBMFLOW_PATHS_DATA_DIR": str(folder / "data"),
        "IBMFLOW_PATHS_WORKFLOWS_DIR": str(REPO / "workflows"),
        "IBMFLOW_PATHS_NOTIFICATIONS_DIR": str(REPO / "notifications"),
    }
    settings = load_settings(config_path=REPO / "config.toml", environ=environ)
    return bootstrap(settings, clock=FixedClock())


def _link(ctx: Context, request_id: int) -> str:
    """The link token of the first mail of a request."""
    with ctx.db.reading() as session:
        rows = session.exec(select(OutboxRow).where(OutboxRow.request_id == request_id)).all()
        bodies = [one_with_text(ctx, row).text_body or "" for row in rows]
    for body in bodies:
        match = re.search(r"/r/([A-Za-z0-9_-]+)", body)
        if match:
            return match.group(1)
    raise AssertionError(f"no link mailed for request #{request_id}")


def _vote_request(ctx: Context, decision: int) -> int:
    with ctx.db.reading() as session:
        found = session.exec(
            select(RequestRow.id).where(RequestRow.decision_id == decision)
        ).first()
    assert found is not None, f"decision #{decision} issued no vote"
    return int(found)


def _answered(url: str, token: str) -> None:
    """Answer a link as a browser does, so that it is used."""
    with httpx.Client(base_url=url, timeout=30) as client:
        form = client.get(f"/r/{token}")
        sent = client.post(
            f"/r/{token}",
            data={"csrf_token": csrf_of(form), "text": "Noted."},
            files=[("files", ("", b"", "application/octet-stream"))],
        )
        assert sent.status_code == 303, sent.text


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tour]:
    """A console on a real server with processes at several states (MA-1 at stakeholder
    identification with an object of each kind and a vote open, TN-1 suspended, MA-2 just started,
    DEMO-1 adopted, DEMO-2 late), an account per role, and answer links open and used."""
    folder = tmp_path_factory.mktemp("a11y")
    ctx = _wired(folder)
    migrate.upgrade(ctx.db)
    with ExitStack() as stack:
        stack.callback(ctx.db.dispose)
        url = serve(ctx, stack)
        for key in (MINE, THEIRS):
            start_process(ctx, key, folder)
        objects = {key: _objects(ctx, key) for key in (MINE, THEIRS)}
        processes.start_process(ctx, title="National IBM strategy MA-2", key=NEW, actor="setup")
        processes.fire(ctx, THEIRS, "suspend", actor=EMAILS[COORDINATOR], reason="elections")
        demo.drive(ctx, ADOPTED)
        demo.in_progress(ctx, LATE)
        add_accounts(ctx)
        coordinator = EMAILS[COORDINATOR]
        assessment, used = (
            requests.send_requests(ctx, MINE, kind=kind, actor=coordinator, institutions=[code])[0]
            for kind, code in (("self_assessment", "MOF_CUSTOMS"), ("acknowledge_contact", "MOH"))
        )
        decision = decisions.open_decision(
            ctx, MINE, subject="terms_of_reference", actor=coordinator
        )
        values = {
            "mail": str(objects[MINE]["mail"]),
            "request": str(objects[MINE]["request"]),
            "acknowledge": _link(ctx, objects[MINE]["request"]),
            "assessment": _link(ctx, assessment),
            "vote": _link(ctx, _vote_request(ctx, decision)),
            "used": _link(ctx, used),
        }
        _answered(url, values["used"])
        yield Tour(url=url, ctx=ctx, values=values)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, one for the module."""
    require_chromium(CHROMIUM, os.environ)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def tabs(browser: Browser, tour: Tour) -> Iterator[Callable[[str], Page]]:
    """A tab for each account (logged in on first use) and one for nobody. The answer pages forbid
    scripts by their Content-Security-Policy: the contexts bypass it to inject axe-core."""
    opened: dict[str, tuple[BrowserContext, Page]] = {}

    def tab(who: str) -> Page:
        if who not in opened:
            context = browser.new_context(bypass_csp=True)
            page = context.new_page()
            page.set_default_timeout(15_000)
            if who:
                page.goto(f"{tour.url}/login")
                page.fill("#email", EMAILS[who])
                page.fill("#password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(re.compile(r"/attention$"))
            opened[who] = (context, page)
        return opened[who][1]

    yield tab
    for context, _page in opened.values():
        context.close()


def _case_id(case: Case) -> str:
    return re.sub(r"[^a-z0-9]+", "-", case.name.lower()).strip("-")


def violations_of(results: dict[str, Any]) -> list[str]:
    """axe-core's violations, one line per element: rule, impact, selector, what to do."""
    lines = []
    for violation in results["violations"]:
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            lines.append(
                f"{violation['id']} ({violation['impact']}) at {target}: {violation['help']}"
                f" ({violation['helpUrl']})"
            )
    return lines


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("case", PAGES, ids=_case_id)
def test_the_page_has_no_accessibility_violation(
    case: Case, width: str, tour: Tour, tabs: Callable[[str], Page], axe_script: Path
) -> None:
    page = tabs(case.who)
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS[width], strict=True)))  # type: ignore[arg-type]
    response = page.goto(tour.url + case.path.format(**tour.values))
    assert response is not None and response.status == case.status, (
        f"{case.path}: {response.status if response else 'no response'}"
    )
    if case.then is not None:
        case.then(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{_case_id(case)}-{width}.png"), full_page=True)
    page.add_script_tag(path=str(axe_script))
    found = violations_of(page.evaluate(AXE_RUN, WCAG))
    assert not found, f"{case.name} at {width} ({page.url}):\n" + "\n".join(found)


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("case", PAGES, ids=_case_id)
def test_no_page_is_wider_than_a_phone_in_either_language(
    case: Case, language: str, tour: Tour, tabs: Callable[[str], Page]
) -> None:
    """At 390 px nothing scrolls sideways: French words are longer (the header's search button
    and "Se déconnecter" once ran off the screen)."""
    page = tabs(case.who)
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS["narrow"], strict=True)))  # type: ignore[arg-type]
    path = case.path.format(**tour.values)
    try:
        page.goto(tour.url + path + ("&" if "?" in path else "?") + f"lang={language}")
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= WIDTHS["narrow"][0], f"{case.name} in {language}: {wide} px wide"
    finally:
        if language != "en":  # the browser remembers the switch in a cookie: back to English
            page.goto(
                tour.url + "/login?lang=en" if not case.who else tour.url + "/attention?lang=en"
            )


def test_every_page_the_gate_declares_is_checked(tmp_path: Path) -> None:
    """A console page added to the gate without a row in `PAGES` (or `NOT_PAGES`) fails here."""
    ctx = _wired(tmp_path)
    try:
        access = create_app(ctx).state.gate.access
    finally:
        ctx.db.dispose()
    gets = {path for method, path in access if method == "GET" and not path.startswith("/api/")}
    checked = {case.route for case in PAGES if case.route} | set(NOT_PAGES)
    unchecked = sorted(gets - checked)
    assert not unchecked, (
        f"pages without a row in test_web_a11y.PAGES (add it to the table): {unchecked}"
    )
    assert not checked - gets, (
        f"rows of routes the gate no longer declares: {sorted(checked - gets)}"
    )


def test_the_check_names_each_violation_its_rule_and_element(
    browser: Browser, axe_script: Path
) -> None:
    """The check is not vacuous: a page without a language, a title or an image's text fails it."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content('<html><body><main><img src="chart.png"></main></body></html>')
        page.add_script_tag(path=str(axe_script))
        found = violations_of(page.evaluate(AXE_RUN, WCAG))
    finally:
        context.close()
    rules = sorted(line.split(" ", 1)[0] for line in found)
    assert rules == ["document-title", "html-has-lang", "image-alt"], found
    assert any(line.startswith("image-alt (critical) at img: Images must have") for line in found)


def test_without_npm_the_accessibility_tests_skip_or_under_ci_fail(tmp_path: Path) -> None:
    (tmp_path / "package-lock.json").write_text(
        (Path(__file__).parent / "a11y" / "package-lock.json").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    with pytest.raises(pytest.skip.Exception, match=r"apt-get install nodejs npm"):
        install_axe(tmp_path, {}, None)
    with pytest.raises(pytest.fail.Exception, match="must run under CI: npm is missing"):
        install_axe(tmp_path, {"CI": "true"}, None)
    with pytest.raises(pytest.skip.Exception, match=r"could not install axe-core 4\.\d+\.\d+"):
        install_axe(tmp_path, {}, "/bin/false")
