"""The search box, through a real server: one box on every console page finds a process (key, title,
country), an institution (name, code), a person (name, email) or a request by number (`42`, `#42`),
only among the processes the account follows; wildcards are taken literally; an empty search
explains itself, a too long one is refused in words; `/api/search` answers the same as JSON."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlmodel import col, select
from webconsole import EMAILS, MINE, OTHER_COORDINATOR, THEIRS, Site, logged_in, text_of

from ibmflow.access import ADMINISTRATOR, COORDINATOR, MANAGER
from ibmflow.services import accounts
from ibmflow.storage.tables import InstitutionRow, PersonRow, ProcessRow

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _found(page: httpx.Response) -> dict[str, int]:
    """Each kind of result shown and its total."""
    return {
        kind: int(n)
        for kind, n in re.findall(r'<h2 id="found-([a-z]+)">[^<(]+\((\d+)\)</h2>', page.text)
    }


def _a_person(site: Site, key: str) -> tuple[str, str, str]:
    """A person of the process's roster with an institution: name, email, institution name."""
    with site.ctx.db.reading() as session:
        person, institution = session.exec(
            select(PersonRow, InstitutionRow)
            .join(InstitutionRow, col(InstitutionRow.id) == col(PersonRow.institution_id))
            .join(ProcessRow, col(ProcessRow.id) == col(PersonRow.process_id))
            .where(ProcessRow.key == key)
            .order_by(col(PersonRow.id))
        ).first() or (None, None)
        assert person is not None and institution is not None
        return person.name, person.email, institution.short_name


@sqlite_only
def test_every_console_page_has_a_labelled_search_box(site: Site) -> None:
    client, _csrf = logged_in(site, EMAILS[MANAGER])
    for path in ("/attention", "/processes", f"/p/{MINE}", "/report"):
        page = client.get(path).text
        assert '<form class="search" role="search" method="get" action="/search">' in page, path
        assert '<label for="site-search">Search</label>' in page
        assert 'id="site-search" name="q"' in page


@sqlite_only
def test_a_process_is_found_by_key_title_or_country_among_those_followed(site: Site) -> None:
    client, _csrf = logged_in(site, EMAILS[COORDINATOR])
    for query in ("ma-1", "strategy", "MA"):
        page = client.get("/search", params={"q": query})
        assert page.status_code == 200
        assert f'<a href="/p/{MINE}">{MINE}</a>' in page.text, query
        assert f"/p/{THEIRS}" not in page.text, query
    admin, _csrf = logged_in(site, EMAILS[ADMINISTRATOR])
    both = admin.get("/search", params={"q": "national ibm"})
    assert _found(both)["processes"] == 2
    assert f'<a href="/p/{THEIRS}">{THEIRS}</a>' in both.text


@sqlite_only
def test_an_institution_is_found_by_name_or_code(site: Site) -> None:
    client, _csrf = logged_in(site, EMAILS[MANAGER])
    with site.ctx.db.reading() as session:
        code, name = session.exec(
            select(InstitutionRow.code, InstitutionRow.short_name).order_by(col(InstitutionRow.id))
        ).first() or ("", "")
    for query in (code.lower(), name[3:12]):
        page = client.get("/search", params={"q": query})
        assert _found(page)["institutions"] >= 1, query
        assert name in text_of(page)
        assert f"/p/{THEIRS}" not in page.text


@sqlite_only
def test_a_person_is_found_by_name_or_part_of_the_email(site: Site) -> None:
    name, email, institution = _a_person(site, MINE)
    client, _csrf = logged_in(site, EMAILS[COORDINATOR])
    for query in (name.split()[-1], email.split("@")[0].upper()):
        page = client.get("/search", params={"q": query})
        text = text_of(page)
        assert _found(page)["people"] >= 1, query
        assert name in text and email in text and institution in text


@sqlite_only
def test_a_request_is_found_by_its_number_only_in_a_followed_process(site: Site) -> None:
    mine, theirs = site.objects[MINE]["request"], site.objects[THEIRS]["request"]
    client, _csrf = logged_in(site, EMAILS[COORDINATOR])
    for query in (str(mine), f"#{mine}", f"# {mine}"):
        page = client.get("/search", params={"q": query})
        assert f'<a href="/p/{MINE}#request-{mine}">Request #{mine}: ' in page.text, query
    other = client.get("/search", params={"q": f"#{theirs}"})
    assert f"#request-{theirs}" not in other.text
    assert "Nothing found" in text_of(other)
    theirs_client, _csrf = logged_in(site, OTHER_COORDINATOR)
    page = theirs_client.get("/search", params={"q": f"#{theirs}"})
    assert f'href="/p/{THEIRS}#request-{theirs}"' in page.text


