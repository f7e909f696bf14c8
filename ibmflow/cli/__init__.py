"""The `ibmflow` command line (Typer + Rich): tables for people, `--json` for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ibmflow.errors import (
    ConcurrencyConflict,
    DatabaseNotReady,
    IbmflowError,
    ProblemsError,
    TransitionRefused,
)

app = typer.Typer(
    name="ibmflow",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Drive the development of a national IBM strategy as a state machine.",
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

EXIT_REFUSED, EXIT_CONFLICT, EXIT_NOT_READY = 1, 3, 4
_opened: list[Any] = []  # contexts built during a run, disposed when it ends


class State:
    """Options shared by every command, and the wiring built on first use."""

    def __init__(self, config: Path | None, actor: str | None) -> None:
        self.config = config
        self._actor = actor
        self._context: Any = None

    @property
    def context(self) -> Any:
        if self._context is None:
            from ibmflow.bootstrap import bootstrap
            from ibmflow.config import load_settings

            self._context = bootstrap(load_settings(self.config))
            _opened.append(self._context)
        return self._context

    @property
    def actor(self) -> str:
        return self._actor or str(self.context.settings.actor)


@app.callback()
def _options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(help="Configuration file (default: ./config.toml).", envvar="IBMFLOW_CONFIG"),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--as", help="Who acts, for the audit log (default: cli.actor, else cli:$USER)."
        ),
    ] = None,
) -> None:
    ctx.obj = State(config, actor)


def state(ctx: typer.Context) -> State:
    """The shared options of the running command."""
    assert isinstance(ctx.obj, State)
    return ctx.obj


def print_json(data: Any) -> None:
    """Machine-readable output on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A Rich table on stdout."""
    grid = Table(title=title, title_justify="left")
    for column in columns:
        grid.add_column(column)
    for row in rows:
        grid.add_row(*["" if v is None else str(v) for v in row])
    out.print(grid)


def parse_moment(value: str | None, option: str = "--at") -> datetime | None:
    """An ISO 8601 date and time with a time zone; a usage error (exit 2) that shows the form
    expected otherwise."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 date and time; write e.g. 2026-01-20T09:00+01:00 "
            "or 2026-01-20T08:00Z.",
            param_hint=f"'{option}'",
        ) from None
    if moment.tzinfo is None:
        raise typer.BadParameter(
            f"{value!r} has no time zone, so it could be read in the wrong one; add it, e.g. "
            f"{value.strip()}+01:00 or {value.strip()}Z.",
            param_hint=f"'{option}'",
        )
    return moment


def _report(exc: IbmflowError) -> int:
    where = " ".join(
        f"{k}={v}"
        for k, v in (("process", exc.process), ("step", exc.step), ("trigger", exc.trigger))
        if v
    )
    if isinstance(exc, TransitionRefused):
        err.print(f"[bold red]refused:[/] {exc.message}", highlight=False, markup=True)
        for blocker in exc.blockers:
            err.print(f"  - {blocker}", highlight=False, markup=False)
        return EXIT_REFUSED
    if isinstance(exc, ProblemsError):
        err.print(exc.message, highlight=False, markup=False)
        return EXIT_REFUSED
    label = {ConcurrencyConflict: "conflict", DatabaseNotReady: "not ready"}.get(type(exc), "error")
    err.print(f"[bold red]{label}:[/] ", end="", markup=True)
    err.print(exc.message + (f" ({where})" if where else ""), highlight=False, markup=False)
    if isinstance(exc, ConcurrencyConflict):
        return EXIT_CONFLICT
    if isinstance(exc, DatabaseNotReady):
        return EXIT_NOT_READY
    return EXIT_REFUSED


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv`; return the exit code (errors are printed, not raised)."""
    from ibmflow.cli import processes, facts, requests, mail, inbound, audit, web, chase, worker  # noqa: F401, I001  (registers the commands, in this order)
    from ibmflow.cli import reports, users, demo  # noqa: F401  (reports and digest, accounts, the demo)

    try:
        app(args=list(argv) if argv is not None else None, prog_name="ibmflow")
    except IbmflowError as exc:
        return _report(exc)
    except SystemExit as exc:  # Typer ends every run with one, usage errors included
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        while _opened:
            _opened.pop().db.dispose()
    return 0


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
