"""The audit page as a coordinator reads it, through a real server: newest first, times in the
process's zone, each event in words with a link to what it is about, the filters (action, actor,
kind of entity, days in the process's zone, mail deliveries hidden unless asked), paging that keeps
them, a clear 400 for a filter that cannot be used, and the CSV and JSON exports of every event the
filters keep, the chain's hashes included."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa
from webconsole import COORDINATOR, EMAILS, MANAGER, MINE, THEIRS, Site, logged_in, text_of

from ibmflow.audit import AuditRecord
from ibmflow.services import audit_views, processes
from ibmflow.services.audit_views import AuditAsked
from ibmflow.services.context import Context

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _rows(page: httpx.Response) -> list[str]:
    """The table's rows, as text."""
    body = (
        page.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page.text else ""
    )
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def _seqs(page: httpx.Response) -> list[int]:
    return [int(n) for n in re.findall(r'<td data-label="#">(\d+)</td>', page.text)]


def _deliveries(ctx: Context, key: str, count: int) -> None:
    """Mail deliveries as the dispatcher records them (one event per mail)."""
    now = ctx.clock.now()
    with ctx.db.transaction() as tx:
        tx.audit_many(
            [
                AuditRecord(
                    at=now,
                    actor="system:dispatcher",
                    action="mail.delivered",
                    process=key,
                    entity=f"outbox:{900 + n}",
                    after={"kind": "request", "to": [f"person{n}@customs.example"], "attempts": 1},
                )
                for n in range(count)
            ]
        )


@sqlite_only
def test_the_page_is_newest_first_in_local_time_and_in_words(site: Site) -> None:
    client, _ = logged_in(site, EMAILS[MANAGER])
    page = client.get(f"/p/{MINE}/audit")
    assert page.status_code == 200
    seqs = _seqs(page)
    assert seqs == sorted(seqs, reverse=True) and len(seqs) > 5
    text = text_of(page)
    assert "Newest first; times in Morocco time." in text
    assert "When (Morocco time)" in text
    rid = site.objects[MINE]["request"]
    assert f"Request {rid} sent to " in text
    assert f'<a href="/p/{MINE}#request-{rid}">Request {rid}</a>' in page.text
    assert "Step completed by " in text
    # never a raw action or entity
    for raw in ("request.sent", "step.completed", "outbox:", f"request:{rid}", "process.started"):
        assert raw not in _rows_text(page), raw


def _rows_text(page: httpx.Response) -> str:
    return " ".join(_rows(page))


def _at(ctx: Context, when: str, action: str, entity: str, actor: str, **extra: object) -> None:
    """An event recorded at a given UTC moment ("2026-06-10 23:30")."""
    at = datetime.fromisoformat(when).replace(tzinfo=UTC)
    with ctx.db.transaction() as tx:
        tx.acting(actor, at, MINE).record(action, entity, **extra)  # type: ignore[arg-type]


@sqlite_only
def test_each_filter_keeps_what_it_says(site: Site) -> None:
    ctx = site.ctx
    # 23:30 UTC on 10 June is already 11 June in Morocco (UTC+1)
    _at(ctx, "2026-06-10 23:30", "chapter.defined", "chapter:Borders", "cli:amina")
    _at(ctx, "2026-06-12 10:00", "chapter.defined", "chapter:Ports", "Someone@Customs.example")
    client, _ = logged_in(site, EMAILS[MANAGER])
    only = client.get(f"/p/{MINE}/audit", params={"action": "chapter.defined"})
    assert [r.split(" ", 1)[0] for r in _rows(only)] == [str(s) for s in _seqs(only)]
    assert len(_rows(only)) == 2 and all("Chapter “" in r for r in _rows(only))
    assert '<option value="chapter.defined" selected>Chapter defined</option>' in only.text
    actor = client.get(f"/p/{MINE}/audit", params={"actor": "customs.EXAMPLE"})
    assert [r for r in _rows(actor)] and all("Someone@Customs.example" in r for r in _rows(actor))
    cli = client.get(f"/p/{MINE}/audit", params={"actor": "amina"})
    (row,) = _rows(cli)
    assert "Chapter “Borders” defined by amina (command line)" in row
    requests = client.get(f"/p/{MINE}/audit", params={"entity": "request"})
    assert _rows(requests) and all("Request " in r for r in _rows(requests))
    day = client.get(f"/p/{MINE}/audit", params={"from": "2026-06-11", "to": "2026-06-11"})
    (row,) = _rows(day)
    assert "“Borders”" in row and "11 Jun 2026, 00:30" in row
    later = client.get(f"/p/{MINE}/audit", params={"from": "2026-06-12"})
    (row,) = _rows(later)
    assert "“Ports”" in row
    earlier = client.get(f"/p/{MINE}/audit", params={"to": "2026-06-10"})
    assert "“Borders”" not in earlier.text and "“Ports”" not in earlier.text and _rows(earlier)
    none = client.get(f"/p/{MINE}/audit", params={"action": "vote.cast"})
    assert "No event matches these filters." in text_of(none)