@sqlite_only
def test_wildcards_are_taken_literally(site: Site) -> None:
    client, _csrf = logged_in(site, EMAILS[ADMINISTRATOR])
    for query in ("%", "%%", "a%b", "\\"):
        page = client.get("/search", params={"q": query})
        assert page.status_code == 200
        assert "Nothing found" in text_of(page), query
    # "_" is an underscore, not any character: institution codes have one, nothing else does
    underscore = _found(client.get("/search", params={"q": "_"}))
    assert set(underscore) == {"institutions"}


@sqlite_only
def test_an_empty_search_explains_and_a_too_long_one_is_refused_in_words(site: Site) -> None:
    client, _csrf = logged_in(site, EMAILS[MANAGER])
    empty = client.get("/search", params={"q": "   "})
    assert empty.status_code == 200
    assert "Type what you are looking for" in text_of(empty)
    long = client.get("/search", params={"q": "x" * 201})
    assert long.status_code == 400
    assert "search for at most 200" in text_of(long)
    bad_page = client.get("/search", params={"q": "ma", "page": "zero"})
    assert bad_page.status_code == 400


@sqlite_only
def test_the_results_come_a_page_at_a_time(site: Site) -> None:
    with site.ctx.db.transaction() as tx:
        process = tx.session.exec(select(ProcessRow).where(ProcessRow.key == MINE)).one()
        for n in range(30):
            tx.session.add(
                PersonRow(process_id=process.id or 0, name=f"Pager {n:02}", email=f"p{n}@x.example")
            )
    client, _csrf = logged_in(site, EMAILS[COORDINATOR])
    first = client.get("/search", params={"q": "pager"})
    assert _found(first)["people"] == 30
    assert text_of(first).count("Pager ") == 25
    assert 'rel="next"' in first.text and 'rel="prev"' not in first.text
    second = client.get("/search", params={"q": "pager", "page": "2"})
    assert text_of(second).count("Pager ") == 5
    assert "Pager 29" in text_of(second)
    assert 'rel="prev"' in second.text and 'rel="next"' not in second.text


@sqlite_only
def test_the_api_searches_the_same_way(site: Site) -> None:
    token = accounts.issue_token(site.ctx, EMAILS[COORDINATOR], actor="test")
    client = site.client()
    headers = {"Authorization": f"Bearer {token}"}
    rid = site.objects[MINE]["request"]
    answer = client.get("/api/search", params={"q": f"#{rid}"}, headers=headers)
    assert answer.status_code == 200
    groups = {g["kind"]: g for g in answer.json()["groups"]}
    assert groups["requests"]["total"] == 1
    assert groups["requests"]["hits"][0]["url"] == f"/p/{MINE}#request-{rid}"
    refused = client.get("/api/search", params={"q": "x" * 201}, headers=headers)
    assert refused.status_code == 400
    assert "at most 200" in refused.json()["message"]
    assert client.get("/api/search", params={"q": "ma"}).status_code == 401


