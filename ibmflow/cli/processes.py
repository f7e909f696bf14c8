"""Commands on processes: init, validate, start, list, status, advance, return, suspend, resume, graph."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from ibmflow.cli import ActAs, app, err, out, print_json, state, table
from ibmflow.cli.dispatch import dispatch

process_app = typer.Typer(help="Start and list processes.", no_args_is_help=True)
app.add_typer(process_app, name="process")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Reason = Annotated[str, typer.Option(help="Why (required; kept on the audit log).")]
Expect = Annotated[
    int | None,
    typer.Option(
        "--expect-version",
        help="Refuse if the process is no longer at this version (see `status`).",
    ),
]


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the database or upgrade it to the newest schema."""
    from ibmflow.services.deadlines import plan_missing
    from ibmflow.storage.migrate import upgrade

    context = state(ctx).context
    before, after = upgrade(context.db)
    context.settings.data_dir.mkdir(parents=True, exist_ok=True)
    where = context.db.url.split("@")[-1]  # never print credentials
    if before == after:
        out.print(f"database {where} is up to date (schema {after})", highlight=False)
    else:
        out.print(f"database {where}: schema {before or 'none'} -> {after}", highlight=False)
        # Open deadlines from before the chasing ladder get their rungs now.
        planned = plan_missing(context) if before is not None else 0
        if planned:
            out.print(f"chasing ladder planned for {planned} open deadline(s)", highlight=False)


