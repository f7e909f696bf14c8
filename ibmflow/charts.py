"""Charts drawn from a deadline report, as self-contained SVG text (no I/O): the steps' Gantt chart,
and the same steps as rows of words for a narrow screen (`gantt_rows`), where the chart would be
scaled down past reading. An adopted (finished) process is drawn up to its adoption: its actual
dates, and no planned bar after it.

Every word is in the reader's language (`ibmflow.i18n`: English outside a `using` block, as on the
command line), dates as the reader's locale writes them. The SVG uses presentation attributes only (no `<style>`, no script), so it can be inlined in a page
with a strict Content-Security-Policy or served as a file. Colour is never the only signal: every
bar has a status in words at the end of its row and a `<title>` tooltip.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

from babel import dates as babel_dates

from ibmflow import i18n
from ibmflow.i18n import N_, _, ngettext
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
STATUS_WORDS = {DONE: N_("done"), CURRENT: N_("in progress"), FUTURE: N_("not started")}
_TITLE_CHARS = 40


def _day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def _label(day: date) -> str:
    """A day as the reader writes it: "2 Mar 2026", "2 mars 2026"."""
    return i18n.format_date(day, form="medium")


def _month(month: date) -> str:
    """A month on the axis: "Mar 2026", "mars 2026"."""
    return babel_dates.format_date(month, format="LLL y", locale=i18n.locale())


def _status_words(step: StepPlan, suspended: bool) -> str:
    if step.status == OVERDUE:
        return ngettext(
            "OVERDUE by %(num)s working day",
            "OVERDUE by %(num)s working days",
            step.working_days_overdue,
        )
    if step.status == CURRENT and suspended:
        return _("suspended")
    if step.status == FUTURE and step.entered_at is not None:
        return _("to be redone")
    words = STATUS_WORDS.get(step.status)
    return _(words) if words else step.status


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


def _ended(report: ProcessReport, zone: ZoneInfo) -> date | None:
    """The day a finished process left its last step (its adoption); None while it runs."""
    if not report.finished:
        return None
    left = [_day(s.left_at, zone) for s in report.steps if s.left_at is not None]
    return max(left) if left else report.today


def _plan(step: StepPlan, ended: date | None) -> tuple[date, date] | None:
    """A step's planned days as drawn: none past a finished process's end, nor for a step it
    never entered."""
    if ended is None:
        return step.planned_start, step.planned_end
    if step.entered_at is None or step.planned_start > ended:
        return None
    return step.planned_start, min(step.planned_end, ended)


def _span(report: ProcessReport, zone: ZoneInfo) -> tuple[date, date]:
    ended = _ended(report, zone)
    days: list[date] = [ended or report.today]
    for s in report.steps:
        plan = _plan(s, ended)
        days += list(plan) if plan else []
        days += [_day(m, zone) for m in (s.entered_at, s.left_at) if m is not None]
    return min(days) - timedelta(days=3), max(days) + timedelta(days=3)


@dataclass(frozen=True)
class GanttRow:
    """One step of the chart in words, for a narrow screen: its title, status, and its planned
    and actual days as sentences ("" when there are none to say)."""

    position: int
    title: str
    status: str
    overdue: bool
    planned: str
    actual: str


def gantt_rows(report: ProcessReport) -> tuple[GanttRow, ...]:
    """The steps of the chart as rows of words (the same facts as the bars)."""
    zone = ZoneInfo(report.timezone)
    ended = _ended(report, zone)
    rows = []
    for step in report.steps:
        plan = _plan(step, ended)
        planned = (
            _("Planned: %(start)s to %(end)s", start=_label(plan[0]), end=_label(plan[1]))
            if plan
            else ""
        )
        actual = ""
        if step.entered_at is not None:
            start = _label(_day(step.entered_at, zone))
            actual = (
                _("Actual: entered %(start)s, in progress", start=start)
                if step.left_at is None
                else _(
                    "Actual: entered %(start)s, left %(end)s",
                    start=start,
                    end=_label(_day(step.left_at, zone)),
                )
            )
        rows.append(
            GanttRow(
                position=step.position,
                title=step.title,
                status=_status_words(step, report.suspended),
                overdue=step.status == OVERDUE,
                planned=planned,
                actual=actual,
            )
        )
    return tuple(rows)


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
    ended = _ended(report, zone)
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
    summary = " ".join(
        [
            ngettext(
                "Gantt chart of the steps of %(key)s (%(title)s) as of %(day)s: %(done)s of "
                "%(num)s step done.",
                "Gantt chart of the steps of %(key)s (%(title)s) as of %(day)s: %(done)s of "
                "%(num)s steps done.",
                len(report.steps),
                key=report.key,
                title=report.title,
                day=_label(report.today),
                done=i18n.format_number(sum(s.status == DONE for s in report.steps)),
            ),
            *(
                ngettext(
                    "Step %(position)s is overdue by %(num)s working day.",
                    "Step %(position)s is overdue by %(num)s working days.",
                    s.working_days_overdue,
                    position=s.position,
                )
                for s in overdue
            ),
        ]
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label={quoteattr(summary)} '
        f'font-family="{FONT}" font-size="12">',
        _tag("title", _("%(key)s: steps planned and actual", key=report.key)),
        _tag("desc", summary),
        _tag("rect", x=0, y=0, width=WIDTH, height=height, fill="#ffffff"),
        _tag(
            "text",
            _(
                "%(key)s \u2014 %(title)s (days in %(zone)s)",
                key=report.key,
                title=report.title,
                zone=i18n.zone_name(report.timezone),
            ),
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
            parts.append(_tag("text", _month(month), x=x(month) + 2, y=TOP - 30, fill="#555555"))
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
        target = (
            i18n.working_days(step.target_days) if step.target_days is not None else _("no target")
        )
        planned = _(
            "Planned: %(start)s to %(end)s (%(target)s)",
            start=_label(step.planned_start),
            end=_label(step.planned_end),
            target=target,
        )
        plan = _plan(step, ended)
        if plan is not None:
            parts.append(bar(plan[0], plan[1], y + 6, 10, "planned", f"{step.title}\n{planned}"))
        if step.entered_at is not None:
            start = _day(step.entered_at, zone)
            running = step.left_at is None and step.status in (CURRENT, OVERDUE)
            end = report.today if running or step.left_at is None else _day(step.left_at, zone)
            lines = [
                step.title,
                _("Actual: entered %(start)s, in progress", start=_label(start))
                if running
                else _(
                    "Actual: entered %(start)s, left %(end)s", start=_label(start), end=_label(end)
                ),
            ]
            if step.due_at is not None:
                lines.append(_("Due: %(day)s", day=_label(_day(step.due_at, zone))))
            lines.append(_("Status: %(status)s", status=status))
            tip = "\n".join(lines)
            parts.append(bar(start, max(start, end), y + 18, 12, step.status, tip))
        words = _tag("text", status, x=WIDTH - STATUS_WIDTH + 6, y=y + 22, fill="#333333")
        if step.status == OVERDUE:  # two lines: the word stands out, the count follows
            late = ngettext(
                "by %(num)s working day", "by %(num)s working days", step.working_days_overdue
            )
            words = _tag(
                "text",
                _("OVERDUE"),
                x=WIDTH - STATUS_WIDTH + 6,
                y=y + 15,
                fill=COLOURS[OVERDUE][1],
                font_weight="bold",
            ) + _tag("text", late, x=WIDTH - STATUS_WIDTH + 6, y=y + 29, fill=COLOURS[OVERDUE][1])
        parts.append(words)
    marked = ended or report.today  # a finished process: its end, not today
    today = x(marked) + round(scale / 2, 1)
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
        _tag(
            "text",
            _("adopted %(day)s", day=_label(marked))
            if ended is not None
            else _("today %(day)s", day=_label(report.today)),
            x=today + 3,
            y=TOP - 12,
            fill="#111111",
        )
    )
    legend_y = height - BOTTOM + 22
    for n, (kind, words) in enumerate(
        (
            ("planned", _("planned")),
            (DONE, _("done")),
            (CURRENT, _("in progress")),
            (OVERDUE, _("overdue")),
        )
    ):
        fill, stroke = COLOURS[kind]
        lx = LABEL_WIDTH + n * 130
        parts.append(
            _tag("rect", x=lx, y=legend_y - 10, width=18, height=10, fill=fill, stroke=stroke)
        )
        parts.append(_tag("text", words, x=lx + 24, y=legend_y, fill="#333333"))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
