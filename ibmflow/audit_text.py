"""The audit log in words (pure): each action's label and sentence, each kind of entity's label,
who an automatic actor is. Declared once, here, as data; the audit page, its exports and its
filters read them. An action missing here still reads as a sentence (`GENERIC`).

A sentence may use `%(who)s` (the actor), `%(entity)s` (what the event is about, as a label),
`%(institution)s` (the institution of a request, or "") and `%(to)s` (a mail's addressees).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ibmflow.i18n import N_, _


@dataclass(frozen=True)
class ActionText:
    """An action as people read it: a short `label` (the filter's choice) and the `sentence` that
    describes one event of it (both English, marked with N_)."""

    label: str
    sentence: str


_A = ActionText
ACTIONS: dict[str, ActionText] = {
    "process.started": _A(N_("Process started"), N_("Process started by %(who)s")),
    "process.finished": _A(N_("Process finished"), N_("Process finished")),
    "process.suspended": _A(
        N_("Process suspended"), N_("Process suspended at %(entity)s by %(who)s")
    ),
    "process.resumed": _A(N_("Process resumed"), N_("Process resumed by %(who)s")),
    "step.entered": _A(N_("Step entered"), N_("Step entered: %(entity)s")),
    "step.completed": _A(N_("Step completed"), N_("Step completed by %(who)s: %(entity)s")),
    "step.returned": _A(N_("Step returned"), N_("Returned from %(entity)s by %(who)s")),
    "roster.imported": _A(N_("Roster imported"), N_("Roster imported by %(who)s")),
    "coordinator.appointed": _A(
        N_("Coordinator appointed"), N_("National coordinator %(entity)s appointed by %(who)s")
    ),
    "request.sent": _A(N_("Request sent"), N_("%(entity)s sent to %(institution)s by %(who)s")),
    "request.answered": _A(
        N_("Request answered"), N_("%(entity)s answered by %(institution)s (%(who)s)")
    ),
    "request.withdrawn": _A(N_("Request withdrawn"), N_("%(entity)s withdrawn by %(who)s")),
    "request.waived": _A(N_("Request waived"), N_("%(entity)s waived by %(who)s")),
    "request.reopened": _A(N_("Request reopened"), N_("%(entity)s reopened by %(who)s")),
    "deadline.extended": _A(
        N_("Deadline extended"), N_("Deadline of %(entity)s extended by %(who)s")
    ),
    "task_force.named": _A(N_("Task force named"), N_("Task force %(entity)s named by %(who)s")),
    "chapter.defined": _A(N_("Chapter defined"), N_("Chapter %(entity)s defined by %(who)s")),
    "chapter.lead_set": _A(N_("Chapter lead set"), N_("Lead of chapter %(entity)s set by %(who)s")),
    "chapter.submitted": _A(
        N_("Chapter submitted"), N_("Draft of chapter %(entity)s submitted by %(who)s")
    ),
    "consultation.closed": _A(N_("Consultation closed"), N_("Consultation closed by %(who)s")),
    "adoption.recorded": _A(
        N_("Adoption recorded"), N_("Adoption of the strategy recorded by %(who)s")
    ),
    "document.attached": _A(N_("Document attached"), N_("%(entity)s attached by %(who)s")),
    "decision.opened": _A(N_("Decision opened"), N_("%(entity)s opened by %(who)s")),
    "decision.adopted": _A(N_("Decision adopted"), N_("%(entity)s adopted")),
    "decision.rejected": _A(N_("Decision rejected"), N_("%(entity)s rejected")),
    "decision.withdrawn": _A(N_("Decision withdrawn"), N_("%(entity)s withdrawn")),
    "vote.cast": _A(N_("Vote cast"), N_("Vote on %(entity)s cast by %(who)s")),
    "representative.nominated": _A(
        N_("Representative nominated"), N_("Representative nominated by %(who)s")
    ),
    "chase.reminder": _A(N_("Reminder written"), N_("Reminder about %(entity)s written to %(to)s")),
    "chase.escalation": _A(
        N_("Escalation written"), N_("Escalation about %(entity)s written to %(to)s")
    ),
    "chase.step_overdue": _A(
        N_("Overdue step alert written"), N_("Overdue alert about %(entity)s written to %(to)s")
    ),
    "chase.superseded": _A(
        N_("Reminder skipped"), N_("Earlier reminder about %(entity)s skipped for a later one")
    ),
    "mail.delivered": _A(N_("Mail delivered"), N_("Mail to %(to)s delivered")),
    "mail.deferred": _A(N_("Mail delivery deferred"), N_("Mail to %(to)s not delivered yet")),
    "mail.failed": _A(N_("Mail delivery failed"), N_("Mail to %(to)s could not be delivered")),
    "mail.bounce": _A(N_("Bounce received"), N_("Bounce received: %(entity)s")),
    "mail.auto_reply": _A(
        N_("Automatic reply received"), N_("Automatic reply received: %(entity)s")
    ),
    "mail.quarantined": _A(N_("Mail quarantined"), N_("%(entity)s put in quarantine")),
    "mail.vote_received": _A(N_("Vote received by mail"), N_("Vote received by mail from %(who)s")),
    "quarantine.assigned": _A(
        N_("Quarantined mail assigned"), N_("%(entity)s assigned to a request by %(who)s")
    ),
    "quarantine.rejected": _A(
        N_("Quarantined mail rejected"), N_("%(entity)s rejected by %(who)s")
    ),
    "digest.sent": _A(N_("Weekly digest sent"), N_("Weekly digest sent to the managers")),
}
GENERIC = N_("%(what)s by %(who)s, on %(entity)s")
# The action a coordinator rarely wants among the rest: one per mail sent (the page hides it unless
# asked; the filter on it shows it).
DELIVERED = "mail.delivered"

# The kinds of entity (the part of an event's entity before ":"), as the filter offers them, and
# how one of them is named ("Request 42"); what is not here is named by its identifier alone.
ENTITY_KINDS: dict[str, str] = {
    "request": N_("Requests"),
    "outbox": N_("Outgoing mail"),
    "inbound": N_("Received mail"),
    "step": N_("Steps"),
    "decision": N_("Decisions"),
    "document": N_("Documents"),
    "person": N_("People"),
    "chapter": N_("Chapters"),
    "task_force": N_("Task forces"),
    "nomination": N_("Nominations"),
    "process": N_("The process"),
}
_NAMED = {
    "request": N_("Request %(id)s"),
    "outbox": N_("Mail %(id)s"),
    "inbound": N_("Received mail %(id)s"),
    "decision": N_("Decision %(id)s"),
    "document": N_("Document %(id)s"),
    "nomination": N_("Nomination %(id)s"),
    "process": N_("Process %(id)s"),
    "chapter": N_("“%(id)s”"),
    "task_force": N_("“%(id)s”"),
}
# Who the automatic actors are.
ACTORS = {
    "ibmflow:chaser": N_("the chaser"),
    "ibmflow:inbound": N_("the mail receiver"),
    "system:dispatcher": N_("the mail dispatcher"),
    "system:digest": N_("the weekly digest"),
}


def action_label(action: str) -> str:
    """An action's label in the reader's language; an undeclared one made readable."""
    known = ACTIONS.get(action)
    return _(known.label) if known else readable(action)


def readable(code: str) -> str:
    """A code as words: "chase.step_overdue" -> "Chase step overdue"."""
    words = code.replace(".", " ").replace("_", " ").replace(":", " ").strip()
    return words[:1].upper() + words[1:]


def split_entity(entity: str | None) -> tuple[str, str]:
    """An event's entity as its kind and identifier: "request:42" -> ("request", "42")."""
    kind, _sep, ident = (entity or "").partition(":")
    return (kind, ident) if ident else ("", kind)


def entity_label(entity: str | None, step_titles: Mapping[str, str]) -> str:
    """What an event is about, named for people: "Request 42", a step's title, a person's email."""
    kind, ident = split_entity(entity)
    if kind == "step":
        return step_titles.get(ident, ident)
    if kind in _NAMED:
        return _(_NAMED[kind], id=ident)
    return ident


def actor_label(actor: str) -> str:
    """Who acted, for people: an automatic actor by its role, `cli:NAME` as the command line's."""
    if actor in ACTORS:
        return _(ACTORS[actor])
    if actor.startswith("cli:"):
        return _("%(name)s (command line)", name=actor[4:])
    return actor


def describe(action: str, **parts: str) -> str:
    """One event in a sentence of the reader's language; `parts` fill `who`, `entity`,
    `institution` and `to`."""
    known = ACTIONS.get(action)
    if known is None:
        return _(GENERIC, what=readable(action), **parts)
    return _(known.sentence, **parts)
