"""A reply taken as an answer: what a received mail says (a form's fields written as `name: value`
lines, a ballot's choice on its first line, the text, the attachments), handed to the one intake
(`services.intake`); and the statuses a received mail goes through."""

from __future__ import annotations

from datetime import datetime

from ibmflow.audit import JSONValue
from ibmflow.errors import InvalidCommand, NotFound
from ibmflow.i18n import _
from ibmflow.mail import inbound as mail
from ibmflow.requestkinds import KINDS, RequestKind
from ibmflow.services import intake
from ibmflow.services.context import Context
from ibmflow.services.documents import Upload
from ibmflow.storage.db import Tx
from ibmflow.storage.tables import InboundMessageRow, ProcessRow, RequestRow

INBOUND_ACTOR = "ibmflow:inbound"
ANSWERED, RECORDED, QUARANTINED = "answered", "recorded", "quarantined"
ASSIGNED, REJECTED = "assigned", "rejected"


class Refused(Exception):
    """This mail cannot be taken as the answer (the reason goes to the quarantine)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_reply(spec: RequestKind, text: str) -> tuple[dict[str, str], str]:
    """The fields and the text of a reply to a request of kind `spec`: a choice (a ballot's approve
    or object) from its first line, the rest being the text (the reason); any other field from a
    `name: value` or `Label: value` line, the whole being the text. Refused when a choice the kind
    needs cannot be read."""
    found: dict[str, str] = {}
    names = {}
    for item in spec.fields:
        if item.kind == "choice":
            verdict, rest = mail.parse_vote(text)
            if verdict is None:
                raise Refused(
                    _("the %(label)s cannot be read: %(rest)s", label=spec.label, rest=rest)
                )
            found[item.name] = item.choices[0] if verdict else item.choices[-1]
            text = rest
            continue
        names[item.name.lower()] = item.name
        names[item.name.replace("_", " ").lower()] = item.name
        names[item.label.lower()] = item.name
    for line in text.split("\n") if names else []:
        label, sep, value = line.partition(":")
        name = names.get(label.strip(" *-\t").lower())
        if sep and name and value.strip() and name not in found:
            found[name] = value.strip()
    return found, text


def answer_reply(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    request: RequestRow,
    incoming: mail.Incoming,
    row: InboundMessageRow,
    now: datetime,
    *,
    assigned_by: str | None,
) -> None:
    """Take a reply as the answer to `request` (`assigned_by`: the coordinator who decided it is,
    for a quarantined mail); Refused, with the reason, when it cannot be."""
    sender = (incoming.sender or "").lower()
    if not sender and assigned_by is None:
        raise Refused(_("it has no sender address (no From header)"))
    detail: dict[str, JSONValue] = {"inbound": row.id}
    if assigned_by:
        detail["assigned_by"] = assigned_by
    fields, text = read_reply(KINDS[request.kind], mail.strip_quoted(incoming.body))
    answer = intake.Answer(
        via="reply",
        actor=sender or (assigned_by or INBOUND_ACTOR),
        answerer=sender or None,
        vouched_by=assigned_by,
        text=text,
        fields=fields,
        uploads=[Upload(a.filename, a.content_type, a.content) for a in incoming.attachments],
        detail=detail,
    )
    try:
        received = intake.receive(ctx, tx, process, request, answer, now)
    except (InvalidCommand, NotFound) as exc:
        raise Refused(exc.message) from None
    if received.vote is not None:  # the ballot's own events do not name the mail; this one does
        tx.acting(assigned_by or sender, now, process.key).record(
            "mail.vote_received",
            f"inbound:{row.id}",
            after={
                "request": request.id,
                "decision": request.decision_id,
                "approve": received.vote.approve,
                **detail,
            },
        )
