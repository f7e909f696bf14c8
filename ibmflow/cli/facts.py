"""Commands that record the facts the guards need: roster, people, answers, documents, decisions..."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from ibmflow.cli import ActAs, app, out, print_json, state, table
from ibmflow.errors import InvalidCommand

roster_app = typer.Typer(help="Import the roster of institutions and people.", no_args_is_help=True)
person_app = typer.Typer(help="Add people and their roles.", no_args_is_help=True)
taskforce_app = typer.Typer(help="The implementing body's task forces.", no_args_is_help=True)
chapter_app = typer.Typer(help="Strategy chapters, their leads and drafts.", no_args_is_help=True)
decision_app = typer.Typer(help="IAWG decisions (motions).", no_args_is_help=True)
consultation_app = typer.Typer(help="The consultation round.", no_args_is_help=True)
for sub, name in (
    (roster_app, "roster"),
    (person_app, "person"),
    (taskforce_app, "taskforce"),
    (chapter_app, "chapter"),
    (decision_app, "decision"),
    (consultation_app, "consultation"),
):
    app.add_typer(sub, name=name)

Day = Annotated[str | None, typer.Option(help="Date, YYYY-MM-DD (default: today).")]


def _day(value: str | None, what: str) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidCommand(f"{what} {value!r} is not a date; write it as YYYY-MM-DD.") from None


@roster_app.command("import")
def roster_import(ctx: typer.Context, process: str, file: Path, as_: ActAs = None) -> None:
    """Import institutions, people and roles from a TOML or CSV roster (all or nothing)."""
    from ibmflow.services.roster import import_roster

    s = state(ctx)
    counts = import_roster(s.context, process, file, actor=s.actor)
    out.print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items()), highlight=False)


@roster_app.command("show")
def roster_show(
    ctx: typer.Context, process: str, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """The process's institutions and who holds which role."""
    from ibmflow.services.people import roster_of

    data = roster_of(state(ctx).context, process)
    if as_json:
        print_json(data)
        return
    table(
        "Institutions",
        ["code", "name", "category", "focal points", "IAWG member"],
        [
            [i["code"], i["name"], i["category"], ", ".join(i["focal_points"]), i["iawg_member"]]
            for i in data["institutions"]
        ],
    )
    table(
        "People",
        ["name", "email", "institution", "roles"],
        [[p["name"], p["email"], p["institution"], ", ".join(p["roles"])] for p in data["people"]],
    )


@person_app.command("add")
def person_add(
    ctx: typer.Context,
    process: str,
    name: Annotated[str, typer.Option()],
    email: Annotated[str, typer.Option()],
    role: Annotated[
        list[str],
        typer.Option(help="focal_point, iawg_member, chair, manager; repeat for several."),
    ],
    institution: Annotated[str | None, typer.Option(help="Institution code.")] = None,
    deputy_for: Annotated[
        str | None, typer.Option(help="Email of the focal point deputised.")
    ] = None,
    as_: ActAs = None,
) -> None:
    """Add a person with their roles (checked like a roster row)."""
    from ibmflow.services.roster import add_person

    s = state(ctx)
    add_person(
        s.context,
        process,
        name=name,
        email=email,
        institution=institution,
        roles=role,
        deputy_for=deputy_for,
        actor=s.actor,
    )
    out.print(f"{email}: {', '.join(role)}", highlight=False)


@app.command()
def appoint(
    ctx: typer.Context,
    process: str,
    name: Annotated[str, typer.Option()],
    email: Annotated[str, typer.Option()],
    authority: Annotated[str, typer.Option(help="The appointing authority.")],
    reference: Annotated[str, typer.Option(help="The decision's reference.")],
    on: Day = None,
    as_: ActAs = None,
) -> None:
    """Record the national coordinator's appointment."""
    from ibmflow.services.records import appoint_coordinator

    s = state(ctx)
    appoint_coordinator(
        s.context,
        process,
        name=name,
        email=email,
        authority=authority,
        reference=reference,
        appointed_on=_day(on, "--on"),
        actor=s.acting(appointing=email),
    )
    out.print(f"{name} <{email}> appointed national coordinator ({reference})", highlight=False)


@app.command()
def ack(
    ctx: typer.Context,
    process: str,
    email: Annotated[str, typer.Option(help="The focal point acknowledging.")],
    as_: ActAs = None,
) -> None:
    """Record that a focal point acknowledged the contact request."""
    from ibmflow.services.records import record_answer

    s = state(ctx)
    record_answer(s.context, process, kind="acknowledge_contact", email=email, actor=s.actor)
    out.print(f"{email} acknowledged the contact request", highlight=False)


