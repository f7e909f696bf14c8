"""The tables people work with, downloaded from the console: the answers of a kind of request and
the list of requests, as CSV (UTF-8 with a byte-order mark, formulas neutralised) and as XLSX
(header styled and frozen, dates as dates), read back cell by cell."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import httpx
import openpyxl
import pytest
from webconsole import EMAILS, MANAGER, MINE, THEIRS, Site, logged_in, text_of

from ibmflow.demo import COORDINATOR as COORDINATOR_EMAIL
from ibmflow.services import records, requests
from ibmflow.storage.tables import RequestRow

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
SCORES = {
    "legal_framework": "4",
    "institutional_framework": "3",
    "procedures": "2",
    "human_resources": "5",
    "information_exchange": "1",
    "infrastructure": "3",
}
HOSTILE = '=HYPERLINK("http://evil.example","x")'
CUSTOMS = "MOF_CUSTOMS"
CUSTOMS_NAME = "Ministry of Finance \u2013 Customs Directorate"


def _answered(site: Site) -> tuple[int, list[int]]:
    """Self-assessments sent to every involved institution, Customs's answered (its text a
    would-be formula) two hours later; the answered request's id and all of them."""
    ctx = site.ctx
    ids = requests.send_requests(ctx, MINE, kind="self_assessment", actor=COORDINATOR_EMAIL)
    ctx.clock.advance(hours=2)  # type: ignore[attr-defined]
    rid = records.record_answer(
        ctx,
        MINE,
        kind="self_assessment",
        institution=CUSTOMS,
        actor=COORDINATOR_EMAIL,
        fields=SCORES,
        text=HOSTILE,
    )
    return rid, ids


