"""Tests of the pure audit chain: canonical form, round trip, and detection of every tampering."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ibmflow.audit import (
    GENESIS_HASH,
    AuditRecord,
    ChainedEvent,
    CheckedLink,
    JSONValue,
    append,
    canonical,
    canonical_json,
    event_hash,
    record_from_json,
    record_to_json,
    stored_intact,
    verify,
)

# --- strategies -------------------------------------------------------------------------------

offsets = st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23))
moments = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.builds(timezone, offsets),
)
names = st.text(min_size=1, max_size=12)
optional_names = st.none() | names
json_values: st.SearchStrategy[JSONValue] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=8,
)
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "at": moments,
    "actor": names,
    "action": names,
    "process": optional_names,
    "on_behalf_of": optional_names,
    "entity": optional_names,
    "before": json_values,
    "after": json_values,
    "reason": optional_names,
}
records = st.builds(AuditRecord, **FIELD_VALUES)
hexes = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)


def build(recs: list[AuditRecord]) -> list[ChainedEvent]:
    chain: list[ChainedEvent] = []
    for rec in recs:
        chain.append(append(chain[-1] if chain else None, rec))
    return chain


def head_of(chain: list[ChainedEvent]) -> tuple[int, str]:
    return (chain[-1].seq, chain[-1].hash) if chain else (0, GENESIS_HASH)


# --- canonical form and records ----------------------------------------------------------------

AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
REC = AuditRecord(
    at=AT, actor="coordinator@interior.example", action="step.completed", process="MA-1"
)


def test_canonical_is_pinned() -> None:
    """The exact bytes and hash are frozen: changing them would break every stored chain."""
    rec = dataclasses.replace(REC, before={"b": 1, "a": [1.5, "é"]}, after=None, reason="ok")
    assert (
        canonical(7, rec)
        == (
            '{"action":"step.completed","actor":"coordinator@interior.example",'
            '"after":null,"at":"2026-03-02T10:00:00.000000Z","before":{"a":[1.5,"é"],"b":1},'
            '"entity":null,"on_behalf_of":null,"process":"MA-1","reason":"ok","seq":7}'
        ).encode()
    )
    digest = event_hash(GENESIS_HASH, 7, rec)
    assert digest == "5e6318c59006285708eb784a5a9c2f7974e0c697dabae1fe3174a951ac2ca47c"


@given(records, st.integers(min_value=1, max_value=10**6))
def test_canonical_is_deterministic(rec: AuditRecord, seq: int) -> None:
    again = record_from_json(json.loads(json.dumps(record_to_json(rec))))
    assert canonical(seq, rec) == canonical(seq, again)
    assert event_hash(GENESIS_HASH, seq, rec) == event_hash(GENESIS_HASH, seq, again)


@given(records, st.data())
def test_canonical_is_field_sensitive(rec: AuditRecord, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(FIELD_VALUES)))
    changed = dataclasses.replace(rec, **{name: data.draw(FIELD_VALUES[name])})
    assume(changed != rec)
    assert canonical(1, changed) != canonical(1, rec)
    assert canonical(1, rec) != canonical(2, rec)
    assert event_hash(GENESIS_HASH, 1, rec) != event_hash("1" * 64, 1, rec)


def test_dict_order_does_not_matter() -> None:
    one = dataclasses.replace(REC, after={"x": 1, "y": 2})
    two = dataclasses.replace(REC, after={"y": 2, "x": 1})
    assert canonical(1, one) == canonical(1, two)


def test_time_is_normalised_to_utc() -> None:
    local = AT.astimezone(timezone(timedelta(hours=2)))
    rec = dataclasses.replace(REC, at=local)
    assert rec.at.tzinfo is UTC and rec == REC
    assert canonical(1, rec) == canonical(1, REC)


def test_naive_datetime_rejected() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        AuditRecord(at=datetime(2026, 3, 2, 10, 0), actor="a", action="b")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_rejected(bad: float) -> None:
    with pytest.raises(ValueError, match="JSON cannot represent"):
        AuditRecord(at=AT, actor="a", action="b", after={"score": [1, bad]})
    sneaky = dataclasses.replace(REC)
    object.__setattr__(sneaky, "before", bad)  # bypasses the constructor
    with pytest.raises(ValueError):
        canonical(1, sneaky)


def test_non_json_values_rejected() -> None:
    with pytest.raises(TypeError):
        AuditRecord(at=AT, actor="a", action="b", before={"s": {1, 2}})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        AuditRecord(at=AT, actor="a", action="b", before={1: "x"})  # type: ignore[dict-item]


def test_record_copies_its_json() -> None:
    state: dict[str, JSONValue] = {"status": "open"}
    rec = dataclasses.replace(REC, before=state)
    state["status"] = "closed"
    assert rec.before == {"status": "open"}


@given(records)
def test_record_json_round_trip(rec: AuditRecord) -> None:
    data = record_to_json(rec)
    assert record_from_json(data) == rec
    stored = json.loads(json.dumps(data))  # as a JSON column gives it back
    assert record_from_json(stored) == rec
    assert canonical(3, record_from_json(stored)) == canonical(3, rec)


@pytest.mark.parametrize(
    "change",
    [
        {"at": "2026-03-02T10:00:00"},
        {"at": "2026-03-02T10:00:00+02:00Z"},
        {"actor": 5},
        {"reason": ["no"]},
        {"extra": 1},
    ],
)
def test_record_from_json_rejects_garbage(change: dict[str, JSONValue]) -> None:
    with pytest.raises(ValueError):
        record_from_json({**record_to_json(REC), **change})


# --- the chain ---------------------------------------------------------------------------------


@given(st.lists(records, max_size=30))
def test_untampered_chain_verifies(recs: list[AuditRecord]) -> None:
    chain = build(recs)
    assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
    result = verify(chain, expected_head=head_of(chain))
    assert result.ok and result.problem is None and result.first_bad_seq is None
    assert (result.head_seq, result.head_hash) == head_of(chain)
    assert result.checked == len(chain)
    assert verify(iter(chain)) == result


KINDS = ["edit", "delete", "insert_naive", "insert_smart", "swap", "rehash"]


@settings(max_examples=300, deadline=None)
@given(st.lists(records, min_size=1, max_size=30), st.sampled_from(KINDS), st.data())
def test_any_tampering_is_detected(recs: list[AuditRecord], kind: str, data: st.DataObject) -> None:
    chain = build(recs)
    n = len(chain)
    events = list(chain)
    draw = data.draw
    expect: str | None = None  # the classification in the clear cases
    if kind == "edit":
        i = draw(st.integers(0, n - 1))
        name = draw(st.sampled_from(sorted(FIELD_VALUES)))
        edited = dataclasses.replace(events[i].record, **{name: draw(FIELD_VALUES[name])})
        assume(edited != events[i].record)
        events[i] = dataclasses.replace(events[i], record=edited)
        expect = f"event #{i + 1} ("
    elif kind == "delete":
        i = draw(st.integers(0, n - 1))
        del events[i]
        expect = "removed from the end" if i == n - 1 else f"event #{i + 1} is missing"
    elif kind == "insert_naive":
        forged = ChainedEvent(draw(st.integers(1, n + 1)), draw(records), draw(hexes), draw(hexes))
        events.insert(draw(st.integers(0, n)), forged)
    elif kind == "insert_smart":
        pos = draw(st.integers(0, n))
        forged = append(events[pos - 1] if pos else None, draw(records))
        events.insert(pos, forged)
        renumber = draw(st.booleans())
        if renumber:  # make the numbers look contiguous again (their hashes stay)
            for k in range(pos + 1, len(events)):
                events[k] = dataclasses.replace(events[k], seq=events[k].seq + 1)
        if pos == n:
            expect = "added behind its back"
        else:
            expect = f"event #{pos + 1} (" if renumber else f"event #{pos + 1} appears twice"
    elif kind == "swap":
        assume(n >= 2)
        i, j = sorted(draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True)))
        events[i], events[j] = events[j], events[i]
        if draw(st.booleans()):  # renumber so that seq still counts 1, 2, 3...
            events[i] = dataclasses.replace(events[i], seq=i + 1)
            events[j] = dataclasses.replace(events[j], seq=j + 1)
        expect = f"out of order at #{i + 1}"
    else:
        i = draw(st.integers(0, n - 1))
        which = draw(st.sampled_from(["hash", "prev_hash"]))
        value: Any = draw(hexes)
        assume(value != getattr(events[i], which))
        events[i] = dataclasses.replace(events[i], **{which: value})
        if which == "hash":
            expect = f"event #{i + 1} ("

    result = verify(events, expected_head=head_of(chain))

    assert result.ok is False
    assert result.problem
    assert result.first_bad_seq is not None and 1 <= result.first_bad_seq <= n + 1
    assert 0 <= result.checked <= len(events)
    assert 0 <= result.head_seq <= n + 1
    if expect is not None:
        assert expect in result.problem
    if kind == "edit" or (kind == "rehash" and expect):
        assert "was edited" in result.problem


# --- the sentences -----------------------------------------------------------------------------


def sample_chain(n: int = 20) -> list[ChainedEvent]:
    return build([dataclasses.replace(REC, entity=f"step:{k}") for k in range(n)])


def test_empty_chain_is_ok() -> None:
    assert verify([]).ok
    empty = verify([], expected_head=(0, GENESIS_HASH))
    assert empty.ok and empty.head_seq == 0 and empty.head_hash == GENESIS_HASH


def test_sentence_edited() -> None:
    chain = sample_chain()
    chain[16] = dataclasses.replace(chain[16], record=dataclasses.replace(REC, reason="forged"))
    result = verify(chain)
    assert result.problem == (
        "event #17 (step.completed on MA-1 at 2026-03-02T10:00:00Z) was edited: "
        "its content no longer matches its hash"
    )
    assert (result.first_bad_seq, result.head_seq, result.checked) == (17, 16, 17)
    assert result.head_hash == chain[15].hash


def test_sentence_missing() -> None:
    chain = sample_chain()
    del chain[17]
    result = verify(chain)
    assert result.problem == "event #18 is missing: after event #17 comes #19"
    assert result.first_bad_seq == 18 and result.head_seq == 17
    del chain[0]
    assert verify(chain).problem == "event #1 is missing: after the start of the chain comes #2"


def test_sentence_inserted() -> None:
    chain = sample_chain()
    forged = ChainedEvent(18, REC, "f" * 64, "e" * 64)
    result = verify([*chain[:17], forged, *chain[17:]])
    assert result.problem is not None
    assert result.problem.startswith("event #18 (step.completed on MA-1 at 2026-03-02T10:00:00Z)")
    assert result.problem.endswith("was inserted: it does not link to event #17")
    assert result.first_bad_seq == 18


def test_sentence_smart_insertion() -> None:
    chain = sample_chain()
    forged = append(chain[16], dataclasses.replace(REC, action="vote.cast"))
    renumbered = [dataclasses.replace(e, seq=e.seq + 1) for e in chain[17:]]
    result = verify([*chain[:17], forged, *renumbered])
    assert result.problem == (
        "event #18 (vote.cast on MA-1 at 2026-03-02T10:00:00Z) was inserted: "
        "#19 links to the event before it"
    )
    assert (result.first_bad_seq, result.head_seq) == (18, 17)
    result = verify([*chain[:17], forged, *chain[17:]])
    assert result.problem == "event #18 appears twice"


def test_sentence_out_of_order() -> None:
    chain = sample_chain()
    chain[17], chain[18] = chain[18], chain[17]
    result = verify(chain)
    assert result.problem == "events are out of order at #18: #19 comes first"
    assert result.first_bad_seq == 18
    chain[17] = dataclasses.replace(chain[17], seq=18)
    chain[18] = dataclasses.replace(chain[18], seq=19)
    result = verify(chain)
    assert result.problem == "events are out of order at #18: it links to #19, stored after it"
    assert (result.first_bad_seq, result.head_seq) == (18, 17)


def test_sentence_seq_decreases() -> None:
    chain = sample_chain()
    result = verify([*chain[:10], chain[3], *chain[10:]])
    assert result.problem == "events are out of order at #4: it comes after #10"


def test_sentence_truncated() -> None:
    chain = sample_chain(42)
    head = head_of(chain)
    result = verify(chain[:40], expected_head=head)
    assert result.problem == (
        "the chain ends at #40 but the head records #42: events were removed from the end"
    )
    assert (result.first_bad_seq, result.head_seq, result.head_hash) == (41, 40, chain[39].hash)
    everything = verify([], expected_head=head)
    assert not everything.ok and everything.first_bad_seq == 1


def test_sentence_head_mismatch() -> None:
    chain = sample_chain(5)
    replaced = [*chain[:4], append(chain[3], dataclasses.replace(REC, reason="rewritten"))]
    result = verify(replaced, expected_head=head_of(chain))
    assert not result.ok and result.first_bad_seq == 5
    assert result.problem is not None and "another hash" in result.problem
    extra = verify(chain, expected_head=head_of(chain[:4]))
    assert not extra.ok and extra.first_bad_seq == 5 and "head records #4" in (extra.problem or "")


# --- the stored form, checked without rebuilding records ----------------------------------------


def reference_canonical(seq: int, record: AuditRecord) -> bytes:
    """The canonical form as first written: json.dumps of the whole body."""
    body = {"seq": seq, **record_to_json(record)}
    text = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


@given(records, st.integers(min_value=1, max_value=10**9))
def test_canonical_is_json_dumps_of_the_whole(rec: AuditRecord, seq: int) -> None:
    assert canonical(seq, rec) == reference_canonical(seq, rec)


def stored_parts(rec: AuditRecord, spaced: bool) -> dict[str, Any]:
    """The parts `stored_intact` takes, as storage writes them now (compact) or did (spaced)."""

    def dump(value: JSONValue) -> str | None:
        if value is None:
            return None
        return (
            json.dumps(value, sort_keys=True, ensure_ascii=False)
            if spaced
            else canonical_json(value)
        )

    return {
        "at": record_to_json(rec)["at"],
        "actor": rec.actor,
        "on_behalf_of": rec.on_behalf_of,
        "action": rec.action,
        "process": rec.process,
        "entity": rec.entity,
        "before_json": dump(rec.before),
        "after_json": dump(rec.after),
        "reason": rec.reason,
    }


def slow_canonical(seq: int, parts: dict[str, Any]) -> bytes | None:
    """What the slow way makes of stored parts: the record rebuilt (None if it cannot be)."""

    def load(text: str | None) -> JSONValue:
        return None if text is None else json.loads(text)

    try:
        rec = AuditRecord(
            at=datetime.fromisoformat(parts["at"][:-1]).replace(tzinfo=UTC),
            actor=parts["actor"],
            action=parts["action"],
            process=parts["process"],
            on_behalf_of=parts["on_behalf_of"],
            entity=parts["entity"],
            before=load(parts["before_json"]),
            after=load(parts["after_json"]),
            reason=parts["reason"],
        )
        return canonical(seq, rec)
    except (ValueError, TypeError):
        return None


@given(records, st.integers(1, 10**6), st.booleans())
def test_stored_parts_of_a_record_are_intact(rec: AuditRecord, seq: int, spaced: bool) -> None:
    digest = event_hash(GENESIS_HASH, seq, rec)
    assert stored_intact(digest, GENESIS_HASH, seq, **stored_parts(rec, spaced))
    assert not stored_intact(digest, GENESIS_HASH, seq + 1, **stored_parts(rec, spaced))
    assert not stored_intact(digest, "1" * 64, seq, **stored_parts(rec, spaced))


TEXT_PARTS = ["at", "actor", "action", "process", "on_behalf_of", "entity", "reason"]


@settings(max_examples=300)
@given(records, st.booleans(), st.data())
def test_stored_intact_accepts_only_what_the_record_rebuilt_would(
    rec: AuditRecord, spaced: bool, data: st.DataObject
) -> None:
    """Tampering with the stored parts (one or two of them: a JSON text cut, padded, edited or moved
    into its neighbour, a text field replaced) passes the quick check only when rebuilding the
    record the slow way gives the very same canonical bytes: the quick way is never weaker."""
    seq = 7
    parts = stored_parts(rec, spaced)
    for _ in range(data.draw(st.integers(1, 2))):
        name = data.draw(st.sampled_from([*TEXT_PARTS, "before_json", "after_json"]))
        old = parts[name] or ""
        how = data.draw(st.sampled_from(["cut", "pad", "edit", "move", "replace", "null"]))
        if how == "cut" and old:
            k = data.draw(st.integers(0, len(old) - 1))
            parts[name] = old[:k] + old[k + 1 :]
        elif how == "pad":
            k = data.draw(st.integers(0, len(old)))
            parts[name] = (
                old[:k] + data.draw(st.sampled_from([" ", ",", ":", '"', "\\", "}"])) + old[k:]
            )
        elif how == "edit" and old:
            k = data.draw(st.integers(0, len(old) - 1))
            parts[name] = old[:k] + data.draw(st.characters()) + old[k + 1 :]
        elif how == "move":  # text moved from the end of after_json to the front of `at`
            after = parts["after_json"] or ""
            k = data.draw(st.integers(0, len(after)))
            parts["after_json"], parts["at"] = after[:k], after[k:] + (parts["at"] or "")
        elif how == "replace":
            parts[name] = data.draw(st.text(max_size=12))
        else:
            parts[name] = None
    digest = event_hash(GENESIS_HASH, seq, rec)
    if stored_intact(digest, GENESIS_HASH, seq, **parts):
        assert slow_canonical(seq, parts) == canonical(seq, rec)


def checked(event: ChainedEvent, **change: Any) -> CheckedLink:
    """The link storage makes of an event it checked as read."""
    link = CheckedLink(
        event.seq,
        event.prev_hash,
        event.hash,
        True,
        event.record.action,
        event.record.process,
        record_to_json(event.record)["at"],  # type: ignore[arg-type]
    )
    return link._replace(**change)


def test_checked_links_verify_and_name_events_as_records_do() -> None:
    chain = sample_chain()
    links: list[ChainedEvent | CheckedLink] = [checked(e) for e in chain]
    assert verify(links, expected_head=head_of(chain)) == verify(
        chain, expected_head=head_of(chain)
    )
    edited = list(chain)
    edited[16] = dataclasses.replace(chain[16], record=dataclasses.replace(REC, reason="forged"))
    links[16] = checked(chain[16], intact=False)
    assert verify(links) == verify(edited)
    assert verify(links).problem == (
        "event #17 (step.completed on MA-1 at 2026-03-02T10:00:00Z) was edited: "
        "its content no longer matches its hash"
    )
    links[16] = checked(chain[16], intact=False, at="forged", unreadable="Invalid isoformat")
    result = verify(links)
    assert result.problem == (
        "event #17 cannot be read any more (Invalid isoformat): the stored log was altered"
    )
    assert (result.first_bad_seq, result.head_seq) == (17, 16)


def test_a_record_keeps_copies_of_its_values_and_names_the_place_of_one_it_cannot_hold() -> None:
    """Plain values are kept as given, lists and objects are copied (a later change to the
    caller's dict does not reach the record), and a value JSON cannot hold is refused with its
    place in the record, however deep."""
    at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    after: dict[str, Any] = {"to": ["a@x.org", None, 3, True], "due": {"days": 10, "ratio": 0.5}}
    record = AuditRecord(at=at, actor="a@x.org", action="request.sent", after=after)
    after["to"].append("b@x.org")
    after["due"]["days"] = 11
    assert record.after == {"to": ["a@x.org", None, 3, True], "due": {"days": 10, "ratio": 0.5}}
    with pytest.raises(ValueError, match=r"after\.due\.ratios\[1\] holds nan"):
        AuditRecord(at=at, actor="a", action="x", after={"due": {"ratios": [1.0, math.nan]}})
    with pytest.raises(TypeError, match=r"before\[0\]\.at holds a datetime"):
        AuditRecord(at=at, actor="a", action="x", before=[{"at": at}])