@sqlite_only
def test_mail_deliveries_are_hidden_until_asked_for(site: Site) -> None:
    _deliveries(site.ctx, MINE, 3)
    client, _ = logged_in(site, EMAILS[COORDINATOR])
    default = client.get(f"/p/{MINE}/audit")
    assert "delivered" not in _rows_text(default)
    assert "mail deliveries are hidden" in text_of(default)
    shown = client.get(f"/p/{MINE}/audit", params={"deliveries": "1"})
    assert "Mail to person2@customs.example delivered" in _rows_text(shown)
    assert f'<a href="/p/{MINE}/mail/902">Mail 902</a>' in shown.text
    asked = client.get(f"/p/{MINE}/audit", params={"action": "mail.delivered"})
    assert len(_rows(asked)) == 3
    manager, _ = logged_in(site, EMAILS[MANAGER])
    unlinked = manager.get(f"/p/{MINE}/audit", params={"deliveries": "1"})
    assert "Mail 902" in _rows_text(unlinked), "named, not linked: a manager may not read mail"
    assert f'href="/p/{MINE}/mail/' not in unlinked.text


@sqlite_only
def test_paging_keeps_the_filters(site: Site) -> None:
    _deliveries(site.ctx, MINE, 130)
    client, _ = logged_in(site, EMAILS[MANAGER])
    first = client.get(f"/p/{MINE}/audit", params={"action": "mail.delivered", "actor": "dispatch"})
    assert "Events 1-100 of 130" in text_of(first)
    link = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert link is not None
    target = link.group(1).replace("&amp;", "&")
    assert "action=mail.delivered" in target and "actor=dispatch" in target and "page=2" in target
    second = client.get(target)
    assert "Events 101-130 of 130" in text_of(second) and len(_rows(second)) == 30
    assert min(_seqs(first)) > max(_seqs(second)), "newest first across pages"


@sqlite_only
@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"action": "request.eaten"}, "There is no action 'request.eaten'"),
        ({"entity": "planet"}, "There is no kind of entity 'planet'"),
        ({"from": "2026-13-01"}, "is not a date: write it as 2026-03-31"),
        ({"to": "yesterday"}, "is not a date"),
        ({"from": "2026-06-12", "to": "2026-06-01"}, "comes after the last"),
        ({"actor": "x" * 300}, "longer than 254 characters"),
    ],
)
def test_a_filter_that_cannot_be_used_is_refused_clearly(
    site: Site, params: dict[str, str], said: str
) -> None:
    client, _ = logged_in(site, EMAILS[MANAGER])
    for path in ("audit", "audit.csv", "audit.json"):
        page = client.get(f"/p/{MINE}/{path}", params=params)
        assert page.status_code == 400, path
        assert said in text_of(page), (path, text_of(page)[:500])


