"""Processes the integration tests start from, built through the same use cases as the CLI."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ibmflow.demo import COORDINATOR, demo_roster_text
from ibmflow.services import processes, records, roster
from ibmflow.services.context import Context


def at_stakeholder_identification(
    ctx: Context,
    key: str,
    folder: Path,
    *,
    title: str = "National IBM Strategy",
    starter: str = "chair@interior.example",
    coordinator: str = COORDINATOR,
) -> str:
    """Process `key`, its coordinator appointed and the step completed, then the demo roster
    imported: at stakeholder identification with every person of the demo roster, no request yet."""
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
    roster.import_roster(ctx, key, path, actor=coordinator)
    return key
