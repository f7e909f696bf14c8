"""`ibmflow export`: the console's tables from the command line, the same files."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from pathlib import Path

import deadline_scenario as sc
import openpyxl
import pytest
from clirun import on_database

from ibmflow.cli import run
from ibmflow.services.context import Context
from ibmflow.testing import FixedClock

Cli = Callable[..., tuple[int, bytes, str]]
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def cli(
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> Cli:
    """Run `ibmflow ARGS...` in-process; return (exit code, stdout bytes, stderr)."""
    on_database(env, tmp_path, monkeypatch)

    def invoke(*args: str, expect: int | None = 0) -> tuple[int, bytes, str]:
        capsysbinary.readouterr()
        code = run(list(args))
        captured = capsysbinary.readouterr()
        if expect is not None:
            assert code == expect, f"ibmflow {' '.join(args)} -> {code}\n{captured.err.decode()}"
        return code, captured.out, captured.err.decode()

    return invoke


@sqlite_only
def test_export_answers_as_xlsx_and_requests_as_csv(
    cli: Cli, ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    built = sc.build(ctx, clock, tmp_path)
    target = tmp_path / "scores.xlsx"
    cli("export", "answers", sc.KEY, "self_assessment", "--format", "xlsx", "-o", str(target))
    ws = openpyxl.load_workbook(target).active
    assert ws["A1"].value == "Request" and ws.freeze_panes == "A2"
    answered = {r[0].value: r for r in ws.iter_rows(min_row=2)}
    customs = answered[built.ids[sc.CUSTOMS, "S"]]
    assert customs[3].value == "answered" and customs[12].value == "answer"
    _, out, _ = cli("export", "requests", sc.KEY)
    rows = list(csv.reader(io.StringIO(out.decode("utf-8-sig"))))
    assert rows[0][0] == "Request" and rows[0][-1] == "Working days overdue"
    assert str(built.ids[sc.CUSTOMS, "C"]) in {r[0] for r in rows[1:]}


@sqlite_only
def test_export_of_a_kind_without_answers_is_refused(
    cli: Cli, ctx: Context, clock: FixedClock, tmp_path: Path
) -> None:
    sc.build(ctx, clock, tmp_path)
    code, _, err = cli("export", "answers", sc.KEY, "vote", expect=None)
    assert code != 0
    assert "There is no table of answers of 'vote'" in err


def test_without_openpyxl_every_command_runs_and_only_xlsx_says_what_to_install(
    tmp_path: Path,
) -> None:
    """An environment upgraded without reinstalling lacks openpyxl: the quick start still works
    (the CLI does not import it to start), and an XLSX export says what to run instead of a
    traceback."""
    import subprocess
    import sys

    hidden = (
        "import sys; sys.modules['openpyxl'] = None; "
        "from ibmflow.cli import main; sys.argv = ['ibmflow', *sys.argv[1:]]; main()"
    )

    def ibmflow(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", hidden, *args],
            cwd=Path(__file__).parents[1],  # the checkout, as the quick start runs
            capture_output=True,
            text=True,
            timeout=300,
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith("IBMFLOW_")},
                "IBMFLOW_PATHS_DATA_DIR": str(tmp_path / "var"),
            },
        )

    demo = ibmflow("demo", "--no-serve")
    assert demo.returncode == 0, demo.stderr
    assert "Demo logins" in demo.stdout
    csv_out = ibmflow("export", "requests", "DEMO-2")
    assert csv_out.returncode == 0, csv_out.stderr
    xlsx = ibmflow(
        "export", "requests", "DEMO-2", "--format", "xlsx", "-o", str(tmp_path / "r.xlsx")
    )
    assert xlsx.returncode == 1
    assert "openpyxl" in xlsx.stderr and "pip install" in xlsx.stderr
    assert "Traceback" not in xlsx.stderr
