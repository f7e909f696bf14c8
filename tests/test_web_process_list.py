"""The process list at a glance (issue 13, item 2) through a real server: the current step's title,
its due date and working days overdue, the overdue requests, the last activity; sorted, filtered
and paged in SQL, the same through `/api/processes`; bad parameters refused in words. And the
report's on-time share with its counts (item 8).

Three processes, the clock moved between them so that each stands differently on Monday 9
February 2026:
- SN-1 (Senegal), started Monday 5 January at coordinator appointment (20 working days: due
  Monday 2 February): its step is late by Tue 3, Wed 4, Thu 5, Fri 6, Mon 9 = 5 working days.
- MA-1, at stakeholder identification since Monday 19 January (due in 20 working days, 16
  February), its seven acknowledgement requests (one per focal point) sent that day for 10 working
  days (due 2 February) and unanswered: late by its requests.
- TN-1 (a Moroccan process despite its key), at stakeholder identification since the same day, no
  request: nothing late.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import deadline_scenario as sc
import httpx
import pytest
from sqlmodel import col, select
from webconsole import EMAILS, MINE, THEIRS, Site, add_accounts, log_in, start_process, text_of

from ibmflow import demo
from ibmflow.access import ADMINISTRATOR, MANAGER, Account
from ibmflow.demo import COORDINATOR
from ibmflow.services import accounts, process_list, processes, requests
from ibmflow.services.context import Context
from ibmflow.storage.tables import ProcessRow, RequestRow
from ibmflow.testing import FixedClock

SENEGAL = "SN-1"
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def three_processes(ctx: Context, clock: FixedClock, tmp_path: Path) -> None:
    """The module's three processes, their accounts, and the clock on Monday 9 February 2026."""
    processes.start_process(
        ctx, title="Stratégie nationale GIF", key=SENEGAL, country="SN", actor=COORDINATOR
    )
    clock.advance(days=14)
    start_process(ctx, MINE, tmp_path)
    clock.advance(hours=1)
    start_process(ctx, THEIRS, tmp_path)
    clock.advance(hours=1)
    requests.send_requests(
        ctx, MINE, kind="acknowledge_contact", scope="permanent", actor=COORDINATOR
    )
    clock.advance(days=21)
    add_accounts(ctx)


@pytest.fixture
def listed(
    ctx: Context, clock: FixedClock, tmp_path: Path, start: Callable[[Context], str]
) -> Iterator[Site]:
    url = start(ctx)
    three_processes(ctx, clock, tmp_path)
    site = Site(url=url, ctx=ctx, objects={})
    yield site
    for client in site.clients:
        client.close()


def _client(site: Site, role: str = ADMINISTRATOR) -> httpx.Client:
    client = site.client()
    assert log_in(client, EMAILS[role]).status_code == 303
    return client


def _keys(page: httpx.Response) -> list[str]:
    """The processes a list page shows, in order."""
    assert page.status_code == 200, page.text
    return re.findall(r'<td data-label="Process"><div><a href="/p/([^"]+)">', page.text)


def _row(page: httpx.Response, key: str) -> str:
    """The text of one process's row."""
    match = re.search(
        rf'<tr[^>]*>\s*<td data-label="Process"><div><a href="/p/{key}">.*?</tr>', page.text, re.S
    )
    assert match, f"no row for {key}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(0))).strip()


def test_each_row_shows_the_step_title_due_date_days_overdue_requests_and_activity(
    listed: Site,
) -> None:
    page = _client(listed).get("/processes")
    senegal = _row(page, SENEGAL)
    assert "Identification of a national coordinator" in senegal, "the step's title, not its id"
    assert "coordinator_appointment" not in page.text.split("<table")[1]
    assert "2 Feb 2026, 23:59, Morocco time" in senegal, "the time zone is the process's"
    assert "5 working days" in senegal and senegal.endswith("5 Jan 2026, 10:00")
    mine = _row(page, MINE)
    assert "Identification of and contact with key stakeholders" in mine
    assert "16 Feb 2026" in mine and "working days" not in mine
    assert (
        'class="badge overdue">7</span>'
        in page.text.split(f'href="/p/{MINE}"')[1].split("</tr>")[0]
    )
    assert "19 Jan 2026, 12:00" in mine, "the last activity: the requests sent, local time"
    theirs = _row(page, THEIRS)
    assert "badge" not in page.text.split(f'href="/p/{THEIRS}"')[1].split("</tr>")[0]
    assert "19 Jan 2026, 11:00" in theirs


