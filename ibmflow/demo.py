"""A guided run of a demo process through all nine steps, through the same use cases as the CLI.

The quick start runs it (`ibmflow demo`); the end-to-end tests and the step benchmark drive processes
with it too. Each stage first shows what blocks the step, then records the facts that clear it, then
advances.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path

from ibmflow.roster import parse_roster_text
from ibmflow.services import decisions, processes, records, roster
from ibmflow.services.context import Context
from ibmflow.services.documents import Upload

Say = Callable[[str], None]
Advance = Callable[[Context, str], processes.Moved]

VOTERS = {  # permanent institution -> IAWG member in the demo roster
    "CHAIR": "chair@interior.example",
    "MFA_VISA": "visa@mfa.example",
    "MOI_BORDER_GUARD": "member@borderguard.example",
    "MOF_CUSTOMS": "focal@customs.example",
    "MOA_VETERINARY": "focal@veterinary.example",
    "MOA_PHYTOSANITARY": "focal@phyto.example",
}
INVOLVED = [*VOTERS, "MOH"]
COORDINATOR = "coordinator@interior.example"


def demo_roster_text() -> str:
    """The demo's roster (people for every institution of the default roster)."""
    return (resources.files("ibmflow") / "defaults" / "demo_roster.toml").read_text("utf-8")


def _roster_file(ctx: Context, key: str) -> Path:
    """The demo's roster written where `roster import` reads it (a roster file keeps its path)."""
    folder = ctx.settings.data_dir / "demo" / key
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "roster.toml"
    path.write_text(demo_roster_text(), encoding="utf-8")
    return path


def _document(name: str, text: str) -> Upload:
    return Upload(name, "text/plain", text.encode("utf-8"))


def _attach(ctx: Context, key: str, kind: str, name: str, text: str) -> None:
    records.attach_document(ctx, key, _document(name, text), kind=kind, actor=COORDINATOR)


def _unanimous(
    ctx: Context, key: str, subject: str, actor: str, say: Say, representative: bool = False
) -> None:
    decision = decisions.open_decision(ctx, key, subject=subject, actor=actor)
    for code, member in VOTERS.items():
        voter = member
        if representative and code == "MOI_BORDER_GUARD":
            voter = "focal@borderguard.example"
            decisions.nominate(
                ctx, key, member=member, representative=voter, actor=member, decision_id=decision
            )
        result = decisions.vote(
            ctx, key, decision, institution=code, voter=voter, approve=True, actor=voter
        )
        say(f"    {result.line}")
    say(f"  decision #{decision} on {subject}: adopted unanimously")


def _default_advance(ctx: Context, key: str) -> processes.Moved:
    return processes.fire(ctx, key, "complete", actor=COORDINATOR)