def _csv(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, text_of(response)[:500]
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf"), "a byte-order mark, for Excel"
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def _xlsx(response: httpx.Response) -> openpyxl.worksheet.worksheet.Worksheet:
    assert response.status_code == 200, text_of(response)[:500]
    assert response.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return openpyxl.load_workbook(io.BytesIO(response.content)).active


@sqlite_only
def test_the_self_assessment_scores_as_csv_one_row_per_request(site: Site) -> None:
    rid, ids = _answered(site)
    client, _ = logged_in(site, EMAILS[MANAGER])
    response = client.get(f"/p/{MINE}/answers/self_assessment.csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="MA-1-answers-self_assessment.csv"'
    )
    header, *rows = _csv(response)
    assert header == [
        "Request", "Institution", "Person", "Status", "Answered (Morocco time)", "Answered by",
        "Legal and regulatory framework", "Institutional framework and inter-agency cooperation",
        "Procedures", "Human resources and training", "Communication and information exchange",
        "Infrastructure and equipment", "Text of the answer",
    ]  # fmt: skip
    assert [int(r[0]) for r in rows] == sorted(ids)
    (row,) = [r for r in rows if r[0] == str(rid)]
    assert row[1] == CUSTOMS_NAME
    assert row[3] == "answered"
    assert row[4] == "2026-01-05 12:00", "09:00 UTC + 2 h, in Morocco (UTC+1)"
    assert row[5] == COORDINATOR_EMAIL
    assert row[6:12] == ["4", "3", "2", "5", "1", "3"]
    assert row[12] == "'" + HOSTILE, "a formula is neutralised"
    waiting = [r for r in rows if r[0] != str(rid)]
    assert waiting and all(r[3] == "sent" and r[4:13] == [""] * 9 for r in waiting)


@sqlite_only
def test_the_self_assessment_scores_as_xlsx_read_back_cell_by_cell(site: Site) -> None:
    rid, ids = _answered(site)
    client, _ = logged_in(site, EMAILS[MANAGER])
    response = client.get(f"/p/{MINE}/answers/self_assessment.xlsx")
    assert 'filename="MA-1-answers-self_assessment.xlsx"' in response.headers["content-disposition"]
    ws = _xlsx(response)
    assert ws.title == "Self-assessment"
    assert ws.freeze_panes == "A2"
    assert ws["A1"].value == "Request" and ws["A1"].font.bold
    assert ws.max_row == len(ids) + 1
    row = next(r for r in ws.iter_rows(min_row=2) if r[0].value == rid)
    assert row[1].value == CUSTOMS_NAME
    assert row[4].value == datetime(2026, 1, 5, 12, 0) and row[4].is_date
    assert [c.value for c in row[6:12]] == [4, 3, 2, 5, 1, 3], "scores as numbers"
    assert row[12].value == HOSTILE and row[12].data_type == "s", "text, never a formula"
    assert ws.column_dimensions["B"].width > 20


@sqlite_only
def test_the_request_list_as_csv_and_xlsx(site: Site) -> None:
    rid, ids = _answered(site)
    late = site.objects[MINE]["request"]  # an acknowledgement, still open
    with site.ctx.db.transaction() as tx:
        row = tx.session.get(RequestRow, late)
        assert row is not None
        due = row.due_at
    assert due is not None
    site.ctx.clock.at = due + timedelta(days=14)  # type: ignore[attr-defined]
    client, _ = logged_in(site, EMAILS[MANAGER])
    header, *rows = _csv(client.get(f"/p/{MINE}/requests.csv"))
    assert header == [
        "Request", "Kind", "Institution", "Person", "Status", "Sent (Morocco time)",
        "Due (Morocco time)", "Answered (Morocco time)", "Working days overdue",
    ]  # fmt: skip
    by_id = {int(r[0]): r for r in rows}
    assert set(ids) | {rid, late} <= set(by_id)
    answered = by_id[rid]
    assert answered[1:3] == ["self-assessment", CUSTOMS_NAME]
    assert answered[4] == "answered" and answered[7] == "2026-01-05 12:00"
    assert answered[8] == "0"
    overdue = by_id[late]
    assert overdue[1] == "acknowledgement of the contact request" and overdue[4] == "sent"
    assert "@" in overdue[3]
    assert 8 <= int(overdue[8]) <= 10, "two calendar weeks: about ten working days"
    ws = _xlsx(client.get(f"/p/{MINE}/requests.xlsx"))
    assert [c.value for c in ws[1]] == header
    cells = next(r for r in ws.iter_rows(min_row=2) if r[0].value == late)
    assert cells[5].is_date and isinstance(cells[6].value, datetime)
    assert cells[8].value == int(overdue[8])


@sqlite_only
def test_exports_in_french_have_french_headers(site: Site) -> None:
    _answered(site)
    client, _ = logged_in(site, EMAILS[MANAGER])
    client.headers["Accept-Language"] = "fr"
    header, *_rows = _csv(client.get(f"/p/{MINE}/requests.csv"))
    assert header[0] == "Demande" and "heure du Maroc" in header[5]


@sqlite_only
def test_a_kind_without_a_table_or_a_process_one_may_not_see_is_not_found(site: Site) -> None:
    client, _ = logged_in(site, EMAILS[MANAGER])
    unknown = client.get(f"/p/{MINE}/answers/horoscope.csv")
    assert unknown.status_code == 404
    assert "self_assessment, activity_inventory, consultation_comments" in text_of(unknown)
    assert client.get(f"/p/{MINE}/answers/vote.xlsx").status_code == 404
    for path in ("answers/self_assessment.csv", "requests.csv", "requests.xlsx"):
        assert client.get(f"/p/{THEIRS}/{path}").status_code == 404
        assert client.get(f"/p/XX-9/{path}").status_code == 404


@sqlite_only
def test_without_openpyxl_the_xlsx_download_says_what_to_install(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """openpyxl missing (an installation upgraded without reinstalling): the CSV still downloads and
    the XLSX is a page saying what to run, never a 500."""
    import sys

    monkeypatch.setitem(sys.modules, "openpyxl", None)  # `import openpyxl` now fails
    client, _ = logged_in(site, EMAILS[MANAGER])
    assert client.get(f"/p/{MINE}/requests.csv").status_code == 200
    refused = client.get(f"/p/{MINE}/requests.xlsx")
    assert refused.status_code == 503
    assert "openpyxl" in text_of(refused) and "pip install -e ." in text_of(refused)
