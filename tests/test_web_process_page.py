"""The process page by urgency, through a real server and a real HTTP client: what blocks first (each
institution and how late), then the actions that fit the step, then the requests most urgent first
(filters, paging, the finished ones folded); human labels, never ids or Python values; a refused
action comes back at the page's own address with its message (post/redirect/get)."""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Callable, Iterator

import httpx
import pytest
from webconsole import EMAILS, PASSWORD, Site, audit_count, logged_in, problem_of, text_of

from ibmflow import demo
from ibmflow.access import ADMINISTRATOR, COORDINATOR
from ibmflow.demo import COORDINATOR as COORDINATOR_EMAIL
from ibmflow.services import accounts, decisions, extensions, processes, requests
from ibmflow.services.context import Context
from ibmflow.services.process_page import REQUEST_PAGE
from ibmflow.testing import FixedClock

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
pytestmark = sqlite_only

LATE, ADOPTED = "MA-5", "MA-9"


@pytest.fixture
def site(ctx: Context, start: Callable[[Context], str]) -> Iterator[Site]:
    """The late demo process (in the situation analysis, four institutions late) and an adopted
    one, on a real server; a coordinator of both and an administrator."""
    url = start(ctx)
    demo.in_progress(ctx, LATE)
    demo.drive(ctx, ADOPTED)
    for role in (COORDINATOR, ADMINISTRATOR):
        accounts.add_user(
            ctx,
            email=EMAILS[role],
            name=f"The {role}",
            role=role,
            password=PASSWORD,
            processes=[LATE, ADOPTED],
            actor="setup",
        )
    built = Site(url=url, ctx=ctx, objects={})
    yield built
    for client in built.clients:
        client.close()


def _page(site: Site, path: str = f"/p/{LATE}") -> tuple[httpx.Client, str, httpx.Response]:
    client, csrf = logged_in(site, EMAILS[COORDINATOR])
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client, csrf, page


def _section(html: str, start: str, end: str) -> str:
    """The HTML between the element with id `start` and the one with id `end`."""
    return html[html.index(f'id="{start}"') : html.index(f'id="{end}"')]


def _words(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_what_blocks_comes_first_then_the_actions_then_the_requests(site: Site) -> None:
    _, _, page = _page(site)
    order = ["blockers", "move", "actions", "requests", "decisions", "steps", "quarantine"]
    found = [page.text.index(f'id="{name}"') for name in order]
    assert found == sorted(found), f"sections out of order: {dict(zip(order, found, strict=True))}"


def test_each_blocker_names_the_late_institutions_and_how_many_working_days_late(
    site: Site,
) -> None:
    _, _, page = _page(site)
    blockers = _words(_section(page.text, "blockers", "move"))
    assert "have not answered the self-assessment request" in blockers
    late = re.findall(r"(\w[\w .()'-]*?) · Self-assessment · (\d+) working days late", blockers)
    assert len(late) == 4, blockers
    assert all(int(days) > 0 for _, days in late)
    # The remedy does what its label says: all have a request, so none is offered to send.
    assert "Send a request" not in blockers
    assert "Remind or give more time to the 8 late requests" in blockers


def test_complete_is_shown_not_yet_possible_with_the_blockers(site: Site) -> None:
    _, _, page = _page(site)
    move = _section(page.text, "move", "actions")
    assert f'action="/p/{LATE}/advance"' not in move
    assert re.search(r"<button[^>]*disabled[^>]*>Complete this step</button>", move)
    assert "is not yet possible while something blocks it" in _words(move)
    assert _words(move).count("have not answered") == 2


def test_the_requests_are_sorted_by_urgency_with_the_answered_ones_folded(site: Site) -> None:
    _, _, page = _page(site)
    html = page.text
    bulk = html[html.index('id="bulk"') : html.index("</form>", html.index('id="bulk"'))]
    open_ids = re.findall(r'<tr id="request-(\d+)"', bulk)
    assert open_ids, "no open request in the bulk form"
    for rid in open_ids:
        assert f'name="rid" value="{rid}"' in bulk
        assert f'href="/p/{LATE}/requests/{rid}/remind"' in html
    assert 'action="/p/MA-5/requests/bulk"' in html and 'name="action"' in bulk
    assert all(f'value="{v}"' in bulk for v in ("remind", "extend", "waive"))
    assert 'name="reason"' in bulk and 'name="days"' in bulk
    days = [int(d) for d in re.findall(r"(\d+) working days late", _words(bulk))]
    assert days == sorted(days, reverse=True) and days, "the latest are not first"
    folded = html[html.index('<details id="answered"') :]
    assert "Answered" in _words(folded[: folded.index("</details>")])
    assert html.index('<details id="answered"') > html.index('id="bulk"')


def test_no_raw_ids_or_python_values_on_the_page(site: Site) -> None:
    for key in (LATE, ADOPTED):
        _, _, page = _page(site, f"/p/{key}")
        words = _words(page.text)
        for raw in ("True", "False", "None", "approve:", "self_assessment ", "request #"):
            assert raw not in words, f"{raw!r} shown on {key}"
        assert "Self-assessment" in words or key == ADOPTED


def test_the_requests_filter_by_status_institution_and_kind(site: Site) -> None:
    client, _, _ = _page(site)
    answered = client.get(f"/p/{LATE}?status=answered")
    assert 'id="bulk"' not in answered.text and '<details id="answered" open>' in answered.text
    overdue = client.get(f"/p/{LATE}?status=overdue&kind=activity_inventory")
    words = _words(_section(overdue.text, "requests", "decisions"))
    assert words.count("Inventory of ongoing and planned activities") >= 4
    assert "Self-assessment ·" not in words and '<details id="answered"' not in overdue.text
    one = client.get(f"/p/{LATE}?institution=chair")
    rows = re.findall(r'<tr id="request-\d+">(.*?)</tr>', one.text, re.S)
    assert rows and all("Chair" in _words(row) or "CHAIR" in row for row in rows)
    assert 'value="CHAIR" selected' in one.text


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("status=late", "There is no request status 'late' to filter by"),
        ("institution=NOWHERE", "There is no institution 'NOWHERE' in this process"),
        ("kind=gossip", "There is no kind of request 'gossip'"),
        ("kind=vote", "There is no kind of request 'vote'"),
        ("page=0", "Give a whole number from 1."),
    ],
)
def test_a_bad_filter_is_refused_with_what_to_do(site: Site, query: str, said: str) -> None:
    client, _, _ = _page(site)
    refused = client.get(f"/p/{LATE}?{query}")
    assert refused.status_code == 400
    assert said in text_of(refused)


