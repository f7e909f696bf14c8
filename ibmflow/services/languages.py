"""Whose language: the one place that says in which language a person or an account is written to.

A person of a roster reads their own language (the roster's `language`), else the one their console
account chose (same address: `user add --language`, or the console's language switch), else their
institution's, else their process's (`process start --language`), else the deployment's
(`settings.language`). An account reads its own, else the deployment's. A language the deployment
no longer offers (`settings.languages`) is skipped as if it were not set.

Mails are rendered once per language of their recipients (`group`): a notice to twelve people in two
languages is rendered twice, and each person still gets one mail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TypeVar

from sqlmodel import Session

from ibmflow.services.context import Context
from ibmflow.storage.account_tables import UserAccountRow
from ibmflow.storage.db import Tx
from ibmflow.storage.queries import accounts, roster
from ibmflow.storage.shapes import Institution, Person
from ibmflow.storage.tables import InstitutionRow, ProcessRow

T = TypeVar("T")
_MEMO = "ibmflow.languages"  # the session's memo: process id -> address -> language


def _first_offered(ctx: Context, *choices: str | None) -> str:
    for choice in choices:
        if choice and choice in ctx.settings.languages:
            return choice
    return ctx.settings.language


def resolve(
    ctx: Context,
    process: ProcessRow | None,
    person: Person | None = None,
    institution: Institution | None = None,
    account_language: str | None = None,
) -> str:
    """The language of `person` (of `institution`), given the rows already read: their own, else
    their account's, else their institution's, else the process's, else the deployment's."""
    return _first_offered(
        ctx,
        person.language if person else None,
        account_language,
        institution.language if institution else None,
        process.language if process else None,
    )


def language_of_person(ctx: Context, session: Session, person: Person) -> str:
    """The language `person` reads (own, account's, institution's, process's, deployment's): what
    their mails and their answer page speak."""
    process = session.get(ProcessRow, person.process_id)
    institution = (
        session.get(InstitutionRow, person.institution_id) if person.institution_id else None
    )
    chosen = accounts.chosen_languages(session, [person.email]).get(person.email.lower())
    return resolve(ctx, process, person, institution, chosen)


def language_of_account(ctx: Context, account: UserAccountRow | None) -> str:
    """The language of a console account: its own, else the deployment's."""
    return _first_offered(ctx, account.language if account else None)


def of_addresses(ctx: Context, tx: Tx, process: ProcessRow, addresses: Iterable[str]) -> list[str]:
    """The language of each address, in order: a person of the process's roster reads theirs; an
    address on no roster reads the process's."""
    known = _by_address(ctx, tx, process)
    fallback = resolve(ctx, process)
    return [known.get(address.strip().lower(), fallback) for address in addresses]


def _by_address(ctx: Context, tx: Tx, process: ProcessRow) -> Mapping[str, str]:
    """Every roster address's language (read once per transaction and process): the memo itself,
    not a copy of it for each mail (its callers only look addresses up)."""
    memo = tx.session.info.setdefault(_MEMO, {})
    if process.id not in memo:
        prime(ctx, tx, [process])
    return MappingProxyType(memo[process.id])


def prime(ctx: Context, tx: Tx, processes: Iterable[ProcessRow]) -> None:
    """Read the roster languages of these processes together, for this transaction: a sweep's
    batch asks for the languages of a hundred processes, with one statement rather than three
    per process."""
    memo: dict[int | None, dict[str, str]] = tx.session.info.setdefault(_MEMO, {})
    wanted = {p.id: p for p in processes if p.id not in memo}
    if not wanted:
        return
    if tx.session.autoflush:  # the ORM reads this replaces saw the session's pending people
        tx.session.flush()
    people = roster.people_languages(tx.session, [pid for pid in wanted if pid is not None])
    for pid in wanted:
        memo[pid] = {}
    for pid, email, own, institution_language, chosen in people:
        process = wanted[pid]
        memo[pid][email.lower()] = _first_offered(
            ctx, own, chosen, institution_language, process.language
        )


def forget(tx: Tx) -> None:
    """Drop what this transaction remembered of the roster's languages, and of its addresses by
    role (`mailings.addresses_for_roles`), after a roster change."""
    tx.session.info.pop(_MEMO, None)
    tx.session.info.pop("ibmflow.addresses", None)


def group(items: Sequence[T], languages: Sequence[str]) -> dict[str, list[T]]:
    """The items by language (`languages[i]` is that of `items[i]`), in order of first appearance."""
    grouped: dict[str, list[T]] = {}
    for item, lang in zip(items, languages, strict=True):
        grouped.setdefault(lang, []).append(item)
    return grouped


def group_addresses(
    ctx: Context, tx: Tx, process: ProcessRow, addresses: Sequence[str]
) -> dict[str, list[str]]:
    """The addresses by the language their owners read."""
    return group(addresses, of_addresses(ctx, tx, process, addresses))


def of_person(ctx: Context, tx: Tx, process: ProcessRow, person: Person) -> str:
    """The language of a person of `process` (read with the roster's, once per transaction)."""
    known = _by_address(ctx, tx, process)
    if person.email.lower() in known:
        return known[person.email.lower()]
    return language_of_person(ctx, tx.session, person)