@app.command()
def validate(
    ctx: typer.Context,
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Definition files (default: every file of the workflows folder)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check workflow definitions completely; print every problem as FILE: where: what."""
    from ibmflow.config import load_settings
    from ibmflow.definitions import validate_files, workflow_files

    settings = load_settings(state(ctx).config)
    if not files:
        folder = settings.workflows_dir
        files = workflow_files(folder)
        if not files:
            err.print(f"no *.toml definitions in {folder}", highlight=False)
            raise typer.Exit(1)
    problems = validate_files(files, offered=settings.languages)
    if as_json:
        print_json(
            {
                "files": [str(f) for f in files],
                "valid": not problems,
                "problems": [{"file": p.file, "where": p.where, "what": p.what} for p in problems],
            }
        )
        if problems:
            raise typer.Exit(1)
        return
    for problem in problems:
        out.print(str(problem), highlight=False, markup=False)
    if problems:
        err.print(f"{len(problems)} problem(s) in {len(files)} file(s)")
        raise typer.Exit(1)
    out.print(f"{len(files)} definition(s) valid", highlight=False)


@process_app.command("start")
def process_start(
    ctx: typer.Context,
    title: Annotated[str, typer.Option(help='e.g. "Morocco national IBM strategy".')],
    key: Annotated[str | None, typer.Option(help="Short reference (default: COUNTRY-N).")] = None,
    country: Annotated[str | None, typer.Option(help="ISO country code (default: config).")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA time zone (default: config).")] = None,
    workflow: Annotated[str, typer.Option(help="Workflow id.")] = "ibm_strategy",
    roster: Annotated[
        Path | None,
        typer.Option(help="Roster file to seed from (default: the ToR's institutions)."),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(help="Language of its mails, for whoever has none (default: config)."),
    ] = None,
    as_json: JsonFlag = False,
    as_: ActAs = None,
) -> None:
    """Start a process on the current version of a workflow."""
    from ibmflow.roster import parse_roster
    from ibmflow.services.processes import start_process

    s = state(ctx)
    offered = s.context.settings.languages
    seed = parse_roster(roster, languages=offered) if roster else None
    process = start_process(
        s.context,
        title=title,
        key=key,
        country=country,
        timezone=timezone,
        workflow=workflow,
        roster=seed,
        language=language,
        actor=s.actor,
    )
    if as_json:
        print_json({"process": process.key, "state": process.state, "version": process.version})
    else:
        out.print(f"started {process.key}: {process.title} (at {process.state})", highlight=False)


@process_app.command("list")
def process_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every process and where it stands."""
    from ibmflow.services.processes import list_processes

    rows = list_processes(state(ctx).context)
    if as_json:
        print_json([asdict(r) for r in rows])
        return
    table(
        "Processes",
        ["process", "title", "state", "workflow", "updated"],
        [[r.process, r.title, r.state, r.workflow, r.updated_at] for r in rows],
    )


@app.command()
def status(ctx: typer.Context, process: str, as_json: JsonFlag = False) -> None:
    """Where a process stands: its steps, dates and what blocks the current step."""
    from ibmflow.services.processes import status as read_status

    data = read_status(state(ctx).context, process)
    if as_json:
        print_json(asdict(data))
        return
    out.print(
        f"[bold]{data.process}[/] {data.title} — {data.workflow.id} "
        f"v{data.workflow.version}, version {data.version}",
        highlight=False,
    )
    zone = ZoneInfo(data.timezone)

    def local(stamp: str | None) -> str:
        if stamp is None:
            return ""
        return datetime.fromisoformat(stamp).astimezone(zone).strftime("%Y-%m-%d")

    marks = {"done": "done", "current": "NOW", "pending": ""}
    table(
        f"Steps (dates in {data.timezone}; targets in working days)",
        ["", "#", "step", "entered", "completed", "due", "target"],
        [
            [
                marks[s.status] + (" overdue" if s.overdue else ""),
                i,
                s.id,
                local(s.entered_at),
                local(s.completed_at),
                local(s.due_at),
                s.target_days,
            ]
            for i, s in enumerate(data.steps, start=1)
        ],
    )
    out.print(f"now at: [bold]{data.state_title}[/]", highlight=False)
    for blocker in data.blockers:
        out.print(f"  blocked: {blocker}", highlight=False, markup=False)


def _moved(
    ctx: typer.Context,
    process: str,
    name: str,
    *,
    expect: int | None,
    step: str | None = None,
    reason: str | None = None,
    as_json: bool = False,
) -> None:
    """Run move `name` of the table; the version to pin, when none is expected, is `fire`'s."""
    from ibmflow.services.processes import Moved

    moved = dispatch(ctx, name, process, expected_version=expect, step=step, reason=reason)
    assert isinstance(moved, Moved)
    if as_json:
        print_json(
            {
                "process": process,
                "trigger": moved.outcome.trigger,
                "from": moved.outcome.before,
                "to": moved.outcome.after,
                "version": moved.version,
            }
        )
    else:
        out.print(
            f"{process}: {moved.outcome.before} -> {moved.outcome.after} (version {moved.version})",
            highlight=False,
        )


@app.command()
def advance(
    ctx: typer.Context,
    process: str,
    expect_version: Expect = None,
    as_json: JsonFlag = False,
    as_: ActAs = None,
) -> None:
    """Complete the current step if its guards are met; otherwise list what blocks it (exit 1)."""
    _moved(ctx, process, "advance", expect=expect_version, as_json=as_json)


@app.command("return")
def return_(
    ctx: typer.Context,
    process: str,
    step: Annotated[str, typer.Argument(help="The earlier step to return to.")],
    reason: Reason,
    expect_version: Expect = None,
    as_json: JsonFlag = False,
    as_: ActAs = None,
) -> None:
    """Return the process to an earlier step."""
    _moved(ctx, process, "return", expect=expect_version, step=step, reason=reason, as_json=as_json)


@app.command()
def suspend(
    ctx: typer.Context,
    process: str,
    reason: Reason,
    expect_version: Expect = None,
    as_json: JsonFlag = False,
    as_: ActAs = None,
) -> None:
    """Suspend the process (it resumes at the same step)."""
    _moved(ctx, process, "suspend", expect=expect_version, reason=reason, as_json=as_json)


@app.command()
def resume(
    ctx: typer.Context,
    process: str,
    reason: Reason,
    expect_version: Expect = None,
    as_json: JsonFlag = False,
    as_: ActAs = None,
) -> None:
    """Resume a suspended process at the step it was suspended in."""
    _moved(ctx, process, "resume", expect=expect_version, reason=reason, as_json=as_json)


@app.command()
def graph(
    ctx: typer.Context,
    process: Annotated[
        str | None, typer.Argument(help="Highlight this process's current step.")
    ] = None,
    workflow: Annotated[str, typer.Option(help="Workflow id.")] = "ibm_strategy",
) -> None:
    """Print the workflow as a Mermaid state diagram."""
    from ibmflow.graph import mermaid
    from ibmflow.services.common import definition_for
    from ibmflow.storage import repository as repo

    context = state(ctx).context
    if process is None:
        if workflow not in context.workflows:
            err.print(f"no workflow {workflow!r}; known: {', '.join(context.workflows)}")
            raise typer.Exit(1)
        print(mermaid(context.workflows[workflow]), end="")
        return
    with context.db.reading() as session:
        row = repo.get_process(session, process)
        print(mermaid(definition_for(context, session, row), current=row.state), end="")
