"""The code stays as clean as it was written: ruff's lint and format, mypy --strict on ibmflow/, and
the layering of the README kept (`lint-imports`: the contracts under `[tool.importlinter]` in
pyproject.toml), and no module over 400 lines without a reason written at its top."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "ibmflow", "tests", "bench"],
        ["ruff", "format", "--check", "ibmflow", "tests", "bench"],
        ["mypy"],
        ["lint-imports", "--no-cache"],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict", "import-contracts"],
)
def test_tool_passes(command: list[str]) -> None:
    result = subprocess.run(
        [str(BIN / command[0]), *command[1:]], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr


LONG_LIMIT = 400


def long_modules_without_reason() -> list[str]:
    """The modules of ibmflow/ over LONG_LIMIT lines whose docstring has no line starting
    `Long because:` (Alembic's generated migrations are exempt)."""
    found = []
    for path in sorted((REPO / "ibmflow").rglob("*.py")):
        name = path.relative_to(REPO).as_posix()
        if name.startswith("ibmflow/storage/migrations/versions/"):
            continue
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines <= LONG_LIMIT:
            continue
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if not any(line.strip().startswith("Long because:") for line in docstring.splitlines()):
            found.append(f"{name} ({lines} lines)")
    return found


def test_no_module_over_400_lines_without_a_reason_at_its_top() -> None:
    """A module past ~400 lines is split into a package, or says why not at its top: a line
    `Long because: ...` in its module docstring."""
    found = long_modules_without_reason()
    assert not found, (
        "split these modules, or give the reason in their docstring "
        f"(a line starting `Long because:`): {found}"
    )
