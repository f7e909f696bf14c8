"""Tables as files people open in a spreadsheet (no I/O): CSV, UTF-8 with a byte-order mark so that
Excel reads accents right, and XLSX (openpyxl) with a styled, frozen header row, column widths and
dates as real dates. Text that a spreadsheet would run as a formula stays text: in CSV it gets a
leading quote, in XLSX it is written as a string cell."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from ibmflow.errors import ConfigError
from ibmflow.i18n import _

Cell = str | int | float | date | datetime | None
BOM = "\ufeff"
# A spreadsheet runs a cell that starts with one of these as a formula ("CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_WIDEST = 60  # characters: a longer text wraps rather than widening its column past this
_DATE_FORMAT, _MOMENT_FORMAT = "yyyy-mm-dd", "yyyy-mm-dd hh:mm"


@dataclass(frozen=True)
class Sheet:
    """A table: its name (the XLSX sheet's title), header and rows. Moments are naive, in the
    time zone the header names (a spreadsheet has no zones)."""

    name: str
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def safe_text(value: Cell) -> str:
    """A cell as CSV text: text that could start a formula gets a quote, a moment is ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return "'" + text if isinstance(value, str) and text.startswith(FORMULA_START) else text


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Iterator[str]:
    """The CSV text a line at a time (the first with the byte-order mark), for streaming."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(values: Sequence[Cell]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([safe_text(v) for v in values])
        return buffer.getvalue()

    yield BOM + line(header)
    for row in rows:
        yield line(row)


def sheet_csv(sheet: Sheet) -> str:
    """A whole table as CSV text (with the byte-order mark)."""
    return "".join(csv_lines(sheet.header, sheet.rows))


def sheet_xlsx(sheet: Sheet) -> bytes:
    """A table as an XLSX workbook of one sheet. openpyxl is imported here, not when the module
    is: an installation upgraded without reinstalling its dependencies still runs every other
    command, and this one says what to run."""
    try:
        from openpyxl import Workbook  # type: ignore[import-untyped]
        from openpyxl.styles import Font, PatternFill  # type: ignore[import-untyped]
        from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
    except ImportError:
        raise ConfigError(
            _(
                "Spreadsheets (XLSX) need the openpyxl package, which this installation lacks: "
                "run `pip install -e .` again in ibmflow's folder (or download the CSV instead)."
            )
        ) from None
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = _title(sheet.name)
    ws.append(list(sheet.header))
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDE5F0")
    for cell in ws[1]:
        cell.font, cell.fill = bold, fill
    widths = [len(h) for h in sheet.header]
    for row in sheet.rows:
        ws.append(list(row))
        for n, value in enumerate(row):
            cell = ws.cell(row=ws.max_row, column=n + 1)
            if isinstance(value, datetime):
                cell.number_format = _MOMENT_FORMAT
            elif isinstance(value, date):
                cell.number_format = _DATE_FORMAT
            elif isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"  # openpyxl takes "=..." for a formula: keep it text
            widths[n] = max(widths[n], len(safe_text(value)) if value is not None else 0)
    for n, width in enumerate(widths):
        ws.column_dimensions[get_column_letter(n + 1)].width = min(_WIDEST, max(8, width + 2))
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _title(name: str) -> str:
    """A sheet title Excel accepts: at most 31 characters, none of []:*?/\\."""
    cleaned = "".join(" " if c in "[]:*?/\\" else c for c in name).strip()
    return cleaned[:31] or "Sheet"
