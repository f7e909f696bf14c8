"""The tables people work with outside ibmflow: the answers of one kind of request (one row per
request, the answer's fields as columns) and a process's list of requests, headers in the
reader's language, moments in the process's time zone (`sheets` writes them as CSV or XLSX)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from ibmflow.errors import NotFound
from ibmflow.i18n import _, zone_name
from ibmflow.requestkinds import KINDS, label
from ibmflow.services.context import Context
from ibmflow.services.record_views import status_label
from ibmflow.services.requests import OPEN
from ibmflow.sheets import Cell, Sheet
from ibmflow.storage import repository as repo
from ibmflow.storage.queries.exports import RequestLine, requests_with_people
from ibmflow.storage.tables import ProcessRow

# The kinds whose answers carry something to tabulate (fields, or a text that is required); a
# ballot is the decision's, not a table's.
ANSWER_KINDS: tuple[str, ...] = tuple(
    k.name for k in KINDS.values() if (k.fields or k.text_required) and not k.is_vote
)


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    """A moment as the process's wall clock shows it (a spreadsheet has no time zones)."""
    return None if moment is None else moment.astimezone(zone).replace(tzinfo=None)


def _person(line: RequestLine) -> str:
    if line.person_email is None:
        return ""
    return f"{line.person_name} <{line.person_email}>" if line.person_name else line.person_email


def answers_sheet(ctx: Context, key: str, kind: str) -> Sheet:
    """Every request of `kind` in a process and its answer (empty cells while unanswered)."""
    if kind not in ANSWER_KINDS:
        raise NotFound(
            _(
                "There is no table of answers of %(kind)r; there is one for each of: %(kinds)s.",
                kind=kind,
                kinds=", ".join(ANSWER_KINDS),
            )
        )
    spec = KINDS[kind]
    with ctx.db.reading() as session:
        process = repo.get_process(session, key)
        lines = requests_with_people(session, process.id or 0, kind)
        zone, named = ZoneInfo(process.timezone), zone_name(process.timezone)
    header = (
        _("Request"),
        _("Institution"),
        _("Person"),
        _("Status"),
        _("Answered (%(zone)s)", zone=named),
        _("Answered by"),
        *(f.label for f in spec.fields),
        _("Comments") if spec.text_required else _("Text of the answer"),
    )
    rows: list[tuple[Cell, ...]] = []
    for line in lines:
        given = line.answer_fields or {}
        values: list[Cell] = [_field(given.get(f.name)) for f in spec.fields]
        rows.append(
            (
                line.id,
                line.institution_name,
                _person(line),
                status_label(line.status),
                _local(line.answered_at, zone),
                line.answered_by,
                *values,
                line.answer_text,
            )
        )
    return Sheet(label(kind)[:1].upper() + label(kind)[1:], header, tuple(rows))


def _field(value: object) -> Cell:
    if value is None or isinstance(value, str | int | float):
        return value
    return str(value)


def requests_sheet(ctx: Context, key: str) -> Sheet:
    """Every request of a process: number, kind, institution, person, status, when it was sent,
    is due and was answered, and how many working days it is overdue (the institution's own
    working days, as the deadline report counts them)."""
    now = ctx.clock.now()
    with ctx.db.reading() as session:
        process = repo.get_process(session, key)
        lines = requests_with_people(session, process.id or 0)
        zone, named = ZoneInfo(process.timezone), zone_name(process.timezone)
        overdue = [_overdue(ctx, process, line, now) for line in lines]
    header = (
        _("Request"),
        _("Kind"),
        _("Institution"),
        _("Person"),
        _("Status"),
        _("Sent (%(zone)s)", zone=named),
        _("Due (%(zone)s)", zone=named),
        _("Answered (%(zone)s)", zone=named),
        _("Working days overdue"),
    )
    rows = tuple(
        (
            line.id,
            label(line.kind),
            line.institution_name,
            _person(line),
            status_label(line.status),
            _local(line.sent_at, zone),
            _local(line.due_at, zone),
            _local(line.answered_at, zone),
            days,
        )
        for line, days in zip(lines, overdue, strict=True)
    )
    return Sheet(_("Requests"), header, rows)


def _overdue(ctx: Context, process: ProcessRow, line: RequestLine, now: datetime) -> int:
    if line.status != OPEN or line.due_at is None or line.due_at >= now:
        return 0
    calendar = ctx.calendar(process, line.institution_weekend)
    return max(0, calendar.between(calendar.local_day(line.due_at), calendar.local_day(now)))