def test_the_requests_come_in_pages_anchored_at_the_list(site: Site) -> None:
    requests.send_requests(
        site.ctx, LATE, kind="chapter_draft", scope="all", actor=COORDINATOR_EMAIL
    )
    client, _, page = _page(site)
    total = int(re.search(r"Requests 1-\d+ of (\d+)", _words(page.text)).group(1))  # type: ignore[union-attr]
    assert total > REQUEST_PAGE
    assert f'href="/p/{LATE}?page=2#requests"' in page.text
    second = client.get(f"/p/{LATE}?page=2")
    assert f"Requests {REQUEST_PAGE + 1}-{total} of {total}" in _words(second.text)
    shown = set(re.findall(r'<tr id="request-(\d+)"', page.text))
    assert shown.isdisjoint(re.findall(r'<tr id="request-(\d+)"', second.text))
    past = _words(client.get(f"/p/{LATE}?page=9").text)
    assert f"Page 9 is past the last page (2) of the {total} requests." in past


def test_only_the_forms_of_the_step_are_offered(site: Site) -> None:
    _, _, page = _page(site)
    html = page.text
    for absent in ("adoption", "appointment", "chapters", "task-forces", "consultation/close"):
        assert f'action="/p/{LATE}/{absent}"' not in html, absent
    for present in ("requests", "documents", "decisions", "people"):
        assert f'action="/p/{LATE}/{present}"' in html, present


def test_an_adopted_process_offers_no_step_action_and_no_plan(site: Site) -> None:
    _, _, page = _page(site, f"/p/{ADOPTED}")
    html = page.text
    assert 'id="move"' not in html and 'id="actions"' not in html
    acting = re.findall(r'<form [^>]*method="post"[^>]*action="([^"]+)"', html)
    # Only the account's own forms are left: its language and its session.
    assert set(acting) == {"/language", "/logout"}, "a finished process offers nothing to do"
    assert "the process is finished" in _words(html)
    assert "due " not in _words(_section(html, "steps", "documents"))


def test_return_proposes_the_previous_step_and_asks_to_confirm(site: Site) -> None:
    client, csrf, page = _page(site)
    form = page.text[page.text.index('id="return"') :]
    form = form[: form.index("</form>")]
    assert re.search(r'<option value="objectives" selected>Definition of the main objectives', form)
    assert re.search(r'<input type="checkbox" name="confirm" value="yes" required>', form)
    version = str(processes.read_version(site.ctx, LATE))
    before = audit_count(site.ctx)
    unconfirmed = client.post(
        f"/p/{LATE}/return",
        data={"csrf_token": csrf, "version": version, "step": "objectives", "reason": "redo"},
    )
    assert unconfirmed.status_code == 303
    shown = client.get(unconfirmed.headers["location"])
    assert "Tick the box to confirm" in _words(shown.text)
    assert audit_count(site.ctx) == before
    assert processes.status(site.ctx, LATE).state == "situation_analysis"
    confirmed = client.post(
        f"/p/{LATE}/return",
        data={
            "csrf_token": csrf,
            "version": version,
            "step": "objectives",
            "reason": "redo",
            "confirm": "yes",
        },
    )
    assert confirmed.status_code == 303 and "done=return_to" in confirmed.headers["location"]
    assert processes.status(site.ctx, LATE).state == "objectives"


