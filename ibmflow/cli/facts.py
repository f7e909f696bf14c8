"""Commands that record the facts the guards need: roster, people, answers, documents, chapters..."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from ibmflow.cli import ActAs, app, out, print_json, state, table
from ibmflow.cli.dispatch import dispatch
from ibmflow.errors import InvalidCommand

roster_app = typer.Typer(help="Import the roster of institutions and people.", no_args_is_help=True)
person_app = typer.Typer(help="Add people and their roles.", no_args_is_help=True)
taskforce_app = typer.Typer(help="The implementing body's task forces.", no_args_is_help=True)
chapter_app = typer.Typer(help="Strategy chapters, their leads and drafts.", no_args_is_help=True)
consultation_app = typer.Typer(help="The consultation round.", no_args_is_help=True)
for sub, name in (
    (roster_app, "roster"),
    (person_app, "person"),
    (taskforce_app, "taskforce"),
    (chapter_app, "chapter"),
    (consultation_app, "consultation"),
):
    app.add_typer(sub, name=name)

Day = Annotated[str | None, typer.Option(help="Date, YYYY-MM-DD (default: today).")]


def parse_day(value: str | None, what: str) -> date:
    """A YYYY-MM-DD date given to option `what` (today when not given)."""
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
    out.print(
        ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.to_dict().items()),
        highlight=False,
    )


@roster_app.command("show")
def roster_show(
    ctx: typer.Context, process: str, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """The process's institutions and who holds which role."""
    from ibmflow.services.people import roster_of

    data = roster_of(state(ctx).context, process)
    if as_json:
        print_json(data.to_dict())
        return
    table(
        "Institutions",
        ["code", "name", "category", "focal points", "IAWG member"],
        [
            [i.code, i.name, i.category, ", ".join(i.focal_points), i.iawg_member]
            for i in data.institutions
        ],
    )
    table(
        "People",
        ["name", "email", "institution", "roles"],
        [[p.name, p.email, p.institution, ", ".join(p.roles)] for p in data.people],
    )


@person_app.command("add")
def person_add(
    ctx: typer.Context,
    process: str,
    name: Annotated[str, typer.Option()],
    email: Annotated[str, typer.Option()],
    role: Annotated[
        list[str] | None,
        typer.Option(
            help="focal_point, iawg_member, chair, manager; repeat for several (none for a "
            "deputy given --deputy-for)."
        ),
    ] = None,
    institution: Annotated[str | None, typer.Option(help="Institution code.")] = None,
    deputy_for: Annotated[
        str | None, typer.Option(help="Email of the focal point deputised.")
    ] = None,
    as_: ActAs = None,
) -> None:
    """Add a person with their roles (checked like a roster row)."""
    from ibmflow.roster_files import in_one_person_words

    in_one_person_words(dispatch, "person add")(
        ctx,
        "person.add",
        process,
        name=name,
        email=email,
        institution=institution,
        roles=role or [],
        deputy_for=deputy_for,
    )
    roles = [*(role or []), *(["deputy"] if deputy_for else [])]
    out.print(f"{email}: {', '.join(roles)}", highlight=False)


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
    dispatch(
        ctx,
        "appoint",
        process,
        name=name,
        email=email,
        authority=authority,
        reference=reference,
        appointed_on=parse_day(on, "--on"),
        actor=state(ctx).acting(appointing=email),
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
    from ibmflow.services.documents import Upload
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
        files=[Upload.read(path) for path in file or []],
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
    from ibmflow.services.documents import Upload

    doc_id = dispatch(ctx, "document.attach", process, upload=Upload.read(file), kind=kind)
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
    dispatch(ctx, "taskforce.add", process, name=name, lead=lead)
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
    dispatch(ctx, "chapter.add", process, title=title, lead=lead)
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
    dispatch(ctx, "chapter.lead", process, title=title, lead=lead)
    out.print(f"chapter {title!r} led by {lead}", highlight=False)


@chapter_app.command("submit")
def chapter_submit(
    ctx: typer.Context, process: str, title: str, file: Path, as_: ActAs = None
) -> None:
    """Submit a chapter's draft."""
    from ibmflow.services.documents import Upload

    dispatch(ctx, "chapter.submit", process, title=title, upload=Upload.read(file))
    out.print(f"draft of {title!r} submitted", highlight=False)


@consultation_app.command("close")
def consultation_close(
    ctx: typer.Context, process: str, reason: Annotated[str, typer.Option()], as_: ActAs = None
) -> None:
    """Close the consultation round after its deadline, recording the non-respondents."""
    missing = dispatch(ctx, "consultation.close", process, reason=reason)
    assert isinstance(missing, list)
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
    dispatch(
        ctx,
        "adopt",
        process,
        authority=authority,
        reference=reference,
        adopted_on=parse_day(on, "--on"),
    )
    out.print(f"adoption recorded: {authority}, {reference}", highlight=False)
