"""Commands on the audit log: verify the chain, show a process's history."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from ibmflow.cli import app, err, out, print_json, state, table

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


class _Bar:
    """A Rich progress bar told how far a verification got (`services.audit_log.Progress`)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def start(self, total: int, what: str) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(what, total=total)

    def advance(self, done: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, done)


@contextmanager
def _bar(shown: bool) -> Iterator[_Bar | None]:
    """A progress bar on the terminal (on stderr, gone when done); none when `shown` is false."""
    if not shown:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        yield _Bar(progress)


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Recompute the whole hash chain and keep the result (the console's audit page verifies on
    from it); exit 0 when intact, 2 naming the first bad event."""
    from ibmflow.services.audit_log import verify_chain

    # A bar only for someone watching: not through a pipe, not for --json.
    with _bar(not as_json and out.is_terminal and err.is_terminal) as bar:
        result = verify_chain(state(ctx).context, bar)
    if as_json:
        print_json(
            {
                "ok": result.ok,
                "checked": result.checked,
                "head_seq": result.head_seq,
                "head_hash": result.head_hash,
                "first_bad_seq": result.first_bad_seq,
                "problem": result.problem,
            }
        )
    elif result.ok:
        out.print(
            f"audit chain intact: {result.checked} events, head #{result.head_seq} "
            f"{result.head_hash}",
            highlight=False,
        )
    else:
        err.print(f"AUDIT CHAIN BROKEN: {result.problem}", highlight=False, markup=False)
    if not result.ok:
        raise typer.Exit(2)


@audit_app.command("log")
def audit_log(
    ctx: typer.Context, process: str, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """A process's history, oldest first."""
    from ibmflow.services.audit_log import process_log

    events = process_log(state(ctx).context, process)
    if as_json:
        print_json(events)
        return

    table(
        f"Audit log of {process} (details: --json)",
        ["#", "when (UTC)", "actor", "action", "entity", "reason"],
        [
            [
                e["seq"],
                str(e["at"])[:19].replace("T", " "),
                e["actor"] + (f" for {e['on_behalf_of']}" if e["on_behalf_of"] else ""),
                e["action"],
                e["entity"],
                e["reason"],
            ]
            for e in events
        ],
    )
