"""Running `ibmflow` in-process for the command-line tests, and walking its commands."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ibmflow.cli import command, run

Cli = Callable[..., tuple[int, str, str]]


def on_database(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point `ibmflow` at the test's database and folders (`env`) and run it from `tmp_path`."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)


def invoker(capsys: pytest.CaptureFixture[str]) -> Cli:
    """`cli(*args, expect=0)` runs `ibmflow ARGS...`, checks the exit code unless `expect` is
    None, and returns (exit code, stdout, stderr)."""

    def invoke(*args: str, expect: int | None = 0) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run(list(args))
        captured = capsys.readouterr()
        if expect is not None:
            assert code == expect, (
                f"ibmflow {' '.join(args)} -> {code}\n{captured.out}\n{captured.err}"
            )
        return code, captured.out, captured.err

    return invoke


def leaf_commands() -> Iterator[tuple[str, Any]]:
    """Every command that runs something (not a group), as ("mail list", the Click command)."""

    def walk(prefix: str, group: Any) -> Iterator[tuple[str, Any]]:
        for name, sub in sorted(group.commands.items()):
            path = f"{prefix} {name}".strip()
            if getattr(sub, "commands", None) and not getattr(sub, "invoke_without_command", 0):
                yield from walk(path, sub)
            else:
                yield path, sub
                if getattr(sub, "commands", None):  # `ibmflow inbound` runs, and has commands
                    yield from walk(path, sub)

    return walk("", command())


def option_names(cmd: Any) -> set[str]:
    """The options a command accepts (`--json`, `--as`, ...)."""
    return {opt for param in cmd.params for opt in (*param.opts, *param.secondary_opts)}