def drive(
    ctx: Context,
    key: str,
    *,
    say: Say = lambda _: None,
    advance: Advance = _default_advance,
    title: str = "Demo national IBM strategy",
    until: int | None = None,
) -> None:
    """Start process `key` and take it from coordinator appointment to adoption, or stop when
    step number `until` is reached (the process then waits in that step)."""
    actor = COORDINATOR

    def stage(number: int, what: str) -> None:
        blockers = processes.status(ctx, key).blockers
        say(f"\n[{number}/9] {what}")
        for blocker in blockers:
            say(f"  blocked: {blocker}")

    def step_done() -> None:
        moved = advance(ctx, key)
        say(f"  -> advanced to {moved.outcome.after}")

    processes.start_process(ctx, title=title, key=key, actor="chair@interior.example")
    say(f"Started process {key}: {title}")
    stage(1, "Identification of a national coordinator")
    records.appoint_coordinator(
        ctx,
        key,
        name="Karim Benali",
        email=actor,
        authority="Head of Government",
        reference="Decree 2.26.101",
        appointed_on=date(2026, 1, 5),
        actor="chair@interior.example",
    )
    say("  coordinator appointed: Karim Benali (Decree 2.26.101)")
    step_done()

    stage(2, "Identification of and contact with key stakeholders")
    if until == 2:
        return
    roster_file = _roster_file(ctx, key)
    counts = roster.import_roster(ctx, key, roster_file, actor=actor)
    people = parse_roster_text(
        demo_roster_text(),
        fmt="toml",
        filename=roster_file.name,
        known_institutions={**dict.fromkeys(VOTERS, "permanent"), "MOH": "associated"},
    )
    say(f"  roster imported: {counts.people_added} people")
    for person in people.people:
        if "focal_point" in person.roles:
            records.record_answer(
                ctx, key, kind="acknowledge_contact", email=person.email, actor=person.email
            )
    say("  every focal point acknowledged the contact request")
    step_done()

    stage(3, "Establishment of the coordinating bodies")
    if until == 3:
        return
    records.add_task_force(
        ctx, key, name="Task force on the situation analysis", lead="MOI_BORDER_GUARD", actor=actor
    )
    _attach(ctx, key, "terms_of_reference", "tor.txt", "Terms of Reference of the IAWG")
    _unanimous(ctx, key, "terms_of_reference", actor, say, representative=True)
    step_done()

    stage(4, "Definition of the main objectives")
    if until == 4:
        return
    _attach(ctx, key, "objectives", "objectives.txt", "Main objectives")
    _unanimous(ctx, key, "objectives", actor, say)
    step_done()

    stage(5, "Analysis of the current situation")
    if until == 5:
        return
    for code in INVOLVED:
        for kind in ("self_assessment", "activity_inventory"):
            records.record_answer(
                ctx,
                key,
                kind=kind,
                institution=code,
                actor=actor,
                text=f"{kind.replace('_', ' ')} of {code}",
            )
    say(f"  {len(INVOLVED)} institutions answered the self-assessment and the inventory")
    _attach(ctx, key, "consolidated_report", "report.txt", "Consolidated report")
    _unanimous(ctx, key, "consolidated_report", actor, say)
    step_done()

    stage(6, "Drafting of individual strategy chapters")
    if until == 6:
        return
    for title_, lead in (
        ("Border checks and surveillance", "MOI_BORDER_GUARD"),
        ("Customs and trade facilitation", "MOF_CUSTOMS"),
    ):
        records.add_chapter(ctx, key, title=title_, lead=lead, actor=actor)
        records.submit_chapter(
            ctx,
            key,
            title=title_,
            actor=actor,
            upload=_document(f"{lead}.txt", f"Draft: {title_}"),
        )
    _attach(ctx, key, "assembled_draft", "draft.txt", "Assembled draft strategy")
    say("  two chapters drafted and the assembled draft attached")
    step_done()

    stage(7, "Circulation of the draft strategy paper")
    if until == 7:
        return
    for code in INVOLVED:
        records.record_answer(
            ctx,
            key,
            kind="consultation_comments",
            institution=code,
            actor=actor,
            text="No comments",
        )
    say("  every institution answered the consultation")
    step_done()

    stage(8, "Preparation of the final strategy document")
    if until == 8:
        return
    _attach(ctx, key, "final_document", "final.txt", "Final strategy")
    _unanimous(ctx, key, "submission_for_adoption", actor, say)
    step_done()

    stage(9, "Adoption of the strategy at the highest level")
    if until == 9:
        return
    records.record_adoption(
        ctx,
        key,
        authority="Council of Government",
        reference="Decision 12/2026",
        adopted_on=date(2026, 11, 20),
        actor=actor,
    )
    say("  adoption recorded: Council of Government, Decision 12/2026")
    step_done()


class _Walk:
    """A clock that starts in the past and moves on 20 minutes at each reading: a demo's history."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def now(self) -> datetime:
        self.at += timedelta(minutes=20)
        return self.at


ANSWERED_IN_PROGRESS = ("CHAIR", "MFA_VISA", "MOI_BORDER_GUARD")


def in_progress(ctx: Context, key: str, *, days_ago: int = 40, say: Say = lambda _: None) -> None:
    """A process started `days_ago` days back and now in the situation analysis, where three
    institutions answered and four did not: their requests are overdue, so the chaser, the console
    and the deadline report have something to show."""
    past = replace(ctx, clock=_Walk(ctx.clock.now() - timedelta(days=days_ago)))
    drive(past, key, say=say, title="Demo national IBM strategy, in progress", until=5)
    for code in ANSWERED_IN_PROGRESS:
        for kind in ("self_assessment", "activity_inventory"):
            records.record_answer(
                past,
                key,
                kind=kind,
                institution=code,
                actor=COORDINATOR,
                text=f"{kind.replace('_', ' ')} of {code}",
            )
    say(
        f"  {len(ANSWERED_IN_PROGRESS)} of {len(INVOLVED)} institutions answered; the others are late"
    )
