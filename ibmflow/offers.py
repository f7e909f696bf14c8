"""Which of the console's forms fit the moment: declared once, as data, from the guards of the
current step (a form belongs to the guards it helps meet) or for any running step.

Pure: the current step's guard names in, the forms offered out (in the order the page shows them).
An adopted (finished) or suspended process is offered no step action: nothing there can move.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from ibmflow.i18n import N_

ANY_STEP = "*"  # offered in every running step


@dataclass(frozen=True)
class Offer:
    """A form of the console: its action (the macro that draws it), the permission it needs, its
    label (English, marked with N_) and the guards it helps meet (ANY_STEP: every step)."""

    action: str
    permission: str
    label: str
    guards: tuple[str, ...]


OFFERS: tuple[Offer, ...] = (
    Offer("request", "request", N_("Open a request"), (ANY_STEP,)),
    Offer("document", "document", N_("Attach a document"), (ANY_STEP,)),
    Offer("person", "roster", N_("Add a person to the roster"), (ANY_STEP,)),
    Offer("decision", "decide", N_("Open an IAWG decision"), ("decision_adopted",)),
    Offer("nominate", "nominate", N_("Record a member's representative"), ("decision_adopted",)),
    Offer(
        "appoint", "appoint", N_("Record the coordinator's appointment"), ("coordinator_appointed",)
    ),
    Offer("task_force", "record", N_("Name a task force"), ("task_forces_named",)),
    Offer("chapter", "record", N_("Add a chapter"), ("chapters_drafted",)),
    Offer("chapter_lead", "record", N_("Give a chapter its lead"), ("chapters_drafted",)),
    Offer("chapter_draft", "record", N_("Submit a chapter's draft"), ("chapters_drafted",)),
    Offer(
        "close_consultation",
        "record",
        N_("Close the consultation round"),
        ("consultation_closed",),
    ),
    Offer("adoption", "record", N_("Record the adoption"), ("adoption_recorded",)),
)

# The process commands a console form asks to confirm before it is sent (a second look: the
# form names what will happen, and a box must be ticked).
CONFIRMED = frozenset({"return"})


def offered(guards: Collection[str], *, running: bool) -> tuple[Offer, ...]:
    """The forms that fit a step whose exit guards are `guards` (none unless `running`)."""
    if not running:
        return ()
    return tuple(o for o in OFFERS if ANY_STEP in o.guards or set(o.guards) & set(guards))
