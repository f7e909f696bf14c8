"""The report as files: CSV that parses back and cannot inject formulas, iCalendar a calendar app
imports, and the Gantt chart as well-formed, escaped, accessible SVG."""

from __future__ import annotations

import csv
import dataclasses
import io
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path

import deadline_scenario as sc
import icalendar
import pytest

from ibmflow import reports as rp
from ibmflow.calendar import WorkCalendar
from ibmflow.charts import gantt_svg
from ibmflow.exports import CSV_HEADER, report_csv, report_ical
from ibmflow.services.context import Context
from ibmflow.services.reports import deadline_report
from ibmflow.testing import FixedClock

SVG = "{http://www.w3.org/2000/svg}"
# The exports are pure: one database is enough to build their input (test_reports reads both).
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def report(ctx: Context, clock: FixedClock, tmp_path: Path) -> tuple[rp.DeadlineReport, sc.Built]:
    built = sc.build(ctx, clock, tmp_path)
    return deadline_report(ctx, at=sc.AT), built


@sqlite_only
def test_the_csv_parses_back_to_one_row_per_listed_deadline(
    report: tuple[rp.DeadlineReport, sc.Built],
) -> None:
    data, built = report
    rows = list(csv.DictReader(io.StringIO(report_csv(data))))
    assert tuple(rows[0]) == CSV_HEADER
    assert [
        (r["kind"], r["request_id"], r["institution"], r["status"], r["working_days_overdue"])
        for r in rows
    ] == [
        ("step", "", "", "overdue", "14"),
        ("request", str(built.ids[sc.CUSTOMS, "C"]), sc.CUSTOMS, "overdue", "5"),
        ("request", str(built.ids[sc.HEALTH, "S"]), sc.HEALTH, "upcoming", "0"),
        ("request", str(built.ids[sc.CUSTOMS, "K"]), sc.CUSTOMS, "upcoming", "0"),
    ]
    assert rows[1] == {
        "process": sc.KEY,
        "kind": "request",
        "request_id": str(built.ids[sc.CUSTOMS, "C"]),
        "step": "coordinator_appointment",
        "institution": sc.CUSTOMS,
        "institution_name": "Customs Directorate",
        "request_kind": "chapter_draft",
        "due_local": "2026-01-12T23:59:59+01:00",
        "due_utc": "2026-01-12T22:59:59Z",
        "timezone": "Africa/Casablanca",
        "status": "overdue",
        "working_days_overdue": "5",
        "working_days_left": "0",
    }
    assert [r["working_days_left"] for r in rows[2:]] == ["1", "10"]


@sqlite_only
@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_a_cell_that_would_start_a_formula_is_neutralised(
    report: tuple[rp.DeadlineReport, sc.Built], start: str
) -> None:
    data, _ = report
    process = data.processes[0]
    hostile = f'{start}HYPERLINK("http://evil.example","x")'
    bad = dataclasses.replace(process.overdue_requests[0], institution_name=hostile)
    changed = dataclasses.replace(
        data, processes=(dataclasses.replace(process, overdue_requests=(bad,)),)
    )
    rows = csv.DictReader(io.StringIO(report_csv(changed)))
    (row,) = [r for r in rows if r["request_id"] == str(bad.request_id)]
    assert row["institution_name"] == "'" + hostile
    assert row["due_utc"] == "2026-01-12T22:59:59Z"  # other cells untouched


@sqlite_only
def test_the_icalendar_parses_back_with_one_event_per_open_deadline(
    report: tuple[rp.DeadlineReport, sc.Built],
) -> None:
    data, built = report
    calendar = icalendar.Calendar.from_ical(report_ical(data, host="interior.example"))
    events = {str(e["uid"]): e for e in calendar.walk("VEVENT")}
    ids = built.ids
    assert set(events) == {
        "step-1@interior.example",
        f"request-{ids[sc.CUSTOMS, 'C']}@interior.example",
        f"request-{ids[sc.HEALTH, 'S']}@interior.example",
        f"request-{ids[sc.CUSTOMS, 'K']}@interior.example",
        f"request-{ids[sc.VETERINARY, 'K']}@interior.example",  # beyond the horizon, still open
    }
    step = events["step-1@interior.example"]
    assert step.decoded("dtstart") == date(2025, 12, 29)
    assert step.decoded("dtend") == date(2025, 12, 30)
    assert str(step["summary"]) == f"[{sc.KEY}] Step due: Identification of a national coordinator"
    late = events[f"request-{ids[sc.CUSTOMS, 'C']}@interior.example"]
    assert str(late["summary"]) == (
        f"[{sc.KEY}] Chapter draft due from Customs Directorate "
        "(Identification of a national coordinator)"
    )
    assert "Overdue by 5 working days" in str(late["description"])
    assert not late.walk("VALARM")  # no reminder for what is already late
    upcoming = events[f"request-{ids[sc.VETERINARY, 'K']}@interior.example"]
    assert upcoming.decoded("dtstart") == date(2026, 2, 4)
    (alarm,) = upcoming.walk("VALARM")
    assert alarm.decoded("trigger") == timedelta(hours=-15)
    assert str(calendar["version"]) == "2.0" and "ibmflow" in str(calendar["prodid"])


@sqlite_only
def test_the_same_report_gives_the_same_calendar(
    report: tuple[rp.DeadlineReport, sc.Built],
) -> None:
    data, _ = report
    assert report_ical(data) == report_ical(data)


@sqlite_only
def test_the_gantt_chart_is_well_formed_accessible_svg_with_a_bar_pair_per_step(
    report: tuple[rp.DeadlineReport, sc.Built],
) -> None:
    data, _ = report
    process = data.processes[0]
    root = ET.fromstring(gantt_svg(process))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert "Step 1 is overdue by 14 working days." in (root.get("aria-label") or "")
    assert root.get("viewBox", "").startswith("0 0 960 ")
    bars = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    planned = [r for r in bars if "Planned:" in (r.findtext(f"{SVG}title") or "")]
    actual = [r for r in bars if "Actual:" in (r.findtext(f"{SVG}title") or "")]
    assert len(planned) == 9  # one per step
    assert len(actual) == 1  # only step 1 was entered
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert "OVERDUE" in texts  # said in words, not by colour alone
    assert "today 20 Jan 2026" in texts
    assert texts.count("not started") == 8


def test_the_gantt_chart_escapes_what_it_is_given() -> None:
    """A step title with markup and a process title with an ampersand stay text."""
    steps = [rp.StepInfo("one", '<script>alert("x")</script> & more', 5)]
    start = sc.STARTED
    report = rp.process_report(
        rp.ProcessInfo("P-1", "Roads & <b>bridges</b>", "wf", 1, "MA", "UTC", "one", "one", start),
        steps,
        [rp.Stay(1, "one", start, start + timedelta(days=7), None)],
        [],
        calendar=WorkCalendar("UTC"),
        calendars={},
        at=start + timedelta(days=3),
    )
    svg = gantt_svg(report)
    assert "<script" not in svg and "<b>" not in svg
    root = ET.fromstring(svg)
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert '<script>alert("x")</script> & more' in titles
    assert any("Roads & <b>bridges</b>" in (t.text or "") for t in root.iter(f"{SVG}text"))
