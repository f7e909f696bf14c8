"""Commands on web console accounts: `ibmflow user add|passwd|disable|enable|processes|list|token`.

A password is never an argument (it would land in the shell's history and in `ps`): it is asked
with a hidden prompt, or read from the first line of standard input with `--password-stdin`.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ibmflow.access import ROLES
from ibmflow.cli import ActAs, app, err, out, print_json, state, table
from ibmflow.errors import InvalidCommand

user_app = typer.Typer(
    help="Accounts of the web console and the API (coordinator, chair, manager, administrator).",
    no_args_is_help=True,
)
app.add_typer(user_app, name="user")

PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of standard input instead of asking.",
    ),
]
Processes = Annotated[
    list[str] | None,
    typer.Option("--process", help="A process the account may see; repeat for several."),
]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            raise InvalidCommand("--password-stdin: standard input had no password on its line.")
        return password
    if not sys.stdin.isatty():
        raise InvalidCommand(
            "no terminal to ask the password on; pipe it in with --password-stdin."
        )
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    email: str,
    name: Annotated[str, typer.Option(help="The person's name.")],
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")],
    process: Processes = None,
    language: Annotated[
        str | None,
        typer.Option(help="Language of its console and mails, e.g. fr (default: config)."),
    ] = None,
    password_stdin: PasswordStdin = False,
    as_: ActAs = None,
) -> None:
    """Create an account (an administrator sees every process; the others, those given)."""
    from ibmflow.services.accounts import add_user

    s = state(ctx)
    if role not in ROLES:
        raise InvalidCommand(f"unknown role {role!r}; one of {', '.join(ROLES)}.")
    account = add_user(
        s.context,
        email=email,
        name=name,
        role=role,
        password=_password(password_stdin),
        processes=process or [],
        language=language,
        actor=s.actor,
    )
    seen = "every process" if account.processes is None else ", ".join(sorted(account.processes))
    out.print(f"account {account.email} ({account.role}) added; sees {seen or 'no process yet'}")
    if account.processes == frozenset():
        err.print(f"give it processes with `ibmflow user processes {account.email} --process KEY`")


@user_app.command("passwd")
def user_passwd(
    ctx: typer.Context, email: str, password_stdin: PasswordStdin = False, as_: ActAs = None
) -> None:
    """Set a new password (the account's browsers are logged out)."""
    from ibmflow.services.accounts import set_password

    s = state(ctx)
    set_password(s.context, email, _password(password_stdin), actor=s.actor)
    out.print(f"password of {email} changed", highlight=False)


@user_app.command("disable")
def user_disable(ctx: typer.Context, email: str, as_: ActAs = None) -> None:
    """Disable an account: its sessions end and its API tokens stop working."""
    from ibmflow.services.accounts import set_disabled

    s = state(ctx)
    set_disabled(s.context, email, True, actor=s.actor)
    out.print(f"{email} disabled", highlight=False)


@user_app.command("enable")
def user_enable(ctx: typer.Context, email: str, as_: ActAs = None) -> None:
    """Enable a disabled account again."""
    from ibmflow.services.accounts import set_disabled

    s = state(ctx)
    set_disabled(s.context, email, False, actor=s.actor)
    out.print(f"{email} enabled", highlight=False)


@user_app.command("language")
def user_language(ctx: typer.Context, email: str, language: str, as_: ActAs = None) -> None:
    """Set the language of an account's console and mails (e.g. fr)."""
    from ibmflow.services.accounts import set_language

    s = state(ctx)
    changed = set_language(s.context, email, language, actor=s.actor)
    out.print(f"{email} reads {language}" + ("" if changed else " (unchanged)"), highlight=False)


@user_app.command("processes")
def user_processes(
    ctx: typer.Context, email: str, process: Processes = None, as_: ActAs = None
) -> None:
    """Set the processes an account may see (none given: none)."""
    from ibmflow.services.accounts import set_processes

    s = state(ctx)
    account = set_processes(s.context, email, process or [], actor=s.actor)
    out.print(
        f"{account.email} sees {', '.join(sorted(account.processes or [])) or 'no process'}",
        highlight=False,
    )


@user_app.command("list")
def user_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every account, its role and the processes it sees."""
    from ibmflow.services.accounts import list_users

    rows = list_users(state(ctx).context)
    if as_json:
        print_json([r.to_dict() for r in rows])
        return
    table(
        "Accounts",
        ["email", "name", "role", "processes", "language", "API tokens", "disabled"],
        [
            [
                *(r.email, r.name, r.role, r.processes_text, r.language or "default"),
                *(r.api_tokens, "yes" if r.disabled else ""),
            ]
            for r in rows
        ],
    )


@user_app.command("token")
def user_token(
    ctx: typer.Context,
    email: str,
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
    revoke_all: Annotated[
        bool, typer.Option("--revoke-all", help="Revoke the account's tokens instead.")
    ] = False,
    as_: ActAs = None,
) -> None:
    """Print a new API token for the account, once (only its hash is kept)."""
    from ibmflow.services.accounts import issue_token, revoke_tokens

    s = state(ctx)
    if revoke_all:
        count = revoke_tokens(s.context, email, actor=s.actor)
        out.print(f"{count} token(s) of {email} revoked", highlight=False)
        return
    token = issue_token(s.context, email, label=label, actor=s.actor)
    err.print("API token (shown once; send it as `Authorization: Bearer TOKEN`):", highlight=False)
    sys.stdout.write(token + "\n")