def test_a_refused_complete_comes_back_at_the_page_with_its_message_focused(site: Site) -> None:
    client, csrf, _ = _page(site)
    version = str(processes.read_version(site.ctx, LATE))
    before = audit_count(site.ctx)
    refused = client.post(f"/p/{LATE}/advance", data={"csrf_token": csrf, "version": version})
    assert refused.status_code == 303
    location = refused.headers["location"]
    assert re.fullmatch(rf"/p/{LATE}\?refused=[\w-]+#message", location), location
    assert "cannot" not in location, "the message travels in the address"
    page = client.get(location)
    assert page.status_code == 200
    alert = re.search(
        r'<div class="problem" role="alert" id="message" tabindex="-1" autofocus>'
        r"(.*?)</div>",
        page.text,
        re.S,
    )
    assert alert, "no focused message"
    said = _words(alert.group(1))
    assert "Nothing was changed" in said and "cannot be completed yet" in said
    assert "have not answered the self-assessment request" in said
    assert audit_count(site.ctx) == before
    assert processes.read_version(site.ctx, LATE) == int(version)
    again = client.get(location)
    assert "cannot be completed yet" in _words(again.text), "a reload lost the message"
    forged = client.get(f"/p/{LATE}?refused=forged")
    assert "This action was refused" in _words(forged.text)
    assert "cannot be completed yet" not in _words(forged.text)
    elsewhere, _ = logged_in(site, EMAILS[ADMINISTRATOR])
    assert "cannot be completed yet" not in _words(elsewhere.get(location).text)


def test_every_field_has_its_label_and_every_id_is_unique(site: Site) -> None:
    _, _, page = _page(site)
    ids = re.findall(r'\sid="([^"]+)"', page.text)
    assert len(ids) == len(set(ids)), "an id appears twice on the page"
    for label_for in re.findall(r'<label for="([^"]+)"', page.text):
        assert f'id="{label_for}"' in page.text, f"label for a missing field {label_for}"
    owners = re.findall(r'\sform="([^"]+)"', page.text)
    assert owners, "the rows' own actions are missing"
    for form in owners:
        assert f'id="{form}"' in page.text, f"a field of a missing form {form}"


def test_a_late_institution_links_to_its_request_in_the_filtered_list(site: Site) -> None:
    client, _, page = _page(site)
    links = re.findall(r'<a href="(/p/MA-5\?institution=[^"]+#request-(\d+))">', page.text)
    assert len(links) == 8
    href, rid = links[0]
    shown = client.get(html.unescape(href).split("#")[0])
    assert f'<tr id="request-{rid}">' in shown.text


def test_a_moved_deadline_is_named_in_words(site: Site) -> None:
    client, _, page = _page(site)
    rid = int(re.findall(r'<tr id="request-(\d+)">', page.text)[0])
    extensions.extend_deadline(
        site.ctx, LATE, reason="minister abroad", actor=COORDINATOR_EMAIL, request_id=rid, days=3
    )
    extensions.extend_deadline(site.ctx, LATE, reason="elections", actor=COORDINATOR_EMAIL, days=2)
    words = _words(client.get(f"/p/{LATE}").text)
    assert re.search(
        r"The request to [A-Z][\w ]+ \((self-assessment|inventory[\w ]+)\): from", words
    )
    assert "The step Analysis of the current situation (gaps & needs analysis): from" in words
    assert "request #" not in words and "situation_analysis" not in words


def test_a_decision_blocker_names_the_institutions_whose_vote_is_late(
    site: Site, clock: FixedClock
) -> None:
    decisions.open_decision(site.ctx, LATE, subject="consolidated_report", actor=COORDINATOR_EMAIL)
    clock.advance(days=30)
    _, _, page = _page(site)
    blockers = _words(_section(page.text, "blockers", "move"))
    votes = re.findall(r"· Vote · (\d+) working days late", blockers)
    assert len(votes) >= 5, blockers
    assert "Record a vote cast at a meeting or on paper" in blockers


def test_a_long_refusal_still_fits_its_cookie_and_comes_back_shortened(site: Site) -> None:
    client, csrf, _ = _page(site)
    nonsense = secrets.token_hex(3000)  # echoed by the refusal, and incompressible
    refused = client.post(
        f"/p/{LATE}/requests", data={"csrf_token": csrf, "kind": nonsense, "scope": "all"}
    )
    assert refused.status_code == 303
    assert len(refused.headers["set-cookie"]) < 4096
    said = problem_of(client.get(refused.headers["location"]))
    assert "unknown request kind" in said and said.rstrip().endswith("\u2026")


def test_a_suspended_process_offers_only_to_resume(site: Site) -> None:
    processes.fire(site.ctx, LATE, "suspend", actor=COORDINATOR_EMAIL, reason="elections")
    _, _, page = _page(site)
    acting = re.findall(r'<form [^>]*method="post"[^>]*action="([^"]+)"', page.text)
    assert f"/p/{LATE}/resume" in acting and 'id="actions"' not in page.text
    assert not [a for a in acting if a.endswith(("/advance", "/return", "/adoption"))]
