"""The Gantt chart of an adopted process and its rows in words for a narrow screen: the actual dates
up to the adoption, no planned bar after it, and the same facts as the bars in sentences."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

from ibmflow import demo
from ibmflow.charts import gantt_rows, gantt_svg
from ibmflow.services.context import Context
from ibmflow.services.reports import deadline_report
from ibmflow.testing import FixedClock

SVG = "{http://www.w3.org/2000/svg}"
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@sqlite_only
def test_an_adopted_process_is_drawn_up_to_its_adoption_and_no_plan_past_it(
    ctx: Context, clock: FixedClock
) -> None:
    demo.drive(ctx, "MA-9")
    clock.advance(days=200)  # long after the adoption: nothing is drawn out to today
    (process,) = deadline_report(ctx, ["MA-9"]).processes
    assert process.finished
    root = ET.fromstring(gantt_svg(process))
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert any(t.startswith("adopted ") for t in texts) and not any(
        t.startswith("today ") for t in texts
    )
    width = float(root.get("width") or 0)
    bars = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    planned = [r for r in bars if "Planned:" in (r.findtext(f"{SVG}title") or "")]
    actual = [r for r in bars if "Actual:" in (r.findtext(f"{SVG}title") or "")]
    assert len(actual) == len(process.steps)
    end_of_actual = max(float(r.get("x") or 0) + float(r.get("width") or 0) for r in actual)
    for bar in planned:
        assert float(bar.get("x") or 0) + float(bar.get("width") or 0) <= end_of_actual + 0.5
    assert end_of_actual < width
    rows = gantt_rows(process)
    assert [r.position for r in rows] == list(range(1, len(process.steps) + 1))
    assert all(r.status == "done" and r.actual.startswith("Actual: entered ") for r in rows)
    adopted = max(s.left_at for s in process.steps if s.left_at is not None)
    assert adopted < clock.now() - timedelta(days=100)


@sqlite_only
def test_the_rows_in_words_say_what_the_bars_show_for_a_late_process(ctx: Context) -> None:
    demo.in_progress(ctx, "MA-5")
    (process,) = deadline_report(ctx, ["MA-5"]).processes
    rows = gantt_rows(process)
    assert len(rows) == len(process.steps)
    current = rows[4]
    assert current.actual.endswith(", in progress")
    assert current.status == "in progress" or re.fullmatch(
        r"OVERDUE by \d+ working days?", current.status
    )
    assert rows[5].actual == "" and rows[5].planned.startswith("Planned: ")
    assert rows[0].actual.startswith("Actual: entered ") and ", left " in rows[0].actual