ORDERS = [
    ("", [SENEGAL, MINE, THEIRS]),  # most urgent first: the late step, the late requests
    ("?late=1", [SENEGAL, MINE]),
    ("?country=sn", [SENEGAL]),
    ("?step=stakeholder_identification", [MINE, THEIRS]),
    ("?step=stakeholder_identification&late=1&country=MA", [MINE]),
    ("?sort=key", [MINE, SENEGAL, THEIRS]),
    ("?sort=key&dir=desc", [THEIRS, SENEGAL, MINE]),
    ("?sort=country", [MINE, THEIRS, SENEGAL]),
    ("?sort=due", [SENEGAL, MINE, THEIRS]),
    ("?sort=due&dir=desc", [MINE, THEIRS, SENEGAL]),
    ("?sort=overdue", [MINE, SENEGAL, THEIRS]),
    ("?sort=activity", [MINE, THEIRS, SENEGAL]),
    ("?sort=activity&dir=asc", [SENEGAL, THEIRS, MINE]),
    ("?sort=urgent&dir=asc", [THEIRS, MINE, SENEGAL]),
]


def test_the_list_sorts_and_filters_in_the_database(listed: Site) -> None:
    """On SQLite and PostgreSQL: each query string and the processes it lists, in order."""
    client = _client(listed)
    shown = {query: _keys(client.get(f"/processes{query}")) for query, _ in ORDERS}
    assert shown == dict(ORDERS)


def test_the_list_sorts_the_same_when_fewer_requests_are_late_than_processes(
    listed: Site,
) -> None:
    """With one overdue request among three processes the list finds the late requests' processes
    first (with the fixture's seven it counts them for each process): the same order either way."""
    with listed.ctx.db.transaction() as tx:
        late = tx.session.exec(
            select(RequestRow)
            .join(ProcessRow, col(ProcessRow.id) == col(RequestRow.process_id))
            .where(ProcessRow.key == MINE)
            .order_by(col(RequestRow.id))
        ).all()
        assert len(late) > 3
        for request in late[1:]:
            request.status = "answered"
            tx.session.add(request)
    client = _client(listed)
    shown = {query: _keys(client.get(f"/processes{query}")) for query, _ in ORDERS}
    assert shown == dict(ORDERS)
    token = accounts.issue_token(listed.ctx, EMAILS[ADMINISTRATOR], actor="test")
    api = client.get("/api/processes", headers={"Authorization": f"Bearer {token}"}).json()
    assert {p["process"]: p["overdue_requests"] for p in api}[MINE] == 1


@sqlite_only
def test_the_filter_form_offers_the_countries_and_step_titles_and_keeps_the_choice(
    listed: Site,
) -> None:
    page = _client(listed).get("/processes?country=MA&late=1&step=stakeholder_identification")
    form = page.text.split('<form class="filters"')[1].split("</form>")[0]
    assert (
        'method="get"' in form and '<label for="country">' in form and '<label for="step">' in form
    )
    assert (
        '<option value="MA" selected>MA</option>' in form
        and '<option value="SN">SN</option>' in form
    )
    assert (
        '<option value="stakeholder_identification" selected>Identification of and contact with '
        "key stakeholders</option>"
    ) in form
    assert 'name="late" value="1" checked' in form
    assert '<a href="/processes">Clear the filters</a>' in form
    # The column headers sort, keeping the filters.
    assert (
        'href="/processes?country=MA&amp;step=stakeholder_identification&amp;late=1&amp;sort=key"'
        in page.text
    )
    by_key = _client(listed).get("/processes?sort=key")
    assert (
        '<th scope="col" aria-sort="ascending"><a href="/processes?sort=key&amp;dir=desc">'
        in by_key.text
    )


