"""Processes the integration tests start from, built through the same use cases as the CLI."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ibmflow.demo import COORDINATOR, demo_roster_text
from ibmflow.roster import parse_roster
from ibmflow.services import processes, records, roster
from ibmflow.services.context import Context
from ibmflow.storage import repository as repo


def at_stakeholder_identification(
    ctx: Context,
    key: str,
    folder: Path,
    *,
    title: str = "National IBM Strategy",
    starter: str = "chair@interior.example",
    coordinator: str = COORDINATOR,
    requests: bool = True,
) -> str:
    """Process `key`, its coordinator appointed and the step completed, then the demo roster
    imported: at stakeholder identification with every person of the demo roster, and the
    acknowledgement request the step opens sent by the import to every permanent institution's focal
    points. With `requests=False` the roster is only recorded (`apply_roster`, without the step's
    requests): for the tests that send a request round of their own."""
    processes.start_process(ctx, title=title, key=key, actor=starter)
    records.appoint_coordinator(
        ctx,
        key,
        name="Karim Benali",
        email=coordinator,
        authority="Head of Government",
        reference="Decree 2.26.101",
        appointed_on=date(2026, 1, 5),
        actor=starter,
    )
    processes.fire(ctx, key, "complete", actor=coordinator)
    path = folder / f"roster-{key}.toml"
    path.write_text(demo_roster_text(), encoding="utf-8")
    if requests:
        roster.import_roster(ctx, key, path, actor=coordinator)
        return key
    with ctx.db.transaction() as tx:
        process = repo.get_process(tx.session, key, lock=True)
        known = {i.code: i.category for i in repo.institutions(tx.session, process)}
        parsed = parse_roster(path, known_institutions=known, known_emails=())  # type: ignore[arg-type]
        roster.apply_roster(
            tx, process, parsed, actor=coordinator, now=ctx.clock.now(), source=path.name
        )
    return key
