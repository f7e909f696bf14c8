"""Pure core of the tamper-evident audit log: records, their hash chain, and its verification."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from hashlib import sha256
from json.encoder import encode_basestring
from typing import NamedTuple, TypeAlias

from ibmflow.json_writer import json_writer

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None
GENESIS_HASH = "0" * 64


# What a record holds most: kept as they are without a call (nor its path worded) for each.
_PLAIN = frozenset({str, int, bool, type(None)})


def _checked(value: object, where: str) -> JSONValue:
    """Return a private copy of `value` after checking it is finite JSON with string keys."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} holds {value}, which JSON cannot represent")
        return value
    if isinstance(value, list):
        return [
            item if type(item) in _PLAIN else _checked(item, f"{where}[{i}]")
            for i, item in enumerate(value)
        ]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError(f"{where} has a key that is not a string")
        return {
            key: item if type(item) in _PLAIN else _checked(item, f"{where}.{key}")
            for key, item in value.items()
        }
    raise TypeError(f"{where} holds a {type(value).__name__}, which is not a JSON value")


@dataclass(frozen=True)
class AuditRecord:
    """What one change writes on the chain."""

    at: datetime
    actor: str
    action: str
    process: str | None = None
    on_behalf_of: str | None = None
    entity: str | None = None
    before: JSONValue = None
    after: JSONValue = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError(f"audit time {self.at.isoformat()} has no time zone; pass it in UTC")
        if not self.actor or not self.action:
            raise ValueError("an audit record needs a non-empty actor and action")
        object.__setattr__(self, "at", self.at.astimezone(UTC))
        object.__setattr__(self, "before", _checked(self.before, "before"))
        object.__setattr__(self, "after", _checked(self.after, "after"))


_FIELDS = {f.name for f in fields(AuditRecord)}


@dataclass(frozen=True)
class ChainedEvent:
    """One link of the chain: a record, its number and the hashes binding it to its predecessor."""

    seq: int
    record: AuditRecord
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Verification:
    """The outcome of `verify`; `head_*` name the last event that verified."""

    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    problem: str | None


def _utc_text(at: datetime, timespec: str = "microseconds") -> str:
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec=timespec) + "Z"


def utc_text(at: datetime) -> str:
    """The moment as the chain writes it: ISO 8601 in UTC with microseconds and "Z"."""
    return _utc_text(at)


def record_to_json(record: AuditRecord) -> dict[str, JSONValue]:
    """Return the record as a JSON object (`at` as ISO 8601 UTC with microseconds and "Z")."""
    out: dict[str, JSONValue] = {f.name: getattr(record, f.name) for f in fields(record)}
    out["at"] = _utc_text(record.at)
    return out


def record_from_json(data: Mapping[str, JSONValue]) -> AuditRecord:
    """Rebuild a record from `record_to_json` output; raises ValueError on anything else."""
    strs = {k: v for k, v in data.items() if isinstance(v, str) and k not in ("before", "after")}
    at = strs.pop("at", "")
    texts_ok = all(data[k] is None for k in _FIELDS - strs.keys() - {"at", "before", "after"})
    if set(data) != _FIELDS or not texts_ok or not at.endswith("Z"):
        raise ValueError(f"not an audit record (text fields, `at` in UTC ending in Z): {data!r}")
    moment = datetime.fromisoformat(at[:-1])
    if moment.tzinfo is not None:
        raise ValueError(f"audit time {at!r} must be in UTC with a single 'Z'")
    before, after = data["before"], data["after"]
    return AuditRecord(at=moment.replace(tzinfo=UTC), before=before, after=after, **strs)