@app.command()
def answer(
    ctx: typer.Context,
    process: str,
    kind: Annotated[
        str,
        typer.Option(
            help="self_assessment, activity_inventory, chapter_draft, "
            "consultation_comments, acknowledge_contact."
        ),
    ],
    institution: Annotated[str | None, typer.Option(help="Institution code.")] = None,
    email: Annotated[str | None, typer.Option(help="The focal point answering.")] = None,
    text: Annotated[str | None, typer.Option(help="The answer's text.")] = None,
    field: Annotated[list[str] | None, typer.Option(help="A structured field, name=value.")] = None,
    file: Annotated[list[Path] | None, typer.Option(help="A file attached to the answer.")] = None,
    as_: ActAs = None,
) -> None:
    """Record an institution's answer to a request received outside ibmflow."""
    from ibmflow.services.records import record_answer

    fields = {}
    for item in field or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InvalidCommand(f"--field {item!r} is not name=value.")
        fields[name.strip()] = value
    s = state(ctx)
    request_id = record_answer(
        s.context,
        process,
        kind=kind,
        institution=institution,
        email=email,
        text=text,
        fields=fields,
        files=file,
        actor=s.actor,
    )
    out.print(f"answer recorded on request #{request_id}", highlight=False)


@app.command()
def attach(
    ctx: typer.Context,
    process: str,
    file: Path,
    kind: Annotated[
        str,
        typer.Option(
            help="terms_of_reference, objectives, "
            "consolidated_report, assembled_draft, "
            "final_document, ..."
        ),
    ],
    as_: ActAs = None,
) -> None:
    """Attach a document to the current step."""
    from ibmflow.services.records import attach_document

    s = state(ctx)
    doc_id = attach_document(s.context, process, file, kind=kind, actor=s.actor)
    out.print(f"document #{doc_id} attached ({kind})", highlight=False)


@taskforce_app.command("add")
def taskforce_add(
    ctx: typer.Context,
    process: str,
    name: str,
    lead: Annotated[str | None, typer.Option()] = None,
    as_: ActAs = None,
) -> None:
    """Name a task force of the implementing body."""
    from ibmflow.services.records import add_task_force

    s = state(ctx)
    add_task_force(s.context, process, name=name, lead=lead, actor=s.actor)
    out.print(f"task force {name!r} named", highlight=False)


@chapter_app.command("add")
def chapter_add(
    ctx: typer.Context,
    process: str,
    title: str,
    lead: Annotated[str | None, typer.Option(help="Task force or institution.")] = None,
    as_: ActAs = None,
) -> None:
    """Define a strategy chapter and its lead."""
    from ibmflow.services.records import add_chapter

    s = state(ctx)
    add_chapter(s.context, process, title=title, lead=lead, actor=s.actor)
    out.print(f"chapter {title!r} defined", highlight=False)


@chapter_app.command("lead")
def chapter_lead(
    ctx: typer.Context,
    process: str,
    title: str,
    lead: Annotated[str, typer.Option(help="Task force or institution.")],
    as_: ActAs = None,
) -> None:
    """Give a chapter its lead, or change it."""
    from ibmflow.services.records import set_chapter_lead

    s = state(ctx)
    set_chapter_lead(s.context, process, title=title, lead=lead, actor=s.actor)
    out.print(f"chapter {title!r} led by {lead}", highlight=False)


@chapter_app.command("submit")
def chapter_submit(
    ctx: typer.Context, process: str, title: str, file: Path, as_: ActAs = None
) -> None:
    """Submit a chapter's draft."""
    from ibmflow.services.records import submit_chapter

    s = state(ctx)
    submit_chapter(s.context, process, title=title, path=file, actor=s.actor)
    out.print(f"draft of {title!r} submitted", highlight=False)


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
    from ibmflow.services.decisions import open_decision

    s = state(ctx)
    decision_id = open_decision(
        s.context, process, subject=subject, title=title, document_id=document, actor=s.actor
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
        print_json(rows)
        return
    for row in rows:
        out.print(
            f"#{row['id']} {row['title']} [{row['subject']}]: {row['outcome']}", highlight=False
        )
        for line in row["votes"]:  # type: ignore[attr-defined]
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
    from ibmflow.services.decisions import nominate as record

    s = state(ctx)
    nomination = record(
        s.context,
        process,
        member=member,
        representative=representative,
        decision_id=decision,
        valid_from=_day(from_, "--from") if from_ else None,
        valid_until=_day(until, "--until") if until else None,
        actor=s.actor,
    )
    out.print(f"nomination #{nomination}: {representative} represents {member}", highlight=False)


@consultation_app.command("close")
def consultation_close(
    ctx: typer.Context, process: str, reason: Annotated[str, typer.Option()], as_: ActAs = None
) -> None:
    """Close the consultation round after its deadline, recording the non-respondents."""
    from ibmflow.services.records import close_consultation

    s = state(ctx)
    missing = close_consultation(s.context, process, reason=reason, actor=s.actor)
    out.print(
        f"consultation closed; non-respondents: {', '.join(missing) or 'none'}", highlight=False
    )


@app.command()
def adopt(
    ctx: typer.Context,
    process: str,
    authority: Annotated[str, typer.Option(help="The adopting authority.")],
    reference: Annotated[str, typer.Option(help="The adoption decision's reference.")],
    on: Day = None,
    as_: ActAs = None,
) -> None:
    """Record the strategy's adoption at the highest level."""
    from ibmflow.services.records import record_adoption

    s = state(ctx)
    record_adoption(
        s.context,
        process,
        authority=authority,
        reference=reference,
        adopted_on=_day(on, "--on"),
        actor=s.actor,
    )
    out.print(f"adoption recorded: {authority}, {reference}", highlight=False)
