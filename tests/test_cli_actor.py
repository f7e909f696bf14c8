"""Who acts from the command line: `--as` before or after the command's name, checked to be a
person or account known to ibmflow (or `cli:NAME`) before anything reaches the audit chain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clirun import Cli, invoker, leaf_commands, on_database, option_names
from scenarios import at_stakeholder_identification

from ibmflow.demo import COORDINATOR
from ibmflow.services.context import Context

KEY = "CLI-ACT"
FOCAL = "focal@customs.example"  # on the demo roster
# The commands that change nothing, or act as ibmflow itself (the chaser, the dispatcher, ...).
NOT_ACTING = {
    *("audit log", "audit verify", "decision list", "mail list", "mail preview", "mail received"),
    *("mail show", "process list", "quarantine list", "report deadlines", "request list"),
    *("roster show", "status", "user list", "validate", "graph", "report gantt", "report ical"),
    *("chase", "demo", "inbound", "inbound poll", "init", "mail dispatch", "serve", "worker"),
    *("export answers", "export requests"),
}


@pytest.fixture
def cli(
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    """`ibmflow ARGS...` on the test's database, acting as nobody in particular (`cli:$USER`)."""
    on_database(env, tmp_path, monkeypatch)
    monkeypatch.delenv("IBMFLOW_CLI_ACTOR")
    monkeypatch.setenv("USER", "amina")
    return invoker(capsys)


@pytest.fixture
def process(ctx: Context, tmp_path: Path) -> str:
    """A process at stakeholder identification with the demo roster."""
    return at_stakeholder_identification(ctx, KEY, tmp_path, starter=COORDINATOR)


def _actors(cli: Cli, key: str = KEY) -> list[str]:
    return [e["actor"] for e in json.loads(cli("audit", "log", key, "--json")[1])]


def _events(cli: Cli) -> int:
    return int(json.loads(cli("audit", "verify", "--json")[1])["checked"])


def test_as_is_accepted_after_the_command_as_well_as_before(cli: Cli, process: str) -> None:
    cli("suspend", KEY, "--reason", "waiting for the minister", "--as", COORDINATOR)
    assert _actors(cli)[-1] == COORDINATOR
    cli("--as", FOCAL, "resume", KEY, "--reason", "back")
    assert _actors(cli)[-1] == FOCAL
    cli("request", "send", KEY, "--kind", "acknowledge_contact", "--as", "cli:amina")
    assert _actors(cli)[-1] == "cli:amina"
    _, _, err = cli("--as", COORDINATOR, "suspend", KEY, "--reason", "r", "--as", FOCAL, expect=2)
    assert "given twice" in err
    assert _actors(cli)[-1] == "cli:amina", "nothing was written"


def test_every_command_that_acts_accepts_as_after_its_name() -> None:
    """A new command either takes `--as` (it acts) or is listed here as acting on nothing."""
    missing = [
        path
        for path, cmd in leaf_commands()
        if path not in NOT_ACTING and "--as" not in option_names(cmd)
    ]
    assert missing == []


def test_the_default_actor_is_cli_user(cli: Cli, process: str) -> None:
    cli("suspend", KEY, "--reason", "holiday")
    assert _actors(cli)[-1] == "cli:amina"


@pytest.mark.parametrize(
    "actor",
    ["bogus", "nobody@nowhere.example", "cli:", "cli:two words", "cli:a\nX-Forged: 1", ""],
)
def test_an_unknown_actor_is_refused_before_anything_is_written(
    cli: Cli, process: str, actor: str
) -> None:
    before = _events(cli)
    _, _, err = cli("advance", KEY, "--as", actor, expect=1)
    assert "--as" in err and "cli:NAME" in err
    _, _, err = cli("person", "add", KEY, "--name", "X Y", "--email", "x@customs.example",
                    "--role", "focal_point", "--institution", "MOF_CUSTOMS", "--as", actor,
                    expect=1)  # fmt: skip
    assert "cli:NAME" in err, "the message says what is accepted"
    assert _events(cli) == before


