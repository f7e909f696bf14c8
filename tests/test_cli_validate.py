"""Tests of `ibmflow validate` and `ibmflow graph`: run in-process, and once as the real console script."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ibmflow.cli import run
from ibmflow.definitions import load_definition

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = REPO / "workflows"
INVALID = REPO / "tests" / "workflows" / "invalid"
PROBLEM_LINE = re.compile(r"^(?P<file>[^:]+): (?P<where>[^:]+): (?P<what>\S.*)$")
IBM_STATES = tuple(s.id for s in load_definition(WORKFLOWS / "ibm_strategy.toml").states)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No `IBMFLOW_*` variable from the caller's shell, and an empty working folder; returns it."""
    for name in list(os.environ):
        if name.startswith("IBMFLOW_"):
            monkeypatch.delenv(name)
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


@pytest.fixture
def workflows_env(clean_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The repository's workflows folder, named by environment; the database a file never created."""
    monkeypatch.setenv("IBMFLOW_PATHS_WORKFLOWS_DIR", str(WORKFLOWS))
    monkeypatch.setenv("IBMFLOW_PATHS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IBMFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 'ibmflow.db'}")
    return clean_env


def test_validate_without_arguments_checks_the_configured_workflows_folder(
    workflows_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no files named, `validate` reads the workflows folder of the settings, whatever the cwd."""
    assert not list(workflows_env.iterdir())
    code = run(["validate"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.strip() == "1 definition(s) valid"


def test_validate_on_an_empty_workflows_folder_fails(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty workflows folder is an error, not "0 definition(s) valid"."""
    monkeypatch.setenv("IBMFLOW_PATHS_WORKFLOWS_DIR", str(clean_env))
    assert run(["validate"]) == 1
    assert "no *.toml definitions in" in capsys.readouterr().err


def test_validate_prints_every_problem_of_every_invalid_fixture(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each problem is one line `FILE: where: what`; every fixture appears; the exit code is 1."""
    fixtures = sorted(INVALID.glob("*.toml"))
    code = run(["validate", *map(str, fixtures)])
    captured = capsys.readouterr()
    assert code == 1
    lines = captured.out.splitlines()
    assert lines
    seen = set()
    for line in lines:
        match = PROBLEM_LINE.match(line)
        assert match, f"not FILE: where: what: {line!r}"
        seen.add(match["file"])
    assert seen == {str(p) for p in fixtures}
    assert f"problem(s) in {len(fixtures)} file(s)" in captured.err


def test_validate_a_valid_file_named_on_the_command_line(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file named as an argument is checked; a valid one prints the count and exits 0."""
    assert run(["validate", str(WORKFLOWS / "ibm_strategy.toml")]) == 0
    assert capsys.readouterr().out.strip() == "1 definition(s) valid"


def test_graph_prints_a_mermaid_state_diagram_of_the_ibm_workflow(
    workflows_env: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`graph` draws all ten states and the nine `complete` edges, without touching the database."""
    code = run(["graph"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "stateDiagram-v2" in captured.out
    for state in IBM_STATES:
        assert f'state "{state}" as {state}' in captured.out
    edges = re.findall(r"^\s*(\w+) --> (\w+): complete$", captured.out, flags=re.MULTILINE)
    assert edges == list(itertools.pairwise(IBM_STATES))
    assert not (tmp_path / "data" / "ibmflow.db").exists()


def test_graph_of_an_unknown_workflow_fails(
    workflows_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Asking for a workflow that is not defined names the ones that are."""
    assert run(["graph", "--workflow", "nope"]) == 1
    assert "ibm_strategy" in capsys.readouterr().err


@pytest.mark.slow
def test_console_script_validate_exits_1_with_the_problem(tmp_path: Path) -> None:
    """The installed `ibmflow` command reports an invalid file and exits 1."""
    script = Path(sys.executable).parent / "ibmflow"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IBMFLOW_")}
    result = subprocess.run(
        [str(script), "validate", "tests/workflows/invalid/unknown_guard.toml"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith(
        "tests/workflows/invalid/unknown_guard.toml: states[1] (drafting).guards[1].name: "
        "unknown guard 'objectives_attached'; known guards: "
    )
    assert "1 problem(s) in 1 file(s)" in result.stderr