@sqlite_only
def test_the_search_index_follows_the_roster_as_it_changes(site: Site) -> None:
    # On SQLite a search of every process (the administrator's) first narrows to a trigram
    # index's candidates (migration 0011): a person added, renamed or removed is found by what
    # the roster says now, and a text shorter than the index's three characters, or in another
    # case, still finds the same rows.
    with site.ctx.db.reading() as session:
        indexed = session.connection().exec_driver_sql(
            "SELECT count(*) FROM sqlite_master WHERE name = 'search_person'"
        )
        assert indexed.scalar() == 1
    with site.ctx.db.transaction() as tx:
        process = tx.session.exec(select(ProcessRow).where(ProcessRow.key == MINE)).one()
        tx.session.add(
            PersonRow(process_id=process.id or 0, name="Zoltan Quaxwell", email="zq@x.example")
        )
    client, _csrf = logged_in(site, EMAILS[ADMINISTRATOR])
    for query in ("Quaxwell", "quaxWELL", "zq@x", "xw"):
        assert _found(client.get("/search", params={"q": query})).get("people") == 1, query
    with site.ctx.db.transaction() as tx:
        person = tx.session.exec(select(PersonRow).where(PersonRow.email == "zq@x.example")).one()
        person.name = "Zoltan Brixley"
        tx.session.add(person)
    assert "people" not in _found(client.get("/search", params={"q": "quaxwell"}))
    assert _found(client.get("/search", params={"q": "brixley"})).get("people") == 1
    with site.ctx.db.transaction() as tx:
        person = tx.session.exec(select(PersonRow).where(PersonRow.email == "zq@x.example")).one()
        tx.session.delete(person)
    assert "people" not in _found(client.get("/search", params={"q": "brixley"}))


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_a_search_lists_the_first_thousand_of_a_kind_and_says_there_are_more(site: Site) -> None:
    # 1,003 people whose emails share a word: the search lists the first 1,000 found (the
    # earliest added) by name, 25 to a page, says "more than 1,000" in the heading, the count and
    # a hint, in the reader's language, and /api/search says it with `more`. The last page is
    # the 40th; none of the three added last is listed.
    with site.ctx.db.transaction() as tx:
        process = tx.session.exec(select(ProcessRow).where(ProcessRow.key == MINE)).one()
        tx.session.add_all(
            PersonRow(process_id=process.id or 0, name=f"Many {n:04d}", email=f"p{n}@manyfold.ex")
            for n in range(1003)
        )
    for who in (ADMINISTRATOR, COORDINATOR):
        client, _csrf = logged_in(site, EMAILS[who])
        first = client.get("/search", params={"q": "manyfold"})
        assert first.status_code == 200
        assert '<h2 id="found-people">People (more than 1,000)</h2>' in first.text, who
        said = text_of(first)
        assert "More than 1,000 results. Page 1, up to 25 of each kind." in said
        assert "A search lists the first 1,000 results of each kind it finds." in said
        assert first.text.count("@manyfold.ex") == 25
        last = client.get("/search", params={"q": "manyfold", "page": 40})
        assert (
            "Many 0999" in last.text and "Many 0975" in last.text and "Many 0974" not in last.text
        )
        assert 'rel="next"' not in last.text and 'rel="prev"' in last.text
        beyond = client.get("/search", params={"q": "manyfold", "page": 41})
        assert "Many 10" not in beyond.text and "None on this page." in text_of(beyond)
        french = client.get("/search", params={"q": "manyfold", "lang": "fr"})
        heading = r'<h2 id="found-people">Personnes \(plus de 1\s000\)</h2>'
        assert re.search(heading, french.text), "the French heading"
        assert re.search(r"Plus de 1\s000 résultats\.", text_of(french))
        assert "Précisez votre recherche pour la restreindre." in text_of(french)
    token = accounts.issue_token(site.ctx, EMAILS[ADMINISTRATOR], actor="test", label="test")
    answer = httpx.get(
        f"{site.url}/api/search",
        params={"q": "manyfold"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    people = {g["kind"]: g for g in answer["groups"]}["people"]
    assert (people["total"], people["more"], len(people["hits"])) == (1000, True, 25)
    assert answer["limit"] == 1000


@sqlite_only
def test_the_process_index_follows_the_processes_as_they_change(site: Site) -> None:
    # The administrator's search finds processes through their trigram index (migration 0014):
    # a title changed is found by what it says now, in any case, and no longer by what it said.
    admin, _csrf = logged_in(site, EMAILS[ADMINISTRATOR])
    assert _found(admin.get("/search", params={"q": "national ibm"})).get("processes") == 2
    with site.ctx.db.transaction() as tx:
        process = tx.session.exec(select(ProcessRow).where(ProcessRow.key == MINE)).one()
        process.title = "Stratégie Quaxwell"
        process.version += 1
        tx.session.add(process)
    for query in ("quaxwell", "QUAXWELL", "égie", "ma-1", "MA-"):
        assert _found(admin.get("/search", params={"q": query})).get("processes") == 1, query
    assert _found(admin.get("/search", params={"q": "national ibm"})).get("processes") == 1
    assert "processes" not in _found(admin.get("/search", params={"q": "ÉGIE"}))
    with site.ctx.db.reading() as session:
        indexed = session.connection().exec_driver_sql(
            "SELECT count(*) FROM search_process WHERE search_process MATCH '\"quaxwell\"'"
        )
        assert indexed.scalar() == 1


@sqlite_only
def test_letters_outside_ascii_are_matched_as_written_with_or_without_the_index(site: Site) -> None:
    # SQLite's LIKE ignores the case of ASCII letters only: "É" is not "é", and the Kelvin sign
    # is not a "k". The administrator's search reads the trigram index alone (migration 0013:
    # the texts lowered as LIKE compares them) and finds what the coordinator's finds by LIKE.
    with site.ctx.db.transaction() as tx:
        process = tx.session.exec(select(ProcessRow).where(ProcessRow.key == MINE)).one()
        names = ("\u212aaspar Olsen", "Émilie Roux", "ÉMILIE Dubois", "Ölçer Y\u0131ld\u0131z")
        for n, name in enumerate(names):
            email = f"p{n}@x.example"
            tx.session.add(PersonRow(process_id=process.id or 0, name=name, email=email))
    expected = {
        "kaspar": 0,
        "\u212aasp": 1,
        "\u212aASPAR": 1,
        "émilie": 0,
        "Émilie": 2,
        "ÉMI": 2,
        "émi": 0,
        "ÖLÇ": 0,
        "Ölç": 1,
        "y\u0131l": 1,
        "YIL": 0,
    }
    coordinator, _csrf = logged_in(site, EMAILS[COORDINATOR])
    admin, _csrf = logged_in(site, EMAILS[ADMINISTRATOR])
    for query, people in expected.items():
        for client in (coordinator, admin):
            found = _found(client.get("/search", params={"q": query})).get("people", 0)
            assert found == people, (query, client is admin)