def test_the_configured_actor_is_checked_the_same_way(
    cli: Cli, process: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _events(cli)
    monkeypatch.setenv("IBMFLOW_CLI_ACTOR", "Anybody At All")
    _, _, err = cli("suspend", KEY, "--reason", "r", expect=1)
    assert "'Anybody At All' is not known to ibmflow" in err and "IBMFLOW_CLI_ACTOR" in err
    monkeypatch.delenv("IBMFLOW_CLI_ACTOR")
    config = tmp_path / "actor.toml"
    config.write_text('[cli]\nactor = "root@localhost.example"\n', encoding="utf-8")
    _, _, err = cli("--config", str(config), "suspend", KEY, "--reason", "r", expect=1)
    assert "'root@localhost.example' is not known" in err
    assert _events(cli) == before
    config.write_text(f'[cli]\nactor = "{FOCAL.upper()}"\n', encoding="utf-8")
    cli("--config", str(config), "suspend", KEY, "--reason", "r")
    assert _actors(cli)[-1] == FOCAL, "the person's address as on the roster"


def test_a_person_acts_only_on_a_process_whose_roster_they_are_on(
    cli: Cli, ctx: Context, process: str, tmp_path: Path
) -> None:
    cli("process", "start", "--title", "Other strategy", "--key", "OTHER-1")
    _, _, err = cli("suspend", "OTHER-1", "--reason", "r", "--as", FOCAL, expect=1)
    assert "on the roster of OTHER-1" in err
    _, _, err = cli("suspend", "NOPE", "--reason", "r", "--as", FOCAL, expect=1)
    assert "no process 'NOPE'" in err


def test_a_fresh_database_is_started_by_cli_name_or_an_account_and_the_coordinator_appointed(
    cli: Cli, ctx: Context
) -> None:
    """No roster yet: `process start` takes cli:NAME or an account, not an unknown address; the
    coordinator being appointed may record their own appointment."""
    _, _, err = cli("process", "start", "--title", "T", "--key", "MA-1", "--as", COORDINATOR,
                    expect=1)  # fmt: skip
    assert "not known to ibmflow" in err
    cli("process", "start", "--title", "Morocco national IBM strategy", "--key", "MA-1")
    _, _, err = cli("appoint", "MA-1", "--name", "Karim Benali", "--email", "karim@x.example",
                    "--authority", "Head of Government", "--reference", "D-1", "--on",
                    "2026-01-05", "--as", COORDINATOR, expect=1)  # fmt: skip
    cli("appoint", "MA-1", "--name", "Karim Benali", "--email", COORDINATOR, "--authority",
        "Head of Government", "--reference", "D-1", "--on", "2026-01-05", "--as", COORDINATOR)  # fmt: skip
    cli("advance", "MA-1", "--as", COORDINATOR)
    actors = _actors(cli, "MA-1")
    assert actors[0] == "cli:amina" and actors[-1] == COORDINATOR


def test_a_console_account_may_act_and_a_disabled_one_may_not(
    cli: Cli, process: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough password 2026\n"))
    cli("user", "add", "admin@ibmflow.example", "--name", "Admin", "--role", "administrator",
        "--password-stdin")  # fmt: skip
    cli("suspend", KEY, "--reason", "r", "--as", "admin@ibmflow.example")
    assert _actors(cli)[-1] == "admin@ibmflow.example"
    cli("user", "disable", "admin@ibmflow.example", "--as", "cli:amina")
    _, _, err = cli("resume", KEY, "--reason", "r", "--as", "admin@ibmflow.example", expect=1)
    assert "disabled" in err


def test_no_flag_shows_a_type_in_help(cli: Cli) -> None:
    """`--dry-run`, not `--dry-run <bool>`: in every command's help."""
    for path, _ in [("", None), *leaf_commands()]:
        _, out, _ = cli(*path.split(), "--help")
        assert "<bool>" not in out, f"ibmflow {path} --help:\n{out}"
    _, out, _ = cli("chase", "--help")
    assert "--dry-run" in out
