"""Web console accounts: argon2 passwords, sessions with expiry, hashed API tokens, the persisted
login rate limit, the `ibmflow user` commands, and the audit events of every account change."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from clirun import on_database
from sqlmodel import select

from ibmflow.access import ADMINISTRATOR, COORDINATOR, MANAGER
from ibmflow.cli import run
from ibmflow.errors import InvalidCommand, LoginRefused, LoginThrottled, NotFound
from ibmflow.services import accounts, processes, sessions
from ibmflow.services.context import Context
from ibmflow.storage.account_tables import ApiTokenRow, UserAccountRow, WebSessionRow
from ibmflow.storage.tables import AuditEventRow
from ibmflow.testing import FixedClock

PASSWORD = "correct horse battery"
ADMIN = "admin@ibmflow.example"


@pytest.fixture
def two_processes(ctx: Context) -> tuple[str, str]:
    for key in ("MA-1", "TN-1"):
        processes.start_process(ctx, title=f"Strategy {key}", key=key, actor="chair@ma.example")
    return "MA-1", "TN-1"


def add(ctx: Context, email: str, role: str = COORDINATOR, *keys: str) -> None:
    accounts.add_user(
        ctx, email=email, name=email.split("@")[0], role=role, password=PASSWORD,
        processes=list(keys), actor=ADMIN,
    )  # fmt: skip


def account_events(ctx: Context) -> list[AuditEventRow]:
    with ctx.db.reading() as session:
        rows = list(
            session.exec(select(AuditEventRow).where(AuditEventRow.action.startswith("account.")))  # type: ignore[attr-defined]
        )
        session.expunge_all()
        return rows


def test_a_password_is_stored_as_an_argon2id_hash_and_never_in_the_audit_log(
    ctx: Context, two_processes: tuple[str, str]
) -> None:
    add(ctx, "Karim@Interior.example", COORDINATOR, "ma-1")
    accounts.set_password(ctx, "karim@interior.example", "another long password", actor=ADMIN)
    with ctx.db.reading() as session:
        row = session.exec(select(UserAccountRow)).one()
        session.expunge(row)
    assert row.email == "karim@interior.example"
    assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
    events = account_events(ctx)
    assert [e.action for e in events] == ["account.added", "account.password_changed"]
    assert json.loads(events[0].after_json or "{}")["processes"] == ["MA-1"]
    for event in events:
        text = f"{event.before_json} {event.after_json} {event.reason}"
        assert "argon2" not in text and PASSWORD not in text and "another long" not in text


def test_short_passwords_unknown_roles_and_processes_are_refused(
    ctx: Context, two_processes: tuple[str, str]
) -> None:
    with pytest.raises(InvalidCommand, match="at least 10 characters"):
        accounts.add_user(
            ctx, email="a@b.example", name="A", role=MANAGER, password="short", actor=ADMIN
        )
    with pytest.raises(InvalidCommand, match="unknown role 'boss'"):
        accounts.add_user(
            ctx, email="a@b.example", name="A", role="boss", password=PASSWORD, actor=ADMIN
        )
    with pytest.raises(NotFound, match="no process 'XX-9'"):
        add(ctx, "a@b.example", MANAGER, "XX-9")
    assert accounts.list_users(ctx) == []


def test_logging_in_opens_a_session_that_expires_and_ends_on_logout_or_new_password(
    ctx: Context, clock: FixedClock, two_processes: tuple[str, str]
) -> None:
    add(ctx, "manager@cabinet.example", MANAGER, "MA-1", "TN-1")
    account, token = sessions.log_in(ctx, "manager@cabinet.example", PASSWORD, client="10.0.0.1")
    assert account.role == MANAGER and account.processes == {"MA-1", "TN-1"}
    assert sessions.session_account(ctx, token) == account
    with ctx.db.reading() as session:
        stored = session.exec(select(WebSessionRow.token_hash)).one()
    assert stored == accounts.secret_hash(token) and token not in stored

    clock.advance(hours=ctx.settings.web_session_hours, seconds=1)
    assert sessions.session_account(ctx, token) is None, "an expired session still works"

    _, second = sessions.log_in(ctx, "manager@cabinet.example", PASSWORD, client="10.0.0.1")
    sessions.log_out(ctx, second)
    assert sessions.session_account(ctx, second) is None

    _, third = sessions.log_in(ctx, "manager@cabinet.example", PASSWORD, client="10.0.0.1")
    accounts.set_password(ctx, "manager@cabinet.example", "a brand new password", actor=ADMIN)
    assert sessions.session_account(ctx, third) is None, "a new password leaves old sessions"


def test_a_wrong_password_an_unknown_email_and_a_disabled_account_are_refused_alike(
    ctx: Context, two_processes: tuple[str, str]
) -> None:
    add(ctx, "karim@interior.example", COORDINATOR, "MA-1")
    _, token = sessions.log_in(ctx, "karim@interior.example", PASSWORD, client="c")
    messages = set()
    for email, password in (
        ("karim@interior.example", "wrong password!"),
        ("nobody@interior.example", PASSWORD),
    ):
        with pytest.raises(LoginRefused) as refused:
            sessions.log_in(ctx, email, password, client=email)
        messages.add(refused.value.message)
    accounts.set_disabled(ctx, "karim@interior.example", True, actor=ADMIN)
    assert sessions.session_account(ctx, token) is None, "disabling leaves the session open"
    with pytest.raises(LoginRefused) as refused:
        sessions.log_in(ctx, "karim@interior.example", PASSWORD, client="other")
    messages.add(refused.value.message)
    assert len(messages) == 1, "the refusal tells which of email, password or account was wrong"


def test_five_failures_pause_logins_for_the_account_until_the_window_has_passed(
    ctx: Context, clock: FixedClock, two_processes: tuple[str, str]
) -> None:
    add(ctx, "karim@interior.example", COORDINATOR, "MA-1")
    for n in range(5):
        clock.advance(minutes=1)
        with pytest.raises(LoginRefused) as refused:
            sessions.log_in(ctx, "karim@interior.example", f"guess {n:04}", client=f"10.0.0.{n}")
        assert not isinstance(refused.value, LoginThrottled)
    with pytest.raises(LoginThrottled) as throttled:  # even the right password is not checked
        sessions.log_in(ctx, "karim@interior.example", PASSWORD, client="10.9.9.9")
    # The first failure was 4 minutes ago: the window of 15 minutes lets go 11 minutes from now.
    assert throttled.value.retry_after_s == 11 * 60
    assert "paused for 11 minutes" in throttled.value.message
    clock.advance(minutes=10, seconds=59)
    with pytest.raises(LoginThrottled):
        sessions.log_in(ctx, "karim@interior.example", PASSWORD, client="10.9.9.9")
    clock.advance(seconds=2)
    account, _ = sessions.log_in(ctx, "karim@interior.example", PASSWORD, client="10.9.9.9")
    assert account.email == "karim@interior.example"


def test_five_failures_from_one_address_pause_logins_from_it_for_every_account(
    ctx: Context, two_processes: tuple[str, str]
) -> None:
    add(ctx, "karim@interior.example", COORDINATOR, "MA-1")
    for n in range(5):
        with pytest.raises(LoginRefused):
            sessions.log_in(ctx, f"guess{n}@interior.example", PASSWORD, client="203.0.113.7")
    with pytest.raises(LoginThrottled):
        sessions.log_in(ctx, "karim@interior.example", PASSWORD, client="203.0.113.7")
    account, _ = sessions.log_in(ctx, "karim@interior.example", PASSWORD, client="198.51.100.1")
    assert account.email == "karim@interior.example"


def test_api_tokens_are_stored_hashed_and_stop_working_when_revoked_or_disabled(
    ctx: Context, two_processes: tuple[str, str]
) -> None:
    add(ctx, "manager@cabinet.example", MANAGER, "TN-1")
    token = accounts.issue_token(ctx, "manager@cabinet.example", label="dashboard", actor=ADMIN)
    assert token.startswith(accounts.TOKEN_PREFIX)
    with ctx.db.reading() as session:
        assert session.exec(select(ApiTokenRow.token_hash)).one() == accounts.secret_hash(token)
    account = sessions.token_account(ctx, token)
    assert account is not None and account.processes == {"TN-1"}
    assert sessions.token_account(ctx, token + "x") is None
    accounts.set_disabled(ctx, "manager@cabinet.example", True, actor=ADMIN)
    assert sessions.token_account(ctx, token) is None
    accounts.set_disabled(ctx, "manager@cabinet.example", False, actor=ADMIN)
    assert accounts.revoke_tokens(ctx, "manager@cabinet.example", actor=ADMIN) == 1
    assert sessions.token_account(ctx, token) is None
    actions = [e.action for e in account_events(ctx)]
    assert actions == [
        "account.added",
        "account.token_issued",
        "account.disabled",
        "account.enabled",
        "account.tokens_revoked",
    ]


def test_an_administrator_sees_every_process_and_others_only_theirs(
    ctx: Context, two_processes: tuple[str, str]
) -> None:
    add(ctx, ADMIN, ADMINISTRATOR)
    add(ctx, "karim@interior.example", COORDINATOR, "MA-1")
    admin, _ = sessions.log_in(ctx, ADMIN, PASSWORD, client="c")
    karim, _ = sessions.log_in(ctx, "karim@interior.example", PASSWORD, client="c")
    assert admin.processes is None and admin.sees("TN-1") and admin.sees("ma-1")
    assert karim.sees("ma-1") and not karim.sees("TN-1")
    changed = accounts.set_processes(ctx, "karim@interior.example", ["tn-1"], actor=ADMIN)
    assert changed.processes == {"TN-1"}


def test_demo_accounts_log_in_with_the_passwords_returned_and_are_reset_when_run_again(
    ctx: Context, two_processes: tuple[str, str]
) -> None:
    first = accounts.ensure_demo_accounts(ctx, "MA-1")
    assert {role for _, _, role in first} == {"coordinator", "chair", "manager", "administrator"}
    for email, password, role in first:
        account, _ = sessions.log_in(ctx, email, password, client="demo")
        assert account.role == role and account.sees("MA-1")
    again = accounts.ensure_demo_accounts(ctx, "TN-1")
    for (email, old, _), (_, new, _) in zip(first, again, strict=True):
        assert old != new
        with pytest.raises(LoginRefused):
            sessions.log_in(ctx, email, old, client="demo")
        account, _ = sessions.log_in(ctx, email, new, client="demo")
        assert account.sees("MA-1") and account.sees("TN-1")


def test_demo_accounts_for_two_processes_get_one_password_each_that_works_on_both(
    ctx: Context, two_processes: tuple[str, str]
) -> None:
    """What the quick start prints (one call for both demo processes) is what logs in."""
    for email, password, _ in accounts.ensure_demo_accounts(ctx, "MA-1", "TN-1"):
        account, _ = sessions.log_in(ctx, email, password, client="demo")
        assert account.sees("MA-1") and account.sees("TN-1")


def test_running_the_demo_again_lifts_the_pause_of_failed_logins_on_its_accounts(
    ctx: Context, two_processes: tuple[str, str]
) -> None:
    """Someone who tried old passwords until paused can log in with the new ones at once."""
    email = accounts.ensure_demo_accounts(ctx, "MA-1")[0][0]
    for _ in range(ctx.settings.web_login_max_failures):
        with pytest.raises(LoginRefused):
            sessions.log_in(ctx, email, "not the password", client=f"c-{_}")
    with pytest.raises(LoginThrottled):
        sessions.log_in(ctx, email, "not the password", client="other")
    for email, password, _ in accounts.ensure_demo_accounts(ctx, "MA-1"):
        sessions.log_in(ctx, email, password, client="other")


# --- the command line ---------------------------------------------------------------------------

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    """`ibmflow ARGS...` in-process, `stdin` given as text; returns (code, stdout, stderr)."""
    on_database(env, tmp_path, monkeypatch)

    def invoke(*args: str, stdin: str = "", expect: int | None = 0) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = run(list(args))
        captured = capsys.readouterr()
        if expect is not None:
            assert code == expect, f"{args} -> {code}\n{captured.out}\n{captured.err}"
        return code, captured.out, captured.err

    return invoke


def test_the_user_commands_manage_accounts_with_passwords_from_stdin_only(
    ctx: Context, cli: Cli, two_processes: tuple[str, str]
) -> None:
    cli("user", "add", "karim@interior.example", "--name", "Karim Benali", "--role",
        "coordinator", "--process", "MA-1", "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    _, _, err = cli(
        "user", "add", "x@interior.example", "--name", "X", "--role", "chair",
        "--password", PASSWORD, expect=2,
    )  # fmt: skip
    assert "No such option: --password" in err
    _, _, err = cli("user", "add", "y@interior.example", "--name", "Y", "--role", "chair", expect=1)
    assert "--password-stdin" in err, "without a terminal the command says how to give it"
    _, listed, _ = cli("user", "list", "--json")
    (row,) = json.loads(listed)
    assert (row["email"], row["role"], row["processes"]) == (
        "karim@interior.example",
        "coordinator",
        ["MA-1"],
    )
    _, token, err = cli("user", "token", "karim@interior.example", "--label", "scripts")
    assert "shown once" in err
    assert sessions.token_account(ctx, token.strip()) is not None
    cli("user", "passwd", "karim@interior.example", "--password-stdin", stdin="new password 2026\n")
    sessions.log_in(ctx, "karim@interior.example", "new password 2026", client="cli")
    cli("user", "processes", "karim@interior.example", "--process", "TN-1")
    cli("user", "disable", "karim@interior.example")
    with pytest.raises(LoginRefused):
        sessions.log_in(ctx, "karim@interior.example", "new password 2026", client="cli")
    _, _, err = cli("user", "passwd", "nobody@x.example", "--password-stdin", stdin="x" * 12,
                    expect=1)  # fmt: skip
    assert "no account 'nobody@x.example'" in err