# `canonical` writes the sorted compact JSON of {"seq": ..., **record_to_json(record)} by hand: the
# keys in sorted order, each string as `json.dumps(..., ensure_ascii=False)` writes it, `before` and
# `after` through one writer built once (`json_writer`). The bytes are pinned by
# tests/test_audit_chain.py, and `json.dumps` of the whole is the reference it is tested against.
_WRITE = json_writer(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
# The C scanner `json.loads` runs, without the whitespace it allows around the text.
_SCAN: Callable[[str, int], tuple[JSONValue, int]]
_SCAN = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def canonical_json(value: JSONValue) -> str:
    """`value` as it is written inside `canonical` (and stored): sorted, compact, UTF-8 JSON."""
    if value is None:
        return "null"
    return _WRITE(value)


_Strings: TypeAlias = tuple[str, str, str, str, str, str]


def _strings(
    action: str,
    actor: str,
    entity: str | None,
    on_behalf_of: str | None,
    process: str | None,
    reason: str | None,
) -> _Strings:
    """The text fields as JSON (TypeError for anything but a string or None)."""
    string = encode_basestring  # raises TypeError for anything but a str
    return (
        string(action),
        string(actor),
        "null" if entity is None else string(entity),
        "null" if on_behalf_of is None else string(on_behalf_of),
        "null" if process is None else string(process),
        "null" if reason is None else string(reason),
    )


def _canonical_text(seq: int, at: str, strings: _Strings, before: str, after: str) -> str:
    # `at` is `_utc_text` of the moment, `before` and `after` are `canonical_json` of the values.
    action, actor, entity, on_behalf_of, process, reason = strings
    return (
        f'{{"action":{action},"actor":{actor},"after":{after},"at":"{at}","before":{before},'
        f'"entity":{entity},"on_behalf_of":{on_behalf_of},"process":{process},'
        f'"reason":{reason},"seq":{seq:d}}}'
    )


def canonical(seq: int, record: AuditRecord) -> bytes:
    """Serialise `seq` and every field of `record` deterministically (sorted compact UTF-8 JSON)."""
    r = record
    strings = _strings(r.action, r.actor, r.entity, r.on_behalf_of, r.process, r.reason)
    before, after = canonical_json(r.before), canonical_json(r.after)
    return _canonical_text(seq, _utc_text(r.at), strings, before, after).encode("utf-8")


def event_hash(prev_hash: str, seq: int, record: AuditRecord) -> str:
    """Return the hex SHA-256 of `prev_hash` followed by `canonical(seq, record)`."""
    return hashlib.sha256(prev_hash.encode("utf-8") + canonical(seq, record)).hexdigest()


def stored_intact(
    digest: str,
    prev_hash: str,
    seq: int,
    at: str,
    actor: str,
    on_behalf_of: str | None,
    action: str,
    process: str | None,
    entity: str | None,
    before_json: str | None,
    after_json: str | None,
    reason: str | None,
) -> bool:
    """Whether an event as storage keeps it hashes to `digest`, found without rebuilding its record:
    `at` as `record_to_json` writes it, `before_json` and `after_json` as stored JSON texts (None
    for null).

    A text stored as `canonical_json` writes it goes into the hashed text as it is, once checked to
    hold one JSON value and nothing else (so that no part of the hashed text can pass for a piece of
    its neighbour); a text stored in another form (with `json.dumps`'s spaces, as before) is parsed
    and written again. True proves the stored parts are those of the record that was hashed. False
    says only that this quick way could not tell (a hash that does not match, a text that is not
    one JSON value, a field that is not a string): the caller then rebuilds the record the slow way,
    which says what is wrong.
    """
    scan = _SCAN
    try:
        before, after, as_stored = "null", "null", True
        if before_json is not None:
            before_value, end = scan(before_json, 0)
            if end != len(before_json):
                return False
            before, as_stored = before_json, '": ' not in before_json
        if after_json is not None:
            after_value, end = scan(after_json, 0)
            if end != len(after_json):
                return False
            after, as_stored = after_json, as_stored and '": ' not in after_json
        strings = _strings(action, actor, entity, on_behalf_of, process, reason)
        # Whenever the texts as they are hash right, so do they written again (each holds one value):
        # taking them as they are is only faster. A text showing `": ` most likely has the spaces of
        # `json.dumps`, so it is written again straight away.
        if as_stored:
            text = _canonical_text(seq, at, strings, before, after)
            if sha256((prev_hash + text).encode("utf-8")).hexdigest() == digest:
                return True
        if before_json is not None:
            before = canonical_json(before_value)
        if after_json is not None:
            after = canonical_json(after_value)
        text = _canonical_text(seq, at, strings, before, after)
        return sha256((prev_hash + text).encode("utf-8")).hexdigest() == digest
    except (StopIteration, ValueError, TypeError, RecursionError):
        return False


class CheckedLink(NamedTuple):
    """An event whose hash was checked as it was read from storage (`intact`), kept without its
    record: its number, its hashes and what names it in a report.

    `unreadable` says why a stored event could not even be rebuilt into a record (it is then not
    intact)."""

    seq: int
    prev_hash: str
    hash: str
    intact: bool
    action: str
    process: str | None
    at: str
    unreadable: str | None = None


Link: TypeAlias = ChainedEvent | CheckedLink


def append(previous: ChainedEvent | None, record: AuditRecord) -> ChainedEvent:
    """Return the link that follows `previous` (or starts the chain when it is None)."""
    seq = 1 if previous is None else previous.seq + 1
    prev_hash = GENESIS_HASH if previous is None else previous.hash
    return ChainedEvent(seq, record, prev_hash, event_hash(prev_hash, seq, record))


def _consistent(event: Link) -> bool:
    if isinstance(event, CheckedLink):
        return event.intact
    try:
        return event_hash(event.prev_hash, event.seq, event.record) == event.hash
    except (ValueError, TypeError):
        return False


def intact(event: Link) -> bool:
    """Whether the event's content still hashes to its hash."""
    return _consistent(event)


def _name(event: Link) -> str:
    if isinstance(event, CheckedLink):
        action, process, at = event.action, event.process, event.at
        # `at` as `record_to_json` writes it ("...T10:00:00.000000Z"): shown to the second.
        when = f"{at[:19]}Z" if len(at) == 27 and at.endswith("Z") else at
    else:
        r = event.record
        action, process, when = r.action, r.process, _utc_text(r.at, "seconds")
    where = f" on {process}" if process else ""
    return f"event #{event.seq} ({action}{where} at {when})"


def _fault(
    chain: list[Link], i: int, known: dict[str, int], expected_head: tuple[int, str] | None
) -> tuple[int, str, int] | None:
    """Return (first bad seq, problem, events to keep as good) for chain[i], or None if it links."""
    e, prev = chain[i], (chain[i - 1] if i else None)
    head, head_hash = (prev.seq, prev.hash) if prev else (0, GENESIS_HASH)
    after = f"event #{head}" if head else "the start of the chain"
    if e.seq != head + 1:
        if e.seq < 1:
            return head + 1, f"event #{e.seq} was inserted: numbering starts at #1", i
        if e.seq == head:
            return e.seq, f"event #{e.seq} appears twice", i
        if e.seq < head:
            return e.seq, f"events are out of order at #{e.seq}: it comes after #{head}", i
        if any(head < o.seq < e.seq for o in chain[i + 1 :]):
            if e.prev_hash in known:
                return head + 1, f"events are out of order at #{head + 1}: #{e.seq} comes first", i
            return e.seq, f"{_name(e)} was inserted: it does not link to {after}", i
        gone = (
            f"events #{head + 1}-#{e.seq - 1} are" if e.seq > head + 2 else f"event #{head + 1} is"
        )
        return head + 1, f"{gone} missing: after {after} comes #{e.seq}", i
    if e.prev_hash != head_hash:
        if prev is not None and e.prev_hash == prev.prev_hash:
            why = f"{_name(prev)} was inserted: #{e.seq} links to the event before it"
            return prev.seq, why, i - 1
        j = known.get(e.prev_hash)
        if j is not None and j != i:
            where = f"#{chain[j].seq}, stored {'after' if j > i else 'before'} it"
            why = f"events are out of order at #{e.seq}: it links to {where}"
            return e.seq, why, i
        nxt = chain[i + 1] if i + 1 < len(chain) else None
        successor = nxt.prev_hash if nxt else (expected_head or (0, e.hash))[1]
        if _consistent(e) or successor != e.hash:
            return e.seq, f"{_name(e)} was inserted: it does not link to {after}", i
    if not _consistent(e):
        if isinstance(e, CheckedLink) and e.unreadable is not None:
            why = f"event #{e.seq} cannot be read any more ({e.unreadable}): the stored log was altered"
            return e.seq, why, i
        return e.seq, f"{_name(e)} was edited: its content no longer matches its hash", i
    return None


def _report(
    chain: list[Link], checked: int, bad: int | None, problem: str | None, keep: int
) -> Verification:
    head_seq, head_hash = (chain[keep - 1].seq, chain[keep - 1].hash) if keep else (0, GENESIS_HASH)
    return Verification(bad is None, checked, head_seq, head_hash, bad, problem)


def verify(events: Iterable[Link], *, expected_head: tuple[int, str] | None = None) -> Verification:
    """Check the chain (in storage order) and the head kept by storage; report the first fault."""
    chain = list(events)
    n, known = len(chain), {e.hash: i for i, e in enumerate(chain)}
    seq, prev = 0, GENESIS_HASH
    for i, e in enumerate(chain):
        # The usual case, tested inline: `_fault` finds nothing wrong with exactly such an event.
        if e.seq == seq + 1 and e.prev_hash == prev and _consistent(e):
            seq, prev = e.seq, e.hash
            continue
        fault = _fault(chain, i, known, expected_head)
        if fault is not None:
            return _report(chain, i + 1, *fault)
        seq, prev = e.seq, e.hash
    last_seq, last_hash = (chain[-1].seq, chain[-1].hash) if chain else (0, GENESIS_HASH)
    if expected_head is None or expected_head == (last_seq, last_hash):
        return _report(chain, n, None, None, n)
    ends, head_seq = f"the chain ends at #{last_seq}", expected_head[0]
    if last_seq < head_seq:
        why = f"{ends} but the head records #{head_seq}: events were removed from the end"
        return _report(chain, n, last_seq + 1, why, n)
    if last_seq > head_seq:
        why = f"{ends} but the head records #{head_seq}: events were added behind its back"
        return _report(chain, n, head_seq + 1, why, n)
    return _report(chain, n, last_seq, f"{ends} with another hash than the head's: rewritten", n)