@sqlite_only
def test_pages_keep_the_filters_and_the_order(
    listed: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(process_list, "LIST_PAGE", 1)
    client = _client(listed)
    first = client.get("/processes?step=stakeholder_identification&sort=key&dir=desc")
    assert _keys(first) == [THEIRS]
    assert "Processes 1-1 of 2 (page 1 of 2)" in text_of(first)
    nxt = '<a href="/processes?step=stakeholder_identification&amp;sort=key&amp;dir=desc&amp;page=2" rel="next">'
    assert nxt in first.text
    second = client.get("/processes?step=stakeholder_identification&sort=key&dir=desc&page=2")
    assert _keys(second) == [MINE] and 'rel="next"' not in second.text


@sqlite_only
def test_an_empty_result_says_so_and_offers_to_clear_the_filters(listed: Site) -> None:
    page = _client(listed).get("/processes?country=ZZ&late=1")
    assert page.status_code == 200 and _keys(page) == []
    assert "No process matches these filters." in text_of(page)
    assert page.text.count('<a href="/processes">Clear the filters</a>') == 2
    assert "No process is shared with your account yet" not in text_of(page)


REFUSED = [
    ("sort=bogus", "the list can be sorted by urgent, due, overdue, activity, key, country."),
    ("sort=due&dir=up", "a direction is asc (ascending) or desc (descending)."),
    ("country=Morocco", "a country is given by its two-letter code, such as MA."),
    ("step=%3Cscript%3E", "a step is given by its name in the workflow"),
    ("late=maybe", "is 1 (only the late processes) or 0 (all)."),
    ("page=0", "Give a whole number from 1."),
]


@sqlite_only
def test_a_bad_parameter_gets_a_clear_400_page(listed: Site) -> None:
    client = _client(listed)
    for query, said in REFUSED:
        page = client.get(f"/processes?{query}")
        assert page.status_code == 400 and said in text_of(page), query
        assert "<script>" not in page.text


@sqlite_only
def test_a_manager_lists_and_filters_only_the_processes_they_follow(listed: Site) -> None:
    page = _client(listed, MANAGER).get("/processes?sort=key")
    assert _keys(page) == [MINE]
    assert '<option value="SN">' not in page.text, "no country of a process they do not follow"
    assert _keys(_client(listed, MANAGER).get("/processes?country=SN")) == []


def _api(site: Site) -> httpx.Client:
    token = accounts.issue_token(site.ctx, EMAILS[ADMINISTRATOR], actor="test")
    client = site.client()
    client.headers["Authorization"] = f"Bearer {token}"
    return client


@sqlite_only
def test_the_api_takes_the_same_parameters_and_says_what_is_late(listed: Site) -> None:
    api = _api(listed)
    late = api.get("/api/processes", params={"late": "true", "sort": "key"})
    assert late.status_code == 200 and late.headers["X-Total-Count"] == "2"
    mine, senegal = late.json()
    assert [mine["process"], senegal["process"]] == [MINE, SENEGAL]
    assert (mine["late"], mine["overdue"], mine["overdue_requests"]) == (True, False, 7)
    assert mine["step"] == "stakeholder_identification"
    assert mine["step_title"] == "Identification of and contact with key stakeholders"
    assert mine["last_activity_at"] == "2026-01-19T11:00:00Z"
    assert (senegal["overdue"], senegal["working_days_overdue"], senegal["overdue_requests"]) == (
        True,
        5,
        0,
    )
    assert [p["process"] for p in api.get("/api/processes?country=SN").json()] == [SENEGAL]
    paged = api.get("/api/processes", params={"step": "stakeholder_identification", "limit": 1})
    assert [p["process"] for p in paged.json()] == [MINE] and paged.headers["X-Total-Count"] == "2"
    for params in ({"sort": "bogus"}, {"dir": "up"}, {"country": "Morocco"}):
        refused = api.get("/api/processes", params=params)
        assert refused.status_code == 422 and refused.json()["error"], params


# --- the report's on-time share (issue 13, item 8) --------------------------------------------------


@pytest.fixture
def reported(
    ctx: Context, clock: FixedClock, tmp_path: Path, start: Callable[[Context], str]
) -> Iterator[httpx.Client]:
    url = start(ctx)
    sc.build(ctx, clock, tmp_path)
    accounts.add_user(
        ctx,
        email=EMAILS[ADMINISTRATOR],
        name="The administrator",
        role=ADMINISTRATOR,
        password="a long enough password",
        processes=[],
        actor="setup",
    )
    with httpx.Client(base_url=url, timeout=30) as client:
        assert log_in(client, EMAILS[ADMINISTRATOR]).status_code == 303
        yield client


@sqlite_only
def test_the_report_shows_the_on_time_share_with_its_counts(reported: httpx.Client) -> None:
    """Customs: 1 answer on time, 1 late, 1 unanswered past its due date: on time 1 of 3, never
    "50%" beside an overdue request. Health: one request not yet due: no share."""
    page = text_of(reported.get("/report"))
    assert "Customs Directorate 4 2 1 of 3 (33%)" in page
    assert "Veterinary Inspection 4 3 1 of 3 (33%)" in page
    assert "Ministry of Health 1 0 no deadline passed yet" in page
    assert "(50%)" not in page


@sqlite_only
def test_a_suspended_process_keeps_its_step_and_is_not_late_by_its_step(listed: Site) -> None:
    """A suspended process's step deadline does not run: SN-1, suspended, is no longer late (it
    has no overdue request), is still found at its step, and says it is suspended."""
    processes.fire(listed.ctx, SENEGAL, "suspend", actor=COORDINATOR, reason="elections")
    client = _client(listed)
    assert _keys(client.get("/processes?late=1")) == [MINE]
    at_step = client.get("/processes?step=coordinator_appointment")
    assert _keys(at_step) == [SENEGAL]
    row = _row(at_step, SENEGAL)
    assert "Identification of a national coordinator (suspended)" in row
    assert "working days" not in row
    (listed_json,) = _api(listed).get("/api/processes?country=SN").json()
    assert (listed_json["state"], listed_json["step"], listed_json["late"]) == (
        "suspended",
        "coordinator_appointment",
        False,
    )


@sqlite_only
def test_an_adopted_process_reads_as_adopted_in_words_not_as_its_state_code(
    ctx: Context, start: Callable[[Context], str]
) -> None:
    """The list names where an adopted process stands by the final state's title ("Strategy
    adopted"), as it names a step by its title, never the code `adopted`."""
    demo.drive(ctx, "DEMO-1")
    everyone = Account(0, "admin@ibmflow.example", "", ADMINISTRATOR, processes=None)
    (listed,) = process_list.visible_processes(ctx, everyone).processes
    assert listed.step_title == "Strategy adopted"
    assert listed.state == "adopted"  # the code stays in the data, for scripts
