"""The one table of commands: every console action, API route and command-line command that acts on
a process runs through `services.commands` (a spy on `commands.run` sees each of them), with the
permission the table gives it; and a stale version is a conflict on every channel (409, exit 3)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from clirun import invoker, leaf_commands, on_database
from webconsole import EMAILS, MINE, Site, audit_count, logged_in, problem_of, refused_page

from ibmflow.access import COORDINATOR
from ibmflow.demo import VOTERS
from ibmflow.services import accounts, commands, processes
from ibmflow.services.commands import COMMANDS
from ibmflow.web.app import create_app

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
MEMBER = next(iter(VOTERS.values()))


@pytest.fixture
def dispatched(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the commands run through the table during the test."""
    names: list[str] = []
    real = commands.run

    def spy(ctx: Any, name: str, on: commands.On, args: commands.Args) -> object:
        names.append(name)
        return real(ctx, name, on, args)

    monkeypatch.setattr(commands, "run", spy)
    yield names


@sqlite_only
def test_the_console_and_the_api_offer_exactly_the_table_s_commands(site: Site) -> None:
    """Each console action (those that take a file too) and each API route that acts is a
    command of the table, declared with the table's permission; and no entry is left unrouted."""
    access = create_app(site.ctx).state.gate.access
    actions = {path for (method, path) in access if method == "POST" and path.startswith("/p/")}
    routes = {path for (method, path) in access if method == "POST" and path.startswith("/api/")}
    in_console = {c.path: c for c in COMMANDS.values() if c.path is not None}
    in_api = {f"/api/processes/{{key}}/{c.api}": c for c in COMMANDS.values() if c.api}
    assert actions == set(in_console)
    assert routes == set(in_api)
    for path, command in [*in_console.items(), *in_api.items()]:
        assert access[("POST", path)] == command.permission, path
    leaves = dict(leaf_commands())
    for command in COMMANDS.values():
        assert command.cli is None or command.cli in leaves, command.cli


@sqlite_only
def test_every_console_action_and_api_route_dispatches_through_the_table(
    site: Site, dispatched: list[str]
) -> None:
    client, csrf = logged_in(site, EMAILS[COORDINATOR])
    ids = {"rid": site.objects[MINE]["request"], "did": site.objects[MINE]["decision"]}
    ids["iid"] = site.objects[MINE]["inbound"]
    form = {
        "csrf_token": csrf,
        "version": str(processes.read_version(site.ctx, MINE)),
        "reason": "a test of the table",
        "kind": "self_assessment",
        "subject": "other",
        "choice": "approve",
        "institution": "MOF_CUSTOMS",
        "voter": MEMBER,
        "member": MEMBER,
        "representative": "focal@customs.example",
        "name": "Table Test",
        "email": "table.test@customs.example",
        "role": "focal_point",
        "title": "Border checks",
        "lead": "MOF_CUSTOMS",
        "appointed_on": "2026-01-05",
        "adopted_on": "2026-11-20",
        "days": "3",
        "request": str(ids["rid"]),
        "rid": str(ids["rid"]),
        "action": "remind",
        "confirm": "yes",  # the box the Return form asks to tick
    }
    expected = []
    for command in COMMANDS.values():
        if command.path is None:
            continue
        path = command.path.format(key=MINE, **ids)
        files = {"file": ("minutes.pdf", b"%PDF-1.4 minutes", "application/pdf")}
        answer = client.post(path, data=form, files=files if command.takes_files else None)
        assert answer.status_code in (303, 400, 409), f"{path}: {answer.status_code}"
        expected.append(command.name)
    token = accounts.issue_token(site.ctx, EMAILS[COORDINATOR], actor="test")
    api = httpx.Client(base_url=site.url, headers={"Authorization": f"Bearer {token}"})
    with api:
        for command in COMMANDS.values():
            if command.api is None:
                continue
            body = {
                "advance": {},
                "return": {"reason": "a test", "step": "coordinator_appointment"},
                "request.send": {"kind": "self_assessment"},
            }.get(command.name, {"reason": "a test"})
            answer = api.post(f"/api/processes/{MINE}/{command.api}", json=body)
            assert answer.status_code in (200, 201, 400, 409), answer.text
            expected.append(command.name)
    assert dispatched == expected


