"""`ibmflow mail ...` on the local mailbox (no SMTP configured): preview, list, dispatch, show."""

from __future__ import annotations

import email
import json
from email import policy
from pathlib import Path

import pytest
from clirun import Cli, invoker, on_database
from scenarios import at_stakeholder_identification

import ibmflow.cli.mail  # noqa: F401  (registers `ibmflow mail` until cli.run imports it)
from ibmflow.demo import COORDINATOR
from ibmflow.mail.render import MESSAGE_KINDS
from ibmflow.services import requests
from ibmflow.services.context import Context

KEY = "CLI-MAIL"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def cli(
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    """Run `ibmflow ARGS...` in-process on the test's database; return (code, stdout, stderr)."""
    on_database(env, tmp_path, monkeypatch)
    monkeypatch.delenv("IBMFLOW_SMTP_HOST", raising=False)
    return invoker(capsys)


@pytest.fixture
def bare_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """Run `ibmflow ARGS...` for commands that need no database (`mail preview`)."""
    monkeypatch.setenv("IBMFLOW_PATHS_NOTIFICATIONS_DIR", str(REPO / "notifications"))
    monkeypatch.setenv("IBMFLOW_PATHS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return invoker(capsys)


@pytest.fixture
def requested(ctx: Context, tmp_path: Path) -> list[int]:
    """A process whose focal points were sent the acknowledgement request by the roster import;
    the ids of those to the Customs focal points."""
    at_stakeholder_identification(ctx, KEY, tmp_path, starter=COORDINATOR)
    return [
        r.id
        for r in requests.list_requests(ctx, KEY)
        if r.kind == "acknowledge_contact" and r.institution == "MOF_CUSTOMS"
    ]


@pytest.mark.parametrize("kind", MESSAGE_KINDS)
def test_preview_renders_every_kind_with_sample_data(bare_cli: Cli, kind: str) -> None:
    _, text, _ = bare_cli("mail", "preview", kind)
    assert text.startswith("Subject: [MA-IBM-2026] ")
    _, html, _ = bare_cli("mail", "preview", kind, "--html")
    assert "<!doctype html>" in html


def test_preview_of_an_unknown_kind_names_the_known_ones(bare_cli: Cli) -> None:
    _, _, err = bare_cli("mail", "preview", "newsletter", expect=1)
    assert "unknown message kind 'newsletter'" in err and "delivery_failure" in err


def test_list_dispatch_and_show_on_the_local_mailbox(
    cli: Cli, ctx: Context, requested: list[int]
) -> None:
    """Without SMTP, dispatch writes `<id>.eml` files; list shows the rows; show displays one, and
    `--raw` prints the captured message itself."""
    _, out, _ = cli("mail", "list", KEY, "--json")
    rows = [r for r in json.loads(out) if r["kind"] == "request" and "customs" in r["to"][0]]
    assert len(rows) == len(requested) == 2  # the Customs focal point and their deputy
    assert {r["status"] for r in rows} == {"pending"}
    assert {r["to"][0] for r in rows} == {"focal@customs.example", "deputy@customs.example"}

    _, out, _ = cli("mail", "dispatch", "--once")
    assert "sent" in out
    _, out, _ = cli("mail", "list", "--status", "sent", "--json")
    sent = {r["id"]: r for r in json.loads(out)}
    assert {r["id"] for r in rows} <= set(sent)
    assert json.loads(cli("mail", "list", "--status", "pending", "--json")[1]) == []

    first = rows[0]
    eml = ctx.settings.mailbox_dir / f"{first['id']}.eml"
    assert eml.is_file()
    assert not list(ctx.settings.mailbox_dir.glob(".tmp-*"))  # no half-written file left
    captured = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert captured["Message-ID"] == first["message_id"]
    assert captured["To"] == first["to"][0]

    _, out, _ = cli("mail", "show", str(first["id"]))
    assert f"Message-ID:  {first['message_id']}" in out
    assert f"Subject:     {first['subject']}" in out
    assert "Reply-To:    replies+" in out
    assert "/r/" in out and "Dear " in out

    _, raw, _ = cli("mail", "show", str(first["id"]), "--raw")
    assert raw.replace("\r\n", "\n") == eml.read_text("utf-8").replace("\r\n", "\n")

    _, table, _ = cli("mail", "list")
    assert "Outbox" in table and "sent" in table


def test_show_of_a_pending_mail_composes_it_and_unknown_ids_are_explained(
    cli: Cli, requested: list[int]
) -> None:
    _, out, _ = cli("mail", "list", "--json")
    first = json.loads(out)[0]
    _, raw, _ = cli("mail", "show", str(first["id"]), "--raw")
    assert f"Message-ID: {first['message_id']}" in raw
    assert "Auto-Submitted: auto-generated" in raw
    _, _, err = cli("mail", "show", "9999", expect=1)
    assert "no mail #9999" in err


def test_list_refuses_an_unknown_status_and_an_unknown_process(
    cli: Cli, requested: list[int]
) -> None:
    _, _, err = cli("mail", "list", "--status", "lost", expect=1)
    assert "pending, sent, failed" in err
    _, _, err = cli("mail", "list", "NOPE", expect=1)
    assert "NOPE" in err
