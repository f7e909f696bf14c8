"""A deadline report as files for other tools (no I/O): CSV for spreadsheets, iCalendar for calendars.

The CSV's header and the calendar's texts are in the language in effect (`i18n.using`); English
outside any `using` block. Data (keys, codes, names, times) is as recorded."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import icalendar

from ibmflow.i18n import _, format_date, format_datetime, ngettext, pgettext
from ibmflow.reports import (
    OVERDUE,
    STEP,
    Deadline,
    DeadlineReport,
    ProcessReport,
    local_text,
    utc_text,
)

# The columns, in English (`csv_header()` gives them in the reader's language).
CSV_HEADER = (
    "process",
    "kind",
    "request_id",
    "step",
    "institution",
    "institution_name",
    "request_kind",
    "due_local",
    "due_utc",
    "timezone",
    "status",
    "working_days_overdue",
    "working_days_left",
)
# A spreadsheet runs a cell that starts with one of these as a formula ("CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """A value safe to open in a spreadsheet: text that could start a formula gets a quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def csv_header() -> tuple[str, ...]:
    """The CSV's column names in the reader's language (`CSV_HEADER` in English)."""
    return (
        pgettext("CSV column", "process"),
        pgettext("CSV column", "kind"),
        pgettext("CSV column", "request_id"),
        pgettext("CSV column", "step"),
        pgettext("CSV column", "institution"),
        pgettext("CSV column", "institution_name"),
        pgettext("CSV column", "request_kind"),
        pgettext("CSV column", "due_local"),
        pgettext("CSV column", "due_utc"),
        pgettext("CSV column", "timezone"),
        pgettext("CSV column", "status"),
        pgettext("CSV column", "working_days_overdue"),
        pgettext("CSV column", "working_days_left"),
    )


def report_csv(report: DeadlineReport) -> str:
    """One row per deadline the report lists (overdue, then falling due), under `csv_header()`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(csv_header())
    for process in report.processes:
        for d in process.deadlines:
            row = (
                d.process,
                d.kind,
                d.request_id,
                d.step,
                d.institution,
                d.institution_name,
                d.request_kind,
                local_text(d.due_at, d.timezone),
                utc_text(d.due_at),
                d.timezone,
                d.status,
                d.working_days_overdue,
                d.working_days_left,
            )
            writer.writerow([_cell(v) for v in row])
    return buffer.getvalue()


def summary(process: ProcessReport, d: Deadline) -> str:
    """A deadline in one line, naming the process, the step and the institution."""
    if d.kind == STEP:
        return _("[%(key)s] Step due: %(step)s", key=process.key, step=d.step_title)
    what = _(d.request_label) if d.request_label else _("request")
    return _(
        "[%(key)s] %(request)s due from %(institution)s (%(step)s)",
        key=process.key,
        request=what[:1].upper() + what[1:],
        institution=d.institution_name,
        step=d.step_title,
    )


def _description(process: ProcessReport, d: Deadline) -> str:
    lines = [
        f"{process.title} ({process.key})",
        _("Step: %(step)s", step=d.step_title),
        _("Due: %(when)s", when=format_datetime(d.due_at, d.timezone)),
    ]
    if d.institution_name:
        lines.insert(2, _("Institution: %(institution)s", institution=d.institution_name))
    if d.status == OVERDUE:
        lines.append(
            ngettext(
                "Overdue by %(num)s working day on %(day)s.",
                "Overdue by %(num)s working days on %(day)s.",
                d.working_days_overdue,
                day=format_date(process.today),
            )
        )
    return "\n".join(lines)


def report_ical(report: DeadlineReport, *, host: str = "ibmflow.invalid") -> bytes:
    """Every open deadline as an all-day event on its local due day (`UID` "<uid>@host", stable
    while the deadline lives, so a re-import updates rather than duplicates); upcoming ones carry a
    reminder the day before at 09:00."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//ibmflow//deadline report//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", _("ibmflow deadlines"))
    for process in report.processes:
        for d in process.open_deadlines:
            event = icalendar.Event()
            event.add("uid", f"{d.uid}@{host}")
            event.add("dtstamp", report.at)
            event.add("dtstart", d.due_day)
            event.add("dtend", d.due_day + timedelta(days=1))
            event.add("summary", summary(process, d))
            event.add("description", _description(process, d))
            event.add("categories", ["ibmflow", d.status])
            event.add("transp", "TRANSPARENT")
            if d.status != OVERDUE:
                alarm = icalendar.Alarm()
                alarm.add("action", "DISPLAY")
                alarm.add("description", summary(process, d))
                alarm.add("trigger", timedelta(hours=-15))
                event.add_component(alarm)
            calendar.add_component(event)
    return bytes(calendar.to_ical())