# One command line per command of the table it offers (refused or not: it runs through the table).
CLI_ARGS = {
    "advance": ["advance", MINE],
    "return": ["return", MINE, "coordinator_appointment", "--reason", "test"],
    "suspend": ["suspend", MINE, "--reason", "test"],
    "resume": ["resume", MINE, "--reason", "test"],
    "request.send": ["request", "send", MINE, "--kind", "self_assessment"],
    "request.waive": ["request", "waive", MINE, "REQUEST", "--reason", "test"],
    "request.withdraw": ["request", "withdraw", MINE, "REQUEST", "--reason", "test"],
    "request.reopen": ["request", "reopen", MINE, "REQUEST", "--reason", "test"],
    "decision.open": ["decision", "open", MINE, "--subject", "other"],
    "nominate": ["nominate", MINE, "--member", MEMBER, "--representative", "r@customs.example"],
    "appoint": [
        *("appoint", MINE, "--name", "N", "--email", "n@interior.example"),
        *("--authority", "Head of Government", "--reference", "Decree 1"),
    ],
    "person.add": [
        *("person", "add", MINE, "--name", "P", "--email", "p@customs.example"),
        *("--institution", "MOF_CUSTOMS", "--role", "focal_point"),
    ],
    "taskforce.add": ["taskforce", "add", MINE, "Situation analysis"],
    "chapter.add": ["chapter", "add", MINE, "Border checks"],
    "chapter.lead": ["chapter", "lead", MINE, "Border checks", "--lead", "MOF_CUSTOMS"],
    "consultation.close": ["consultation", "close", MINE, "--reason", "test"],
    "document.attach": ["attach", MINE, "FILE", "--kind", "objectives"],
    "chapter.submit": ["chapter", "submit", MINE, "Border checks", "FILE"],
    "adopt": ["adopt", MINE, "--authority", "Council", "--reference", "Decision 1"],
    "request.remind": ["request", "remind", MINE, "REQUEST"],
    "requests.bulk": [
        *("request", "bulk", MINE, "REQUEST", "--action", "extend"),
        *("--reason", "test", "--days", "2"),
    ],
}


@sqlite_only
def test_every_command_line_command_of_the_table_dispatches_through_it(
    site: Site,
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    dispatched: list[str],
) -> None:
    on_database(env, tmp_path, monkeypatch)
    cli = invoker(capsys)
    offered = {name for name, command in COMMANDS.items() if command.cli is not None}
    assert set(CLI_ARGS) == offered
    given = {"REQUEST": str(site.objects[MINE]["request"]), "FILE": str(tmp_path / "draft.pdf")}
    (tmp_path / "draft.pdf").write_bytes(b"%PDF-1.4 a draft")
    for name, argv in CLI_ARGS.items():
        assert " ".join(argv).startswith(f"{COMMANDS[name].cli} {MINE}")
        code, _, err = cli(*[given.get(a, a) for a in argv], "--as", "cli:test", expect=None)
        assert code in (0, 1, 3), f"{argv}: exit {code}\n{err}"
    assert dispatched == list(CLI_ARGS)


def test_a_stale_version_is_a_conflict_on_every_channel(
    site: Site,
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Whoever moved the process since you read it, the console sends back to the page saying so,
    the API answers 409 and the command line exits 3, and nothing is written."""
    seen = processes.read_version(site.ctx, MINE)
    processes.fire(site.ctx, MINE, "suspend", actor="setup", reason="Elections")
    processes.fire(site.ctx, MINE, "resume", actor="setup", reason="Over")
    token = accounts.issue_token(site.ctx, EMAILS[COORDINATOR], actor="test")
    written = audit_count(site.ctx)

    client, csrf = logged_in(site, EMAILS[COORDINATOR])
    form = {"csrf_token": csrf, "version": str(seen), "reason": "stale"}
    back = refused_page(client, client.post(f"/p/{MINE}/suspend", data=form))
    assert "Someone else changed process" in problem_of(back)

    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=site.url, headers=headers) as api:
        body = {"reason": "stale", "expected_version": seen}
        answer = api.post(f"/api/processes/{MINE}/suspend", json=body)
    assert answer.status_code == 409 and answer.json()["error"] == "conflict"

    on_database(env, tmp_path, monkeypatch)
    cli = invoker(capsys)
    _, _, err = cli(
        "suspend",
        MINE,
        "--reason",
        "stale",
        "--expect-version",
        str(seen),
        "--as",
        "cli:test",
        expect=3,
    )
    assert "changed since you read it" in err
    assert processes.read_version(site.ctx, MINE) == seen + 2
    assert audit_count(site.ctx) == written
