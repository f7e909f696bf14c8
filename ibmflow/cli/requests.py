"""Commands on requests to focal points: send, list, withdraw, waive, reopen, remind, and
several at once (bulk)."""

from __future__ import annotations

from typing import Annotated

import typer

from ibmflow.cli import ActAs, app, out, print_json, state, table
from ibmflow.cli.dispatch import dispatch

request_app = typer.Typer(help="Requests to focal points (sent by mail).", no_args_is_help=True)
app.add_typer(request_app, name="request")

Reason = Annotated[str, typer.Option(help="Why (required; kept on the audit log).")]


@request_app.command("send")
def request_send(
    ctx: typer.Context,
    process: str,
    kind: Annotated[
        str,
        typer.Option(
            help="acknowledge_contact, self_assessment, "
            "activity_inventory, chapter_draft, consultation_comments."
        ),
    ],
    institution: Annotated[
        list[str] | None,
        typer.Option(
            help="Institution code; repeat for several (default: every institution in scope)."
        ),
    ] = None,
    scope: Annotated[str, typer.Option(help="permanent, involved or all.")] = "involved",
    due_days: Annotated[int, typer.Option(help="Working days to answer.")] = 10,
    instructions: Annotated[str, typer.Option(help="What is asked, in the mail.")] = "",
    as_json: Annotated[bool, typer.Option("--json")] = False,
    as_: ActAs = None,
) -> None:
    """Send a request to every institution (or focal point) in scope that has none yet."""
    ids = dispatch(
        ctx,
        "request.send",
        process,
        kind=kind,
        institutions=institution,
        scope=scope,
        due_days=due_days,
        instructions=instructions,
    )
    assert isinstance(ids, list)
    if as_json:
        print_json({"requests": ids})
    else:
        out.print(
            f"{len(ids)} request(s) sent: {', '.join(f'#{i}' for i in ids) or 'none new'}",
            highlight=False,
        )


@request_app.command("list")
def request_list(
    ctx: typer.Context, process: str, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Every request of a process with its status and answer."""
    from ibmflow.services.requests import list_requests

    rows = list_requests(state(ctx).context, process)
    if as_json:
        print_json([r.to_dict() for r in rows])
        return
    table(
        f"Requests of {process}",
        ["#", "step", "kind", "institution", "status", "due (UTC)", "answered via"],
        [
            [
                r.id,
                r.step,
                r.kind,
                r.institution,
                r.status + (" (overdue)" if r.overdue else ""),
                (r.due_at or "")[:16],
                r.answered_via,
            ]
            for r in rows
        ],
    )


def _close(ctx: typer.Context, process: str, request_id: int, status: str, reason: str) -> None:
    name = {"withdrawn": "request.withdraw", "waived": "request.waive"}[status]
    dispatch(ctx, name, process, object_id=request_id, reason=reason)
    out.print(f"request #{request_id} {status}", highlight=False)


@request_app.command("withdraw")
def request_withdraw(
    ctx: typer.Context, process: str, request_id: int, reason: Reason, as_: ActAs = None
) -> None:
    """Withdraw a pending request (its links stop working)."""
    _close(ctx, process, request_id, "withdrawn", reason)


@request_app.command("waive")
def request_waive(
    ctx: typer.Context, process: str, request_id: int, reason: Reason, as_: ActAs = None
) -> None:
    """Waive a pending request: it counts as done for the step's guards."""
    _close(ctx, process, request_id, "waived", reason)


@request_app.command("reopen")
def request_reopen(
    ctx: typer.Context,
    process: str,
    request_id: int,
    reason: Annotated[
        str, typer.Option(help="What must be corrected (required; quoted in the mail, audited).")
    ],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    as_: ActAs = None,
) -> None:
    """Reopen an answered request: the answer stays on the record, the focal point gets a new link."""
    from ibmflow.services.reopen import Reopened

    done = dispatch(ctx, "request.reopen", process, object_id=request_id, reason=reason)
    assert isinstance(done, Reopened)
    if as_json:
        print_json(done.to_dict())
        return
    kept = "kept" if done.due_kept else "new"
    out.print(
        f"request #{request_id} reopened; due {done.due_local} ({kept}); "
        f"new link mailed to {', '.join(done.to)}",
        highlight=False,
    )


@request_app.command("remind")
def request_remind(
    ctx: typer.Context,
    process: str,
    request_id: int,
    preview: Annotated[
        bool, typer.Option("--preview", help="Show the exact mail(s) without sending anything.")
    ] = False,
    reason: Annotated[str, typer.Option(help="Why (optional; kept on the audit log).")] = "",
    as_json: Annotated[bool, typer.Option("--json")] = False,
    as_: ActAs = None,
) -> None:
    """Remind a pending request now, outside the ladder (once a day; the ladder then skips the
    day): the same mail as the ladder's reminder, in each reader's language, threaded."""
    from ibmflow.services.remind import Reminded
    from ibmflow.services.remind import preview as preview_of

    s = state(ctx)
    if preview:
        done: object = preview_of(s.context, process, request_id, s.actor)
    else:
        done = dispatch(ctx, "request.remind", process, object_id=request_id, reason=reason)
    assert isinstance(done, Reminded)
    if as_json:
        print_json({**done.to_dict(), "sent": not preview})
        return
    for mail in done.mails:
        out.print(f"To: {', '.join(mail.to)} ({mail.language})", highlight=False)
        out.print(f"Subject: {mail.subject}", highlight=False)
        if preview:
            out.print("", mail.text, sep="\n", highlight=False, markup=False)
    if preview:
        out.print("(preview: nothing was sent)", highlight=False)
    else:
        out.print(f"request #{request_id} reminded", highlight=False)


@request_app.command("bulk")
def request_bulk(
    ctx: typer.Context,
    process: str,
    request_ids: Annotated[list[int], typer.Argument(help="The requests' numbers.")],
    action: Annotated[str, typer.Option(help="remind, extend or waive.")],
    reason: Reason,
    days: Annotated[int | None, typer.Option(help="Working days to extend by.")] = None,
    as_: ActAs = None,
) -> None:
    """Remind, extend or waive several requests with one reason: all of them, or none."""
    dispatch(
        ctx,
        "requests.bulk",
        process,
        request_ids=request_ids,
        action=action,
        reason=reason,
        days=days,
    )
    out.print(
        f"{action}: {', '.join(f'#{i}' for i in dict.fromkeys(request_ids))}", highlight=False
    )
