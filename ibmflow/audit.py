"""Pure core of the tamper-evident audit log: records, their hash chain, and its verification."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import TypeAlias

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None
GENESIS_HASH = "0" * 64


def _checked(value: object, where: str) -> JSONValue:
    """Return a private copy of `value` after checking it is finite JSON with string keys."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} holds {value}, which JSON cannot represent")
        return value
    if isinstance(value, list):
        return [_checked(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError(f"{where} has a key that is not a string")
        return {key: _checked(item, f"{where}.{key}") for key, item in value.items()}
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


def canonical(seq: int, record: AuditRecord) -> bytes:
    """Serialise `seq` and every field of `record` deterministically (sorted compact UTF-8 JSON)."""
    body = {"seq": seq, **record_to_json(record)}
    text = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def event_hash(prev_hash: str, seq: int, record: AuditRecord) -> str:
    """Return the hex SHA-256 of `prev_hash` followed by `canonical(seq, record)`."""
    return hashlib.sha256(prev_hash.encode("utf-8") + canonical(seq, record)).hexdigest()


def append(previous: ChainedEvent | None, record: AuditRecord) -> ChainedEvent:
    """Return the link that follows `previous` (or starts the chain when it is None)."""
    seq = 1 if previous is None else previous.seq + 1
    prev_hash = GENESIS_HASH if previous is None else previous.hash
    return ChainedEvent(seq, record, prev_hash, event_hash(prev_hash, seq, record))


def _consistent(event: ChainedEvent) -> bool:
    try:
        return event_hash(event.prev_hash, event.seq, event.record) == event.hash
    except (ValueError, TypeError):
        return False


def _name(event: ChainedEvent) -> str:
    r = event.record
    where = f" on {r.process}" if r.process else ""
    return f"event #{event.seq} ({r.action}{where} at {_utc_text(r.at, 'seconds')})"


def _fault(
    chain: list[ChainedEvent], i: int, known: dict[str, int], expected_head: tuple[int, str] | None
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
        return e.seq, f"{_name(e)} was edited: its content no longer matches its hash", i
    return None


def _report(
    chain: list[ChainedEvent], checked: int, bad: int | None, problem: str | None, keep: int
) -> Verification:
    head_seq, head_hash = (chain[keep - 1].seq, chain[keep - 1].hash) if keep else (0, GENESIS_HASH)
    return Verification(bad is None, checked, head_seq, head_hash, bad, problem)


def verify(
    events: Iterable[ChainedEvent], *, expected_head: tuple[int, str] | None = None
) -> Verification:
    """Check the chain (in storage order) and the head kept by storage; report the first fault."""
    chain = list(events)
    n, known = len(chain), {e.hash: i for i, e in enumerate(chain)}
    for i in range(n):
        fault = _fault(chain, i, known, expected_head)
        if fault is not None:
            return _report(chain, i + 1, *fault)
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
