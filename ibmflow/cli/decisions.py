"""Commands on IAWG decisions: open a motion, list the decisions, vote, nominate a representative."""

from __future__ import annotations

from typing import Annotated

import typer

from ibmflow.cli import ActAs, app, out, print_json, state
from ibmflow.cli.dispatch import dispatch
from ibmflow.cli.facts import parse_day

decision_app = typer.Typer(help="IAWG decisions (motions).", no_args_is_help=True)
app.add_typer(decision_app, name="decision")


@decision_app.command("open")
def decision_open(
    ctx: typer.Context,
    process: str,
    subject: Annotated[
        str,
        typer.Option(
            help="terms_of_reference, objectives, "
            "consolidated_report, "
            "submission_for_adoption, other."
        ),
    ],
    title: Annotated[str | None, typer.Option()] = None,
    document: Annotated[int | None, typer.Option(help="Document id.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    as_: ActAs = None,
) -> None:
    """Open a motion for the IAWG to decide unanimously."""
    decision_id = dispatch(
        ctx, "decision.open", process, subject=subject, title=title, document_id=document
    )
    if as_json:
        print_json({"decision": decision_id})
    else:
        out.print(f"decision #{decision_id} opened on {subject}", highlight=False)


@decision_app.command("list")
def decision_list(
    ctx: typer.Context, process: str, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """The decisions, their outcome and who voted for whom."""
    from ibmflow.services.decisions import list_decisions

    rows = list_decisions(state(ctx).context, process)
    if as_json:
        print_json([row.to_dict() for row in rows])
        return
    for row in rows:
        out.print(f"#{row.id} {row.title} [{row.subject}]: {row.outcome}", highlight=False)
        for line in row.votes:
            out.print(f"    {line}", highlight=False, markup=False)


@app.command()
def vote(
    ctx: typer.Context,
    process: str,
    decision: int,
    institution: Annotated[str, typer.Option(help="The permanent institution voting.")],
    voter: Annotated[str, typer.Option(help="Email of the member or representative.")],
    approve: Annotated[bool, typer.Option("--approve/--object")] = True,
    reason: Annotated[str | None, typer.Option(help="Required for an objection.")] = None,
    as_: ActAs = None,
) -> None:
    """Record a permanent institution's vote on an IAWG decision."""
    from ibmflow.services.decisions import vote as cast

    s = state(ctx)
    result = cast(
        s.context,
        process,
        decision,
        institution=institution,
        voter=voter,
        approve=approve,
        reason=reason,
        actor=s.actor,
    )
    out.print(
        f"{result.line}; decision #{decision} is {result.outcome}", highlight=False, markup=False
    )


@app.command()
def nominate(
    ctx: typer.Context,
    process: str,
    member: Annotated[str, typer.Option(help="Email of the IAWG member.")],
    representative: Annotated[str, typer.Option(help="Email of the representative.")],
    decision: Annotated[int | None, typer.Option(help="For this decision only.")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    as_: ActAs = None,
) -> None:
    """Record a representative nominated by an IAWG member."""
    nomination = dispatch(
        ctx,
        "nominate",
        process,
        member=member,
        representative=representative,
        decision_id=decision,
        valid_from=parse_day(from_, "--from") if from_ else None,
        valid_until=parse_day(until, "--until") if until else None,
    )
    out.print(f"nomination #{nomination}: {representative} represents {member}", highlight=False)
