"""Charts drawn from a deadline report, as self-contained SVG text (no I/O): the steps' Gantt chart.

The SVG uses presentation attributes only (no `<style>`, no script), so it can be inlined in a page
with a strict Content-Security-Policy or served as a file. Colour is never the only signal: every
bar has a status in words at the end of its row and a `<title>` tooltip.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

from ibmflow.reports import CURRENT, DONE, FUTURE, OVERDUE, ProcessReport, StepPlan

WIDTH = 960
LABEL_WIDTH = 290  # the step titles, left
STATUS_WIDTH = 170  # the statuses in words, right
TOP = 64  # title and month axis
ROW = 36
BOTTOM = 44  # legend
FONT = "system-ui, -apple-system, 'Segoe UI', sans-serif"
COLOURS = {
    "planned": ("#dce3ec", "#6b7f99"),  # fill, stroke
    DONE: ("#2e7d32", "#1b5e20"),
    CURRENT: ("#1565c0", "#0d47a1"),
    OVERDUE: ("#c62828", "#8e0000"),
    FUTURE: ("#9e9e9e", "#616161"),  # a stay in a step the process has since returned before
}
STATUS_WORDS = {DONE: "done", CURRENT: "in progress", FUTURE: "not started"}
_TITLE_CHARS = 40


def _day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def _label(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _status_words(step: StepPlan, suspended: bool) -> str:
    if step.status == OVERDUE:
        return f"OVERDUE by {step.working_days_overdue} working day(s)"
    if step.status == CURRENT and suspended:
        return "suspended"
    if step.status == FUTURE and step.entered_at is not None:
        return "to be redone"
    return STATUS_WORDS.get(step.status, step.status)


def _short(title: str) -> str:
    return title if len(title) <= _TITLE_CHARS else title[: _TITLE_CHARS - 1].rstrip() + "\u2026"


def _tag(name: str, text: str = "", *, inner: str = "", **attrs: object) -> str:
    """An element: escaped attributes (`font_size` -> `font-size`; None leaves one out), escaped
    text, then `inner` (elements already built)."""
    rendered = "".join(
        f" {key.replace('_', '-')}={quoteattr(str(value))}"
        for key, value in attrs.items()
        if value is not None
    )
    if not text and not inner:
        return f"<{name}{rendered}/>"
    return f"<{name}{rendered}>{escape(text)}{inner}</{name}>"


def _span(report: ProcessReport, zone: ZoneInfo) -> tuple[date, date]:
    days: list[date] = [report.today]
    for s in report.steps:
        days += [s.planned_start, s.planned_end]
        days += [_day(m, zone) for m in (s.entered_at, s.left_at) if m is not None]
    return min(days) - timedelta(days=3), max(days) + timedelta(days=3)


def _months(first: date, last: date) -> Iterable[date]:
    month = date(first.year, first.month, 1)
    while month <= last:
        if month >= first:
            yield month
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def gantt_svg(report: ProcessReport) -> str:
    """The steps of one process as a Gantt chart: planned bars (light) above actual bars (solid),
    a line at the report's day, overdue in red and said in words."""
    zone = ZoneInfo(report.timezone)
    first, last = _span(report, zone)
    plot = WIDTH - LABEL_WIDTH - STATUS_WIDTH
    scale = plot / max(1, (last - first).days + 1)
    height = TOP + ROW * len(report.steps) + BOTTOM

    def x(day: date) -> float:
        return round(LABEL_WIDTH + (day - first).days * scale, 1)

    def bar(start: date, end: date, y: float, h: float, kind: str, tip: str) -> str:
        fill, stroke = COLOURS[kind]
        width = max(2.0, round(x(end + timedelta(days=1)) - x(start), 1))
        return _tag(
            "rect",
            inner=_tag("title", tip),
            x=x(start),
            y=y,
            width=width,
            height=h,
            fill=fill,
            stroke=stroke,
        )

    overdue = [s for s in report.steps if s.status == OVERDUE]
    summary = (
        f"Gantt chart of the steps of {report.key} ({report.title}) as of {_label(report.today)}: "
        f"{sum(s.status == DONE for s in report.steps)} of {len(report.steps)} steps done"
        + "".join(
            f"; step {s.position} is overdue by {s.working_days_overdue} working day(s)"
            for s in overdue
        )
        + "."
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label={quoteattr(summary)} '
        f'font-family="{FONT}" font-size="12">',
        _tag("title", f"{report.key}: steps planned and actual"),
        _tag("desc", summary),
        _tag("rect", x=0, y=0, width=WIDTH, height=height, fill="#ffffff"),
        _tag(
            "text",
            f"{report.key} \u2014 {report.title} (days in {report.timezone})",
            x=8,
            y=18,
            font_size=14,
            font_weight="bold",
            fill="#111111",
        ),
    ]
    months = list(_months(first, last))
    every = max(1, math.ceil(len(months) * 64 / plot))  # a label needs about 64 px
    for n, month in enumerate(months):
        parts.append(
            _tag(
                "line", x1=x(month), y1=TOP - 26, x2=x(month), y2=height - BOTTOM, stroke="#e0e0e0"
            )
        )
        if n % every == 0:
            parts.append(_tag("text", f"{month:%b %Y}", x=x(month) + 2, y=TOP - 30, fill="#555555"))
    for i, step in enumerate(report.steps):
        y = TOP + i * ROW
        status = _status_words(step, report.suspended)
        parts.append(
            _tag(
                "text",
                f"{step.position}. {_short(step.title)}",
                inner=_tag("title", step.title),
                x=8,
                y=y + 22,
                fill="#111111",
            )
        )
        target = f"{step.target_days} working days" if step.target_days is not None else "no target"
        parts.append(
            bar(
                step.planned_start,
                step.planned_end,
                y + 6,
                10,
                "planned",
                f"{step.title}\nPlanned: {_label(step.planned_start)} to "
                f"{_label(step.planned_end)} ({target})",
            )
        )
        if step.entered_at is not None:
            start = _day(step.entered_at, zone)
            running = step.left_at is None and step.status in (CURRENT, OVERDUE)
            end = report.today if running or step.left_at is None else _day(step.left_at, zone)
            tip = f"{step.title}\nActual: entered {_label(start)}"
            tip += ", in progress" if running else f", left {_label(end)}"
            if step.due_at is not None:
                tip += f"; due {_label(_day(step.due_at, zone))}"
            tip += f"\nStatus: {status}"
            parts.append(bar(start, max(start, end), y + 18, 12, step.status, tip))
        words = _tag("text", status, x=WIDTH - STATUS_WIDTH + 6, y=y + 22, fill="#333333")
        if step.status == OVERDUE:  # two lines: the word stands out, the count follows
            late = f"by {step.working_days_overdue} working day(s)"
            words = _tag(
                "text",
                "OVERDUE",
                x=WIDTH - STATUS_WIDTH + 6,
                y=y + 15,
                fill=COLOURS[OVERDUE][1],
                font_weight="bold",
            ) + _tag("text", late, x=WIDTH - STATUS_WIDTH + 6, y=y + 29, fill=COLOURS[OVERDUE][1])
        parts.append(words)
    today = x(report.today) + round(scale / 2, 1)
    parts.append(
        _tag(
            "line",
            x1=today,
            y1=TOP - 24,
            x2=today,
            y2=height - BOTTOM + 4,
            stroke="#111111",
            stroke_width=1.5,
            stroke_dasharray="4 3",
        )
    )
    parts.append(
        _tag("text", f"today {_label(report.today)}", x=today + 3, y=TOP - 12, fill="#111111")
    )
    legend_y = height - BOTTOM + 22
    for n, (kind, words) in enumerate(
        (("planned", "planned"), (DONE, "done"), (CURRENT, "in progress"), (OVERDUE, "overdue"))
    ):
        fill, stroke = COLOURS[kind]
        lx = LABEL_WIDTH + n * 130
        parts.append(
            _tag("rect", x=lx, y=legend_y - 10, width=18, height=10, fill=fill, stroke=stroke)
        )
        parts.append(_tag("text", words, x=lx + 24, y=legend_y, fill="#333333"))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
