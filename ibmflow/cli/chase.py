"""Commands of the chaser: one sweep by hand, deadline extensions, and the worker."""

from __future__ import annotations

from datetime import UTC, date
from typing import Annotated

import typer

from ibmflow.cli import ActAs, out, parse_moment, print_json, state, table
from ibmflow.cli import app as root
from ibmflow.errors import InvalidCommand

deadline_app = typer.Typer(help="Deadlines: extend a step's or a request's.", no_args_is_help=True)
root.add_typer(deadline_app, name="deadline")

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@root.command("chase")
def chase_command(
    ctx: typer.Context,
    now: Annotated[
        str | None,
        typer.Option(
            help="With --dry-run: show what a sweep at this moment (ISO 8601 with a time zone) "
            "would send. A real sweep runs at the present moment only."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be sent; write nothing.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """One sweep of the chasing ladder: write every due reminder, escalation and step alert to the
    outbox (`ibmflow mail dispatch` or the worker sends them)."""
    from ibmflow.services.chase import sweep

    moment = parse_moment(now, "--now")
    if moment is not None and not dry_run:
        # A sweep dated elsewhere than now would mark rungs sent and date mails and audit events at
        # that moment: in the future, they would go out months later for requests answered since.
        raise typer.BadParameter(
            f"{now} is for --dry-run only: a real sweep sends at the present moment. Run "
            f"`ibmflow chase --dry-run --now {now}` to see what a sweep then would send, or "
            "`ibmflow chase` to sweep now.",
            param_hint="'--now'",
        )
    report = sweep(state(ctx).context, now=moment, dry_run=dry_run)
    if as_json:
        print_json(report.to_dict())
        return
    at = report.at.astimezone(UTC)
    if not report.rungs:
        out.print(f"Nothing is due as of {at:%Y-%m-%d %H:%M} UTC.", highlight=False)
        return
    table(
        f"Chase as of {at:%Y-%m-%d %H:%M} UTC" + (" (dry run: nothing written)" if dry_run else ""),
        ["process", "rung", "subject", "day", "outcome", "to / note"],
        [
            (r.process, r.rung, r.subject, r.due_on, r.outcome, ", ".join(r.to) or r.note)
            for r in report.rungs
        ],
    )
    outcomes = ("sent", "would send", "superseded", "deferred", "cancelled")
    counts = {o: report.count(o) for o in outcomes}
    out.print(", ".join(f"{n} {o}" for o, n in counts.items() if n), highlight=False)


@deadline_app.command("extend")
def extend_command(
    ctx: typer.Context,
    process: Annotated[str, typer.Argument(help="The process key.")],
    reason: Annotated[str, typer.Option(help="Why the deadline moves (on the audit log).")],
    request: Annotated[
        int | None,
        typer.Option(help="The request whose due date moves (default: the current step's)."),
    ] = None,
    days: Annotated[int | None, typer.Option(help="Working days later.")] = None,
    to: Annotated[
        str | None, typer.Option(help="The new due day, YYYY-MM-DD (a working day).")
    ] = None,
    as_json: JsonFlag = False,
    as_: ActAs = None,
) -> None:
    """Extend a deadline; the reminders not yet sent move with it, those sent are not sent again."""
    from ibmflow.services.extensions import extend_deadline

    new_day = None
    if to is not None:
        try:
            new_day = date.fromisoformat(to)
        except ValueError:
            raise InvalidCommand(f"--to {to!r} is not a date; write YYYY-MM-DD.") from None
    s = state(ctx)
    ext = extend_deadline(
        s.context, process, reason=reason, actor=s.actor, request_id=request, days=days, to=new_day
    )
    if as_json:
        print_json(ext.to_dict())
        return
    out.print(f"{ext.subject} of {ext.process} is now due {ext.new_due_local}.", highlight=False)
    for name, day in ext.rungs:
        out.print(f"  {name}: {day:%a %d %b %Y}", highlight=False)
