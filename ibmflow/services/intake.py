"""The one answer intake: an answer to a request, or a ballot on a decision, from any channel (the
answer link, a reply by mail, the command line, the console) is taken as data and recorded by one
path.

A channel turns what it received into an `Answer` (the fields as typed, the text, the files as
`Upload`s) and calls `receive` in its transaction; everything else is decided here, once: who may
answer (`services.answerers`), what the request's kind needs (`requestkinds.check_answer`: a form's
fields, a ballot's approve or object and the reason), which files are taken
(`documents.check_uploads`), and what recording the answer does (a ballot is cast on its decision,
`services.ballots`; any other answer is recorded on its request, `services.requests.record`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ibmflow.audit import JSONValue
from ibmflow.errors import InvalidCommand
from ibmflow.i18n import _
from ibmflow.requestkinds import KINDS, check_answer
from ibmflow.services import answerers, answering, ballots, documents, requests
from ibmflow.services.ballots import VoteResult
from ibmflow.services.common import iso
from ibmflow.services.context import Context
from ibmflow.services.documents import Upload
from ibmflow.services.record_views import status_label
from ibmflow.storage.db import Tx
from ibmflow.storage.tables import ProcessRow, RequestRow


@dataclass(frozen=True)
class Channel:
    """Where answers come from (`via`, as recorded), and whether whoever sends one sees a refusal and
    can send again (`corrects`: a form, a command). When they cannot (a reply by mail), files that
    fail the check are left out and named in the audit event, and an answer whose files may carry
    what its fields lack is recorded with the problems named, not refused."""

    via: str
    corrects: bool


CHANNELS: dict[str, Channel] = {
    channel.via: channel
    for channel in (
        Channel("link", corrects=True),
        Channel("reply", corrects=False),
        Channel("cli", corrects=True),
        Channel("web", corrects=True),
    )
}


@dataclass(frozen=True)
class Answer:
    """An answer as a channel received it: who records it (`actor`, for the audit chain), who answers
    (`answerer`, an email; None only when a coordinator vouches for an answer from no one named),
    the coordinator who vouches for it (`vouched_by`: an answer received by other means, a
    quarantined reply assigned), the structured fields as typed (a ballot's `choice`), the text
    (a ballot's reason), the files, and what the channel adds to the audit event (`detail`)."""

    via: str
    actor: str
    answerer: str | None = None
    vouched_by: str | None = None
    text: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    uploads: Sequence[Upload] = ()
    detail: Mapping[str, JSONValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    """What an answer became: the request it answered and, for a ballot, the decision's standing."""

    request_id: int
    vote: VoteResult | None = None


def receive(
    ctx: Context, tx: Tx, process: ProcessRow, request: RequestRow, answer: Answer, now: datetime
) -> Received:
    """Record `answer` on `request` in the caller's transaction (the process row locked).

    Raises NotAnswerer when the answerer may not answer the request, InvalidCommand for a request
    already finished or an answer that cannot be taken (every problem in one message)."""
    spec, channel = KINDS[request.kind], CHANNELS[answer.via]
    who = answerers.may_answer(
        tx, process, request, answer.answerer, now, vouched=answer.vouched_by is not None
    )
    if request.status in requests.FINISHED:
        by = _(" by %(who)s", who=request.answered_by) if request.answered_by else ""
        when = _(" on %(when)s", when=iso(request.answered_at)) if request.answered_at else ""
        why = f" ({request.closed_reason})" if request.closed_reason else ""
        raise InvalidCommand(
            _(
                "request #%(id)s is already %(status)s%(by)s%(when)s%(why)s; nothing recorded.",
                id=request.id,
                status=status_label(request.status),
                by=by,
                when=when,
                why=why,
            ),
            process=process.key,
        )
    files, file_problems = documents.check_uploads(ctx, answer.uploads)
    fields, text, problems = check_answer(request.kind, answer.fields, answer.text)
    # An incomplete answer is recorded as it came (the problems named) when a coordinator vouches
    # for it, or when files that may carry it came from someone who cannot correct it.
    excused = spec.incomplete_ok and (
        answer.vouched_by is not None or (bool(files) and not channel.corrects)
    )
    refused = [*([] if excused else problems), *(file_problems if channel.corrects else [])]
    if refused:
        raise InvalidCommand(" ".join(refused), process=process.key)
    detail: dict[str, JSONValue] = dict(answer.detail)
    if who.deputy_for is not None:
        detail["deputy_for"] = who.deputy_for.email
    if file_problems:
        detail["files_not_kept"] = [u.filename for u in answer.uploads if u not in files]
    if problems:
        detail["fields_missing"] = list(problems)
    if spec.is_vote:
        assert who.ballot is not None
        vote = ballots.cast(
            ctx,
            tx,
            process,
            request,
            who.ballot,
            now,
            fields=fields,
            reason=text,
            actor=answer.actor,
            via=answer.via,
            uploads=files,
            detail=detail,
        )
        return Received(request.id or 0, vote)
    answering.record(
        ctx,
        tx,
        process,
        request,
        now,
        via=answer.via,
        actor=answer.actor,
        text=text,
        fields=dict(fields),
        uploads=files,
        detail=detail,
    )
    return Received(request.id or 0)
