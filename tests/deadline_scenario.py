"""A process with known deadlines, built through the services with a fixed clock, for the deadline
report, its exports and the digest. The figures it must give are worked out by hand in
`tests/test_reports.py`.

Time zone Africa/Casablanca (UTC+1 throughout: the Ramadan change comes on 15 February 2026).
Moroccan public holidays on the way: Thursday 1 January 2026 (New Year), Sunday 11 January
(Proclamation of Independence) and Wednesday 14 January (Amazigh New Year).

- Monday 1 December 2025, 09:00 UTC: the process starts; step 1 (20 working days) is due at the end
  of Monday 29 December 2025 (no holiday in December). Nobody completes it.
- Monday 5 January 2026, 09:00 UTC: self-assessment (S), activity inventory (A) and chapter draft
  (C) requests, 5 working days each, to Customs (weekend Saturday-Sunday; due Monday 12 January) and
  to Veterinary Inspection (weekend Friday-Saturday: Sunday 11 is a holiday for it; due Tuesday 13).
- Answers: Customs S on Friday 9 January (on time); Veterinary S on Tuesday 13 January, 21:00 UTC
  = 22:00 local (on time, the same evening); Veterinary A on Thursday 15; Customs A on Friday 16;
  Veterinary C on Monday 19 January, 08:00 UTC. Customs C stays unanswered.
- Monday 19 January 2026, 09:00 UTC: consultation comments (K) to Customs (11 working days: due
  Tuesday 3 February) and to Veterinary Inspection (12 working days: due Wednesday 4 February); a
  self-assessment to the Ministry of Health (2 working days: due Wednesday 21 January); one more
  request to the Border Guard, withdrawn at once (it counts nowhere).
- The report is read at Tuesday 20 January 2026, 10:00 UTC (11:00 local).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ibmflow.demo import demo_roster_text
from ibmflow.services import processes, records, requests, roster
from ibmflow.services.context import Context
from ibmflow.testing import FixedClock

KEY = "MA-DL"
TITLE = "Morocco national IBM strategy"
COORDINATOR = "coordinator@interior.example"
CUSTOMS, VETERINARY, HEALTH, BORDER_GUARD = (
    "MOF_CUSTOMS",
    "MOA_VETERINARY",
    "MOH",
    "MOI_BORDER_GUARD",
)
MANAGERS = ("manager@cabinet.example", "programme@donor.example")

STARTED = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
FIRST_SENDING = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SECOND_SENDING = datetime(2026, 1, 19, 9, 0, tzinfo=UTC)
AT = datetime(2026, 1, 20, 10, 0, tzinfo=UTC)

# A second manager, from a donor programme, besides the demo roster's.
EXTRA_PEOPLE = """
[[person]]
name = "Karim Programme"
email = "programme@donor.example"
roles = ["manager"]
"""


@dataclass(frozen=True)
class Built:
    """The ids of the requests the scenario sent, by (institution, kind letter)."""

    ids: dict[tuple[str, str], int]


def roster_file(tmp_path: Path) -> Path:
    """The demo roster plus a second manager."""
    path = tmp_path / "roster.toml"
    path.write_text(demo_roster_text() + EXTRA_PEOPLE, encoding="utf-8")
    return path


def start(ctx: Context, clock: FixedClock, tmp_path: Path, key: str = KEY) -> None:
    """A process with the demo roster, started at `clock`'s time."""
    processes.start_process(ctx, title=TITLE, key=key, actor=COORDINATOR)
    roster.import_roster(ctx, key, roster_file(tmp_path), actor=COORDINATOR)


def build(ctx: Context, clock: FixedClock, tmp_path: Path, key: str = KEY) -> Built:
    """Run the scenario of this module's docstring; leave the clock at `AT`."""
    clock.at = STARTED
    start(ctx, clock, tmp_path, key)
    ids: dict[tuple[str, str], int] = {}

    def send(at: datetime, code: str, letter: str, kind: str, days: int) -> None:
        clock.at = at
        (ids[code, letter],) = requests.send_requests(
            ctx, key, kind=kind, institutions=[code], due_days=days, actor=COORDINATOR
        )

    kinds = {"S": "self_assessment", "A": "activity_inventory", "C": "chapter_draft"}
    for letter, kind in kinds.items():
        for code in (CUSTOMS, VETERINARY):
            send(FIRST_SENDING, code, letter, kind, 5)

    def answer(at: datetime, code: str, letter: str) -> None:
        clock.at = at
        records.record_answer(
            ctx, key, kind=kinds[letter], institution=code, actor=COORDINATOR, text="answer"
        )

    answer(datetime(2026, 1, 9, 10, 0, tzinfo=UTC), CUSTOMS, "S")
    answer(datetime(2026, 1, 13, 21, 0, tzinfo=UTC), VETERINARY, "S")
    answer(datetime(2026, 1, 15, 10, 0, tzinfo=UTC), VETERINARY, "A")
    answer(datetime(2026, 1, 16, 10, 0, tzinfo=UTC), CUSTOMS, "A")
    answer(datetime(2026, 1, 19, 8, 0, tzinfo=UTC), VETERINARY, "C")
    send(SECOND_SENDING, CUSTOMS, "K", "consultation_comments", 11)
    send(SECOND_SENDING, VETERINARY, "K", "consultation_comments", 12)
    send(SECOND_SENDING, HEALTH, "S", "self_assessment", 2)
    send(SECOND_SENDING, BORDER_GUARD, "C", "chapter_draft", 5)
    requests.close(
        ctx,
        key,
        ids[BORDER_GUARD, "C"],
        status="withdrawn",
        reason="sent by mistake",
        actor=COORDINATOR,
    )
    clock.at = AT
    return Built(ids)
