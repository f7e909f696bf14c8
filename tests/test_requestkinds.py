"""Tests of the one registry of request kinds: every kind a workflow file names is registered, the
lists derived from the registry are what they were, and services find steps by what they are for."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from ibmflow.definitions import parse_definition
from ibmflow.errors import DefinitionError
from ibmflow.guards import REGISTRY
from ibmflow.mail.render import MESSAGE_KINDS
from ibmflow.requestkinds import ANSWERERS, KINDS, LABELS, OPENABLE, VOTE

REPO = Path(__file__).resolve().parent.parent
WORKFLOW_FILES = sorted(
    [*(REPO / "workflows").glob("*.toml"), *(REPO / "tests" / "workflows" / "valid").glob("*.toml")]
)
REAL = REPO / "workflows" / "ibm_strategy.toml"


def _kinds_used(doc: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The kinds a workflow file names: those its steps open, and every other (chaser ladders,
    `requests_answered` guards)."""
    opened: set[str] = set()
    named: set[str] = set(doc.get("chase", {}).get("kinds", {}))
    for state in doc.get("states", []):
        opened |= {o["kind"] for o in state.get("opens", [])}
        for g in state.get("guards", []):
            named |= set(g.get("args", {}).get("kinds", []))
    return opened, named


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_every_kind_a_workflow_file_names_is_registered(path: Path) -> None:
    opened, named = _kinds_used(tomllib.loads(path.read_text(encoding="utf-8")))
    assert opened | named <= set(KINDS), f"{path.name} names unregistered kinds"
    assert all(KINDS[k].openable for k in opened), f"{path.name} opens a kind no step may open"


def test_the_real_workflow_names_kinds() -> None:
    opened, named = _kinds_used(tomllib.loads(REAL.read_text(encoding="utf-8")))
    assert opened == {
        "acknowledge_contact",
        "self_assessment",
        "activity_inventory",
        "consultation_comments",
    }
    assert {"vote", "self_assessment", "activity_inventory"} <= named


def test_derived_lists_are_what_the_three_lists_were() -> None:
    # facts.REQUEST_KINDS, as it was.
    assert LABELS == {
        "acknowledge_contact": "acknowledgement of the contact request",
        "self_assessment": "self-assessment",
        "activity_inventory": "inventory of ongoing and planned activities",
        "chapter_draft": "chapter draft",
        "consultation_comments": "consultation comments",
        "vote": "vote",
    }
    assert list(LABELS) == list(KINDS)
    # definitions.OPENABLE_KINDS, as it was.
    assert OPENABLE == (
        "acknowledge_contact",
        "self_assessment",
        "activity_inventory",
        "chapter_draft",
        "consultation_comments",
    )
    # The kinds a chaser ladder may name: (*OPENABLE_KINDS, "vote"), as it was.
    assert tuple(KINDS) == (*OPENABLE, "vote")


def test_the_vote_is_the_one_ballot_kind() -> None:
    assert VOTE.name == "vote"
    assert [k.name for k in KINDS.values() if k.is_vote] == ["vote"]
    assert not VOTE.openable
    assert VOTE.template == "vote" and VOTE.chased_as == "the voter"
    assert VOTE.who_answers == "its IAWG member or the representative they nominated"
    for kind in KINDS.values():
        if not kind.is_vote:
            assert kind.template == "request" and kind.chased_as == "the focal point"
            assert kind.who_answers == "a focal point or a deputy registered for one"


def test_every_kind_has_a_known_template_answerer_and_addressing() -> None:
    for kind in KINDS.values():
        assert kind.template in MESSAGE_KINDS
        assert kind.answered_by in ANSWERERS
        assert kind.per in ("focal_point", "institution")
        assert kind.name == kind.name.strip() and kind.label


def test_an_unregistered_kind_in_a_workflow_file_is_refused() -> None:
    text = REAL.read_text(encoding="utf-8").replace(
        'kind = "consultation_comments"', 'kind = "gossip"'
    )
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text, "gossip.toml")
    assert any("unknown request kind 'gossip'" in p.what for p in caught.value.problems)
    text = REAL.read_text(encoding="utf-8").replace(
        'kind = "consultation_comments"', 'kind = "vote"'
    )
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text, "vote.toml")
    assert any("votes go with decisions" in p.what for p in caught.value.problems)


def test_steps_are_found_by_what_they_are_for() -> None:
    definition = parse_definition(REAL.read_text(encoding="utf-8"), REAL.name)
    assert definition.steps_that("chapters") == ("chapter_drafting",)
    assert definition.steps_that("consultation") == ("consultation",)
    assert definition.steps_that("adoption") == ("adoption",)
    assert definition.steps_that("nothing") == ()
    declared = {g.does for g in REGISTRY.values() if g.does}
    assert declared == {"chapters", "consultation", "adoption"}


def test_a_renamed_step_is_still_found_by_its_guard() -> None:
    text = REAL.read_text(encoding="utf-8").replace('"chapter_drafting"', '"drafting"')
    definition = parse_definition(text, "renamed.toml")
    assert definition.steps_that("chapters") == ("drafting",)
