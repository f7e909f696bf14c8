"""Commands for managers: the deadline report (table, CSV, JSON, iCalendar, Gantt SVG) and the
weekly digest."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ibmflow.cli import ActAs, app, out, parse_moment, print_json, state, table
from ibmflow.reports import STEP, Deadline, ProcessReport

report_app = typer.Typer(help="Deadline reports for managers.", no_args_is_help=True)
app.add_typer(report_app, name="report")
digest_app = typer.Typer(help="The weekly digest of deadlines to managers.", no_args_is_help=True)
app.add_typer(digest_app, name="digest")


class Format(StrEnum):
    """The output formats of `report deadlines`."""

    table = "table"
    csv = "csv"
    json = "json"


RESPONSIVENESS_COLUMNS = (
    *("institution", "requests", "answered", "on time", "share", "median days late"),
    *("open", "open overdue"),
)
Process = Annotated[
    str | None, typer.Argument(help="A process key (default: every process).", show_default=False)
]
At = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="The moment to compute the report for, ISO 8601 with a time zone, e.g. "
        "2026-01-20T09:00+01:00 or 2026-01-20T08:00Z (default: now).",
        show_default=False,
    ),
]
Horizon = Annotated[
    int,
    typer.Option(
        min=0, max=250, help="What falls due within this many working days counts as upcoming."
    ),
]
Output = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file (default: standard output)."),
]


def _write(data: str | bytes, output: Path | None) -> None:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(raw)
        sys.stdout.buffer.flush()
    else:
        output.write_bytes(raw)
        out.print(f"wrote {output} ({len(raw)} bytes)", highlight=False)


def _what(d: Deadline) -> str:
    if d.kind == STEP:
        return "step"
    return f"#{d.request_id} {d.request_label}"


def _due(d: Deadline) -> str:
    return f"{d.due_local:%a %d %b %Y %H:%M}"


def _print(report: ProcessReport) -> None:
    out.print(
        f"[bold]{report.key}[/] {report.title} \u2014 at {report.state_title}"
        + (" (suspended)" if report.suspended else "")
        + (" (finished)" if report.finished else ""),
        highlight=False,
    )
    zone = report.timezone
    overdue = report.overdue_steps + report.overdue_requests
    if overdue:
        table(
            f"Overdue (times in {zone}; working days in each institution's calendar)",
            ["what", "institution", "step", "due", "working days overdue"],
            [
                [_what(d), d.institution_name, d.step, _due(d), d.working_days_overdue]
                for d in overdue
            ],
        )
    else:
        out.print("Overdue: nothing.", highlight=False)
    if report.falling_due:
        table(
            f"Falling due within {report.horizon_days} working days "
            f"(by {report.horizon_end:%a %d %b %Y}; times in {zone})",
            ["what", "institution", "step", "due", "working days left"],
            [
                [_what(d), d.institution_name, d.step, _due(d), d.working_days_left]
                for d in report.falling_due
            ],
        )
    else:
        out.print(
            f"Falling due within {report.horizon_days} working days: nothing.", highlight=False
        )
    if report.responsiveness:
        table(
            "Responsiveness (on time: answered by the due date, out of the requests answered "
            "or unanswered past their due date; days late: median over late answers and "
            "unanswered overdue requests)",
            RESPONSIVENESS_COLUMNS,
            [
                [
                    r.name,
                    r.requests,
                    r.answered,
                    f"{r.on_time} of {r.due_passed}",
                    "no deadline passed yet"
                    if r.on_time_share is None
                    else f"{r.on_time_share:.0%}",
                    "" if r.median_days_late is None else f"{r.median_days_late:g}",
                    r.open,
                    r.open_overdue,
                ]
                for r in report.responsiveness
            ],
        )
    else:
        out.print("Responsiveness: no request sent yet.", highlight=False)
    out.print("")


@report_app.command("deadlines")
def report_deadlines(
    ctx: typer.Context,
    process: Process = None,
    at: At = None,
    fmt: Annotated[
        Format | None, typer.Option("--format", help="Output format (default: table).")
    ] = None,
    horizon: Horizon = 10,
    as_json: Annotated[bool, typer.Option("--json", help="The same as --format json.")] = False,
) -> None:
    """Overdue steps and requests, what falls due next, and each institution's responsiveness."""
    from ibmflow.exports import report_csv
    from ibmflow.services.reports import deadline_report

    if as_json and fmt not in (None, Format.json):
        raise typer.BadParameter(
            f"--json and --format {fmt.value} ask for two formats; give one.",
            param_hint="'--json' / '--format'",
        )
    fmt = Format.json if as_json else fmt or Format.table
    moment = parse_moment(at)
    report = deadline_report(
        state(ctx).context, [process] if process else None, at=moment, horizon_days=horizon
    )
    if fmt is Format.json:
        print_json(report.to_dict())
    elif fmt is Format.csv:
        _write(report_csv(report), None)
    else:
        local = f"{report.at:%Y-%m-%d %H:%M} UTC"
        out.print(f"Deadline report as of {local}\n", highlight=False)
        for one in report.processes:
            _print(one)
        if not report.processes:
            out.print("No process yet: `ibmflow process start` starts one.", highlight=False)


@report_app.command("ical")
def report_ical_command(
    ctx: typer.Context,
    process: Process = None,
    at: At = None,
    output: Output = None,
) -> None:
    """Every open deadline as an iCalendar file (one all-day event each) for a calendar app."""
    from ibmflow.exports import report_ical
    from ibmflow.services.mailings import domain
    from ibmflow.services.reports import deadline_report

    context = state(ctx).context
    report = deadline_report(context, [process] if process else None, at=parse_moment(at))
    _write(report_ical(report, host=domain(context)), output)


@report_app.command("gantt")
def report_gantt(
    ctx: typer.Context,
    process: Annotated[str, typer.Argument(help="A process key.")],
    at: At = None,
    output: Output = None,
) -> None:
    """A process's steps, planned against actual, as an SVG Gantt chart."""
    from ibmflow.charts import gantt_svg
    from ibmflow.services.reports import deadline_report

    report = deadline_report(state(ctx).context, [process], at=parse_moment(at))
    _write(gantt_svg(report.processes[0]), output)


@digest_app.command("send")
def digest_send(
    ctx: typer.Context,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="Send as of this moment (ISO 8601 with a time zone; default: now); the week "
            "is that moment's.",
            show_default=False,
        ),
    ] = None,
    process: Annotated[
        list[str] | None, typer.Option(help="Only this process; repeat for several.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    as_: ActAs = None,
) -> None:
    """Write this week's digest to every manager who has not had it yet (it leaves with the
    outbox: `ibmflow mail dispatch`)."""
    from ibmflow.services.digest import send_digests

    s = state(ctx)
    moment = parse_moment(now, "--now") or s.context.clock.now()
    sent = send_digests(s.context, moment, keys=process or None, actor=s.actor)
    if as_json:
        print_json(
            [
                {
                    "process": d.process,
                    "week": d.week,
                    "to": d.recipient,
                    "message_id": d.message_id,
                }
                for d in sent
            ]
        )
        return
    for d in sent:
        out.print(f"{d.process} {d.week}: digest to {d.recipient}", highlight=False)
    tail = (
        "; `ibmflow mail dispatch` sends them." if sent else " (none due: already sent this week)."
    )
    out.print(f"{len(sent)} digest(s) written to the outbox{tail}", highlight=False)