@sqlite_only
def test_the_csv_export_has_every_event_the_filters_keep_with_the_chain(site: Site) -> None:
    _deliveries(site.ctx, MINE, 120)
    _at(site.ctx, "2026-06-10 23:30", "chapter.defined", "chapter:X", "cli:amina", reason="=1+1")
    client, _ = logged_in(site, EMAILS[MANAGER])
    response = client.get(f"/p/{MINE}/audit.csv", params={"deliveries": "1"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="MA-1-audit.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, events = rows[0], rows[1:]
    assert header == [
        "Number", "Time (UTC)", "Time (Morocco time)", "Actor", "On behalf of", "Action",
        "Description", "Entity", "Reason", "Before", "After", "Previous hash", "Hash",
    ]  # fmt: skip
    with site.ctx.db.engine.connect() as conn:
        total = conn.execute(
            sa.text("SELECT count(*) FROM audit_event WHERE process = :k"), {"k": MINE}
        ).scalar_one()
    assert len(events) == total > 120, "every event, not a page"
    seqs = [int(r[0]) for r in events]
    assert seqs == sorted(seqs), "in the chain's order"
    last = events[-1]
    assert last[1] == "2026-06-10T23:30:00.000000Z" and last[2] == "2026-06-11T00:30:00+01:00"
    assert last[6] == "Chapter “X” defined by amina (command line)"
    assert last[8] == "'=1+1", "a formula is neutralised"
    assert len(last[11]) == len(last[12]) == 64
    # where events follow one another on the chain, each names the one before
    pairs = [(a, b) for a, b in itertools.pairwise(events) if int(b[0]) == int(a[0]) + 1]
    assert pairs and all(b[11] == a[12] for a, b in pairs)
    hidden = client.get(f"/p/{MINE}/audit.csv")
    assert len(list(csv.reader(io.StringIO(hidden.text)))) - 1 == total - 120


@sqlite_only
def test_the_json_export_keeps_the_filters(site: Site) -> None:
    _deliveries(site.ctx, MINE, 5)
    client, _ = logged_in(site, EMAILS[MANAGER])
    response = client.get(f"/p/{MINE}/audit.json", params={"action": "mail.delivered"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert 'filename="MA-1-audit.json"' in response.headers["content-disposition"]
    data = json.loads(response.text)
    assert data["process"] == MINE and data["timezone"] == "Africa/Casablanca"
    assert len(data["events"]) == 5
    first = data["events"][0]
    assert first["action"] == "mail.delivered" and first["entity"] == "outbox:900"
    assert first["description"] == "Mail to person0@customs.example delivered"
    assert first["after"]["to"] == ["person0@customs.example"]
    assert set(first) >= {"seq", "at", "at_local", "hash", "prev_hash", "actor", "reason"}
    empty = client.get(f"/p/{MINE}/audit.json", params={"action": "vote.cast"})
    assert json.loads(empty.text)["events"] == []


@sqlite_only
@pytest.mark.parametrize("path", ["audit", "audit.csv", "audit.json"])
def test_a_process_one_may_not_see_is_not_there(site: Site, path: str) -> None:
    client, _ = logged_in(site, EMAILS[MANAGER])
    assert client.get(f"/p/{THEIRS}/{path}").status_code == 404
    assert client.get(f"/p/XX-9/{path}").status_code == 404


def test_the_filters_read_the_same_on_both_databases(ctx: Context) -> None:
    """The filters are SQL (case-insensitive actor, `_` and `%` taken literally, local days):
    the same answers on SQLite and PostgreSQL, and an export reads every event in batches."""
    processes.start_process(ctx, title="National IBM strategy", key=MINE, actor="setup")
    _at(ctx, "2026-06-10 23:30", "chapter.defined", "chapter:A", "Amina_B@Customs.example")
    _at(ctx, "2026-06-11 10:00", "chapter.defined", "chapter:B", "aminaxb@customs.example")
    _deliveries(ctx, MINE, 3)

    def seqs(**asked: object) -> list[str]:
        page = audit_views.audit_page(ctx, MINE, AuditAsked(**asked), 0, 100)  # type: ignore[arg-type]
        return [line.entity_label for line in page.lines]

    assert seqs(actor="amina_b@CUSTOMS") == ["“A”"], "`_` is a character, not a wildcard"
    assert seqs(action="chapter.defined") == ["“B”", "“A”"]
    assert seqs(since="2026-06-11", until="2026-06-11") == ["“B”", "“A”"], "Morocco's 11 June"
    assert seqs(entity="chapter", until="2026-06-10") == []
    assert len(seqs(entity="outbox")) == 0 and len(seqs(entity="outbox", deliveries=True)) == 3
    export = audit_views.audit_export(ctx, MINE, AuditAsked(deliveries=True))
    lines = list(export.lines)
    assert [line.seq for line in lines] == sorted(line.seq for line in lines)
    assert lines[-1].description == "Mail to person2@customs.example delivered"
