"""The mails that commands cause, rendered and written to the outbox inside the command's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ibmflow.definitions import Localized
from ibmflow.i18n import N_
from ibmflow.services import languages, outbox
from ibmflow.services.context import Context
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import outbox as outbox_queries
from ibmflow.storage.queries import roster
from ibmflow.storage.tables import ProcessRow, WorkflowDefinitionRow

renderer = outbox.renderer  # the deployment's templates (`ibmflow mail preview`, the benchmarks)


def domain(ctx: Context) -> str:
    """The domain of ibmflow's own Message-IDs: that of its sender address."""
    return ctx.settings.mail_from_address.rsplit("@", 1)[1]


def reply_address(ctx: Context, reply_key: str) -> str:
    """The per-request reply address: `local+KEY@domain` on the configured reply address."""
    local, host = ctx.settings.mail_reply_address.split("@", 1)
    return f"{local.split('+', 1)[0]}+{reply_key}@{host}"


def local_time(process: ProcessRow, moment: datetime | None) -> str:
    """A moment in the process's time zone, with the zone named, in English for the command line
    (mails carry the moment and format it in the recipient's language)."""
    if moment is None:
        return "no set date"
    zone = ZoneInfo(process.timezone)
    return f"{moment.astimezone(zone):%A %d %B %Y, %H:%M} ({process.timezone})"


def coordinator(tx: Tx, process: ProcessRow) -> dict[str, str]:
    """The coordinator's name and address for signatures (a neutral one before the appointment),
    read once per transaction: a step that sends twenty mails signs them all the same."""
    memo = tx.session.info.setdefault("ibmflow.coordinator", {})
    if process.id not in memo:
        prime_coordinators(tx, [process])
    return dict(memo[process.id])


def _signature(person: tuple[str, str] | None) -> dict[str, str]:
    if person is None:
        return {"name": N_("The national IBM coordination"), "email": ""}  # translated by `|t`
    return {"name": person[0], "email": person[1]}


def prime_coordinators(tx: Tx, processes: Iterable[ProcessRow]) -> None:
    """Read the coordinators of these processes together, for this transaction (a sweep's batch
    signs the mails of many processes: one statement, not one per process)."""
    memo = tx.session.info.setdefault("ibmflow.coordinator", {})
    wanted = [p.id for p in processes if p.id not in memo]
    if not wanted:
        return
    if tx.session.autoflush:  # an appointment made in this transaction signs its mails
        tx.session.flush()
    found = roster.coordinators(tx.session, [pid for pid in wanted if pid is not None])
    for pid in wanted:
        memo[pid] = _signature(found.get(pid) if pid is not None else None)


def base_context(ctx: Context, tx: Tx, process: ProcessRow) -> dict[str, Any]:
    """What every template may use: the process and the coordinator."""
    return {
        "process": {"key": process.key, "title": process.title},
        "coordinator": coordinator(tx, process),
        "base_url": ctx.settings.mail_base_url,
        "zone": process.timezone,  # the templates format dates and times in it
    }


def send(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    kind: str,
    to: Sequence[str],
    context: dict[str, Any],
    now: datetime,
    *,
    request_id: int | None = None,
    reply_to: str | None = None,
    thread: Sequence[str] = (),
    dedupe_key: str | None = None,
    language: str | None = None,
    into: outbox.MailRows | None = None,
) -> str:
    """Put a mail of one message kind in the outbox (rendered when it is sent); return its
    Message-ID.

    The mail is in `language`, else in that of its recipients (`services.languages`): recipients
    reading different languages get one mail per language (the first one's Message-ID is returned;
    the others' dedupe keys end in `:LANGUAGE`). The rows are written at once (one statement), or
    kept in `into` for the caller to write with others."""
    groups = {language: list(to)} if language else languages.group_addresses(ctx, tx, process, to)
    rows = []
    for n, (lang, addresses) in enumerate(groups.items()):
        said = {**base_context(ctx, tx, process), **context}
        mail = outbox.deferred(said, lang or ctx.settings.language)
        rows.append(
            outbox.row_values(
                kind=kind,
                to=addresses,
                mail=mail,
                now=now,
                domain=domain(ctx),
                process_id=process.id,
                request_id=request_id,
                reply_to=reply_to,
                thread=thread,
                dedupe_key=f"{dedupe_key}:{lang}" if dedupe_key and n else dedupe_key,
            )
        )
    if into is not None:
        into.mails += rows
    else:
        outbox_queries.add_mails(tx.session, rows)
    return str(rows[0]["message_id"])


def announce(
    ctx: Context,
    tx: Tx,
    process: ProcessRow,
    kind: str,
    to: Sequence[str],
    context: dict[str, Any],
    now: datetime,
) -> list[str]:
    """A notice to many people (a step entered or completed, a decision's result): its context
    kept once per language its recipients read, put in the outbox as one mail per person, so that nobody
    learns the addresses of the other institutions' people. Returns the Message-IDs."""
    ids = []
    base = base_context(ctx, tx, process)
    for lang, addresses in languages.group_addresses(ctx, tx, process, to).items():
        mail = outbox.deferred({**base, **context}, lang or ctx.settings.language)
        ids += outbox.enqueue_each(
            tx,
            kind=kind,
            to=addresses,
            mail=mail,
            now=now,
            domain=domain(ctx),
            process_id=process.id,
        )
    return ids


def addresses_for_roles(tx: Tx, process: ProcessRow, roles: Iterable[str]) -> list[str]:
    """The addresses of the people holding any of the roles a definition names (the process's
    addresses by role are read once per transaction, whichever roles each notice names)."""
    memo = tx.session.info.setdefault("ibmflow.addresses", {})
    if process.id not in memo:
        memo[process.id] = roster.addresses_by_role(tx.session, process.id or 0)
    return _addresses_for_roles(memo[process.id], roles)


# The roles a definition's `to` names, as the roster stores them ("representatives" are the people
# nominated by IAWG members, not a role).
_ROLE_OF = {
    "coordinator": "coordinator",
    "chair": "chair",
    "iawg_members": "iawg_member",
    "focal_points": "focal_point",
    "managers": "manager",
}


def _addresses_for_roles(by_role: dict[str, set[str]], roles: Iterable[str]) -> list[str]:
    wanted = set(roles)
    return roster.pick_addresses(
        by_role,
        sorted({_ROLE_OF[w] for w in wanted if w in _ROLE_OF}),
        representatives="representatives" in wanted,
    )


def step_title(ctx: Context, tx: Tx, process: ProcessRow, step: str) -> Localized | str:
    """A step's title in the definition version the process runs on, in every language of the
    workflow: a mail prints it in the language it is rendered in."""
    definition = ctx.known_definition(process.definition_pk)
    if definition is None:  # first use in this process: read the stored row once
        stored = tx.session.get(WorkflowDefinitionRow, process.definition_pk)
        assert stored is not None
        definition = ctx.definition_of(process, stored)
    try:
        return definition.state(step).title_text
    except KeyError:
        return step
