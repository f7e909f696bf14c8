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
AS_HELP = (
    "Who acts, for the audit log: a person on the process's roster, a console account, or "
    "cli:NAME (default: cli.actor, else cli:$USER)."
)
_opened: list[Any] = []  # contexts built during a run, disposed when it ends


class State:
    """Options shared by every command, and the wiring built on first use."""

    def __init__(self, config: Path | None, actor: str | None) -> None:
        self.config = config
        self._given = actor  # `--as`, before or after the command's name
        self._process: str | None = None  # the process the command is about, if any
        self._checked: str | None = None
        self._context: Any = None

    @property
    def context(self) -> Any:
        if self._context is None:
            from ibmflow.bootstrap import bootstrap
            from ibmflow.config import load_settings

            self._context = bootstrap(load_settings(self.config))
            _opened.append(self._context)
        return self._context

    def about(self, process: object) -> None:
        """The process the command is about (its `process` argument), if it names one."""
        if isinstance(process, str):
            self._process = process

    def act_as(self, actor: str) -> None:
        """`--as` given after the command's name (the same as before it)."""
        if self._given is not None and self._given != actor:
            raise typer.BadParameter(
                f"given twice, as {self._given!r} and {actor!r}; give it once.",
                param_hint="'--as'",
            )
        self._given = actor

    @property
    def actor(self) -> str:
        """Who acts, for the audit log: checked to be known to ibmflow (exit 1 otherwise)."""
        return self.acting()

    def acting(self, *, appointing: str | None = None) -> str:
        """The actor, checked; `appointing` (the coordinator being appointed) is accepted too."""
        if self._checked is None:
            from ibmflow.services.actors import known_actor

            given = self._given
            self._checked = known_actor(
                self.context,
                str(self.context.settings.actor) if given is None else given,
                process=self._process,
                appointing=appointing,
                source="cli.actor (IBMFLOW_CLI_ACTOR, default cli:$USER)"
                if given is None
                else "--as",
            )
        return self._checked


@app.callback()
def _options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(help="Configuration file (default: ./config.toml).", envvar="IBMFLOW_CONFIG"),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option("--as", help=AS_HELP, show_default=False),
    ] = None,
) -> None:
    ctx.obj = State(config, actor)


def _act_as(ctx: typer.Context, value: str | None) -> None:
    if value is not None:
        state(ctx).act_as(value)


ActAs = Annotated[
    str | None,
    typer.Option("--as", help=AS_HELP, callback=_act_as, expose_value=False, show_default=False),
]
"""`--as` after the command's name: every command that acts declares `as_: ActAs = None`."""


def state(ctx: typer.Context) -> State:
    """The shared options of the running command (whose `process` argument, if any, is the
    roster the actor is looked up in)."""
    assert isinstance(ctx.obj, State)
    ctx.obj.about(ctx.params.get("process"))
    return ctx.obj


def print_json(data: Any) -> None:
    """Machine-readable output on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table on stdout: a Rich table on a terminal (long values folded, never cut); through a
    pipe or into a file, a plain layout with each row whole on one line."""
    cells = [[_cell(v) for v in row] for row in rows]
    if not out.is_terminal:
        _plain_table(title, columns, cells)
        return
    grid = Table(title=title, title_justify="left")
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in cells:
        grid.add_row(*row)
    out.print(grid)


def _cell(value: Any) -> str:
    """A value on one line, with no control character (a mail subject or a name from outside
    could carry a terminal escape sequence)."""
    if value is None:
        return ""
    return " ".join("".join(c if c.isprintable() else " " for c in str(value)).split())


def _plain_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Columns aligned and two spaces apart, no width limit (a pipe has none): `grep` and `cut`
    see one row per line."""
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    lines = [title]
    for row in [list(columns), *rows]:
        lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    out.file.write("\n".join(lines) + "\n")


def parse_moment(value: str | None, option: str = "--at") -> datetime | None:
    """An ISO 8601 date and time with a time zone; a usage error (exit 2) that shows the form
    expected otherwise (with the moment given, completed, when only its zone is missing)."""
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
        spec = "minutes" if not (moment.second or moment.microsecond) else "auto"
        local = moment.isoformat(timespec=spec)
        raise typer.BadParameter(
            f"{value!r} has no time zone, so it could be read in the wrong one; add it, e.g. "
            f"{local}+01:00 or {local}Z (UTC).",
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


def command() -> Any:
    """The whole command line as one Click command, every module's commands registered."""
    # Registers the commands, in the order `ibmflow --help` lists them.
    from ibmflow.cli import processes, facts, decisions, requests, mail, inbound  # noqa: F401, I001
    from ibmflow.cli import audit, web, chase, worker, reports, exports, users, demo  # noqa: F401

    root = typer.main.get_command(app)
    _flags_as_flags(root)
    return root


def _flags_as_flags(command: Any) -> None:
    """Show a flag as `--dry-run` in help, not `--dry-run <bool>` (Typer's help gives every
    option without a metavar its type, flags included; an empty metavar shows none)."""
    help_option = command.get_help_option(typer.Context(command))
    for param in [*command.params, *([help_option] if help_option else [])]:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _flags_as_flags(sub)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv`; return the exit code (errors are printed, not raised)."""
    try:
        command()(args=list(argv) if argv is not None else None, prog_name="ibmflow")
    except IbmflowError as exc:
        return _report(exc)
    except SystemExit as exc:  # Click ends every run with one, usage errors included
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        while _opened:
            _opened.pop().db.dispose()
    return 0


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
