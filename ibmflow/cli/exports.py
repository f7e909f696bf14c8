"""`ibmflow export`: the tables people work with, as the console downloads them: the answers of a
kind of request and a process's list of requests, as CSV or XLSX."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ibmflow.cli import app, state
from ibmflow.cli.reports import _write
from ibmflow.services.answer_sheets import ANSWER_KINDS, answers_sheet, requests_sheet
from ibmflow.sheets import Sheet, sheet_csv, sheet_xlsx

export_app = typer.Typer(
    help="Tables to work with in a spreadsheet: answers, requests.", no_args_is_help=True
)
app.add_typer(export_app, name="export")


class SheetFormat(StrEnum):
    """The file formats of a table."""

    csv = "csv"
    xlsx = "xlsx"


FormatOption = Annotated[
    SheetFormat, typer.Option("--format", help="CSV (UTF-8, for any tool) or XLSX (Excel).")
]
Output = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file (default: standard output)."),
]


def _out(sheet: Sheet, fmt: SheetFormat, output: Path | None) -> None:
    _write(sheet_xlsx(sheet) if fmt == SheetFormat.xlsx else sheet_csv(sheet), output)


@export_app.command("answers")
def export_answers(
    ctx: typer.Context,
    process: Annotated[str, typer.Argument(help="The process key.")],
    kind: Annotated[str, typer.Argument(help=f"The kind of request: {', '.join(ANSWER_KINDS)}.")],
    fmt: FormatOption = SheetFormat.csv,
    output: Output = None,
) -> None:
    """The answers of one kind of request: one row per request, the answer's fields as columns."""
    _out(answers_sheet(state(ctx).context, process, kind), fmt, output)


@export_app.command("requests")
def export_requests(
    ctx: typer.Context,
    process: Annotated[str, typer.Argument(help="The process key.")],
    fmt: FormatOption = SheetFormat.csv,
    output: Output = None,
) -> None:
    """The process's requests: kind, institution, person, status, dates, working days overdue."""
    _out(requests_sheet(state(ctx).context, process), fmt, output)
