"""The engine on the real IBM strategy definition: one shared machine, guarded moves, nothing half-done."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from factories import PROCESS_KEY, definition, facts, full_facts
from hypothesis import given, settings
from hypothesis import strategies as st

from ibmflow import guards
from ibmflow.engine import SUSPENDED, Engine, Outcome, engine_for
from ibmflow.errors import InvalidCommand, TransitionRefused
from ibmflow.facts import Facts

DEFINITION = definition()
ENGINE = engine_for(DEFINITION)
STEPS = [s.id for s in DEFINITION.steps]
FINAL = "adopted"
FULL = full_facts()
EMPTY = facts()


def assert_no_model_attached(engine: Engine = ENGINE) -> None:
    """The shared machine holds no process after a trigger, whatever happened."""
    assert engine.machine.models == []
    assert len(engine.machine._transition_queue) == 0


# --- one machine per definition version ------------------------------------------------------


def test_one_engine_and_machine_per_definition_version() -> None:
    assert engine_for(DEFINITION) is ENGINE
    reloaded = definition()
    assert reloaded is not DEFINITION
    assert engine_for(reloaded) is ENGINE
    assert engine_for(reloaded).machine is ENGINE.machine


def test_another_version_gets_its_own_engine() -> None:
    v2 = dataclasses.replace(DEFINITION, version=2, source_hash="0" * 64)
    assert engine_for(v2) is not ENGINE
    assert engine_for(v2) is engine_for(v2)


def test_the_machine_starts_with_no_model() -> None:
    """The machine is built with model=None: processes are attached only while a trigger runs."""
    assert_no_model_attached()


# --- complete --------------------------------------------------------------------------------


def test_complete_with_unmet_guards_is_refused_with_every_blocker() -> None:
    step = "coordinating_bodies"
    with pytest.raises(TransitionRefused) as exc:
        ENGINE.fire(step, EMPTY, "complete")
    assert exc.value.blockers == (
        "6 of 6 permanent institutions have no IAWG member: Chair, Visa regimes, Border Guard, "
        "Customs Directorate, Veterinary Inspection, Phytosanitary Inspection.",
        "The implementing body has 0 task forces; name at least 1.",
        "No Terms of Reference is attached yet.",
        "The IAWG has not decided on the Terms of Reference: open a decision and collect the votes.",
    )
    assert str(exc.value) == (
        "step 'Establishment of the coordinating bodies (high-level decision-making body and "
        "implementing body) with clear Terms of Reference' cannot be completed yet: "
        "4 conditions unmet."
    )
    assert (exc.value.process, exc.value.step, exc.value.trigger) == (PROCESS_KEY, step, "complete")
    assert_no_model_attached()


@pytest.mark.parametrize("step", STEPS)
def test_complete_refused_carries_the_steps_blockers(step: str) -> None:
    with pytest.raises(TransitionRefused) as exc:
        ENGINE.fire(step, EMPTY, "complete")
    assert exc.value.blockers == tuple(ENGINE.blockers(step, EMPTY))
    assert exc.value.blockers
    assert_no_model_attached()


def test_complete_moves_step_by_step_to_adopted() -> None:
    state = DEFINITION.initial
    visited = [state]
    while state != FINAL:
        outcome = ENGINE.fire(state, FULL, "complete")
        assert outcome == Outcome(
            trigger="complete", before=state, after=DEFINITION.next_step(state) or ""
        )
        assert_no_model_attached()
        state = outcome.after
        visited.append(state)
    assert visited == [*STEPS, FINAL]


@pytest.mark.parametrize(
    ("trigger", "kwargs"),
    [
        ("complete", {}),
        ("return_to", {"target": "objectives", "reason": "reopen"}),
        ("suspend", {"reason": "elections"}),
        ("resume", {"target": "adoption", "reason": "back"}),
    ],
)
def test_no_trigger_is_possible_once_adopted(trigger: str, kwargs: dict[str, Any]) -> None:
    assert ENGINE.triggers(FINAL) == []
    with pytest.raises(TransitionRefused) as exc:
        ENGINE.fire(FINAL, FULL, trigger, **kwargs)
    assert str(exc.value) == (
        f"{trigger!r} is not possible from step 'Strategy adopted'; possible: nothing (the process "
        "is finished)."
    )
    assert exc.value.blockers == ()
    assert_no_model_attached()


def test_a_guard_that_raises_leaves_no_model_attached(monkeypatch: pytest.MonkeyPatch) -> None:
    """Even an unexpected error inside a condition detaches the process from the shared machine."""

    def boom(f: Facts, args: Any) -> list[str]:
        raise RuntimeError("guard crashed")

    original = guards.REGISTRY["coordinator_appointed"]
    monkeypatch.setitem(
        guards.REGISTRY, "coordinator_appointed", dataclasses.replace(original, check=boom)
    )
    with pytest.raises(RuntimeError, match="guard crashed"):
        ENGINE.fire("coordinator_appointment", FULL, "complete")
    assert_no_model_attached()


# --- return_to -------------------------------------------------------------------------------


@pytest.mark.parametrize("source", STEPS[1:])
def test_return_to_every_earlier_step(source: str) -> None:
    for target in STEPS[: STEPS.index(source)]:
        outcome = ENGINE.fire(source, EMPTY, "return_to", target=target, reason="gaps found")
        assert outcome == Outcome(trigger="return_to", before=source, after=target)
        assert_no_model_attached()


@pytest.mark.parametrize(
    "target", ["consultation", "final_preparation", "adoption", FINAL], ids=str
)
def test_return_to_the_same_or_a_later_step_is_refused(target: str) -> None:
    with pytest.raises(TransitionRefused) as exc:
        ENGINE.fire("consultation", FULL, "return_to", target=target, reason="skip ahead")
    assert str(exc.value) == (
        f"return_to to {target!r} is not possible from step 'Circulation of the draft strategy "
        "paper for input from all stakeholders'; only earlier steps can be returned to."
    )
    assert_no_model_attached()


def test_return_to_without_target_is_refused() -> None:
    with pytest.raises(TransitionRefused, match="only earlier steps can be returned to"):
        ENGINE.fire("consultation", FULL, "return_to", reason="no target")
    assert_no_model_attached()


@pytest.mark.parametrize("target", ["nowhere", SUSPENDED])
def test_return_to_an_unknown_step_is_an_invalid_command(target: str) -> None:
    with pytest.raises(InvalidCommand) as exc:
        ENGINE.fire("consultation", FULL, "return_to", target=target, reason="typo")
    assert str(exc.value) == (f"unknown step {target!r}; steps are {', '.join(STEPS)}.")
    assert_no_model_attached()


def test_the_first_step_has_nothing_to_return_to() -> None:
    with pytest.raises(TransitionRefused) as exc:
        ENGINE.fire(DEFINITION.initial, FULL, "return_to", target=DEFINITION.initial, reason="x")
    assert str(exc.value) == (
        "'return_to' is not possible from step 'Identification of a national coordinator'; "
        "possible: complete, suspend."
    )


# --- reasons, suspend and resume -------------------------------------------------------------


@pytest.mark.parametrize("reason", [None, "", "   ", "\n\t"], ids=repr)
@pytest.mark.parametrize(
    ("trigger", "state", "target"),
    [
        ("return_to", "objectives", "coordinating_bodies"),
        ("suspend", "objectives", None),
        ("resume", SUSPENDED, "objectives"),
    ],
)
def test_return_suspend_and_resume_need_a_reason(
    trigger: str, state: str, target: str | None, reason: str | None
) -> None:
    with pytest.raises(InvalidCommand) as exc:
        ENGINE.fire(state, FULL, trigger, target=target, reason=reason)
    assert str(exc.value) == f"{trigger} needs a reason; give one with --reason."
    assert exc.value.trigger == trigger
    assert_no_model_attached()


@pytest.mark.parametrize("step", STEPS)
def test_suspend_then_resume_returns_to_the_step_suspended_from(step: str) -> None:
    suspended = ENGINE.fire(step, EMPTY, "suspend", reason="elections")
    assert suspended == Outcome(trigger="suspend", before=step, after=SUSPENDED)
    resumed = ENGINE.fire(
        SUSPENDED, EMPTY, "resume", reason="new cabinet", suspended_from=suspended.before
    )
    assert resumed == Outcome(trigger="resume", before=SUSPENDED, after=step)
    assert_no_model_attached()


def test_resume_refuses_any_step_but_the_one_suspended_from() -> None:
    """Resuming elsewhere would skip exit guards: it is refused, naming the step to resume at."""
    with pytest.raises(InvalidCommand, match="resumes at the step it was suspended in"):
        ENGINE.fire(
            SUSPENDED,
            FULL,
            "resume",
            target="adoption",
            reason="x",
            suspended_from="coordinator_appointment",
        )
    assert_no_model_attached()


def test_resume_needs_the_step_to_return_to() -> None:
    with pytest.raises(TransitionRefused):
        ENGINE.fire(SUSPENDED, FULL, "resume", reason="new cabinet")
    assert_no_model_attached()


@pytest.mark.parametrize(
    ("trigger", "kwargs"),
    [
        ("complete", {}),
        ("suspend", {"reason": "again"}),
        ("return_to", {"target": "objectives", "reason": "x"}),
    ],
)
def test_only_resume_is_possible_while_suspended(trigger: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(TransitionRefused) as exc:
        ENGINE.fire(SUSPENDED, FULL, trigger, **kwargs)
    assert str(exc.value) == (
        f"{trigger!r} is not possible from a suspended process; possible: resume."
    )
    assert_no_model_attached()


def test_an_unknown_trigger_is_refused_with_the_possible_ones() -> None:
    with pytest.raises(TransitionRefused) as exc:
        ENGINE.fire("objectives", FULL, "approve")
    assert str(exc.value) == (
        "'approve' is not possible from step 'Definition of the main objectives'; "
        "possible: complete, return_to, suspend."
    )


# --- triggers --------------------------------------------------------------------------------


def test_triggers_per_state() -> None:
    assert ENGINE.triggers(DEFINITION.initial) == ["complete", "suspend"]
    for step in STEPS[1:]:
        assert ENGINE.triggers(step) == ["complete", "return_to", "suspend"], step
    assert ENGINE.triggers(SUSPENDED) == ["resume"]
    assert ENGINE.triggers(FINAL) == []


def test_blockers_of_suspended_and_final_states_are_empty() -> None:
    assert ENGINE.blockers(SUSPENDED, EMPTY) == []
    assert ENGINE.blockers(FINAL, EMPTY) == []


# --- random sequences: every call is a consistent Outcome or a refusal, never half-done -------

# `complete` and a real reason are drawn more often so that sequences travel deep into the process.
TRIGGERS = ["complete", "complete", "complete", "return_to", "suspend", "resume", "approve"]
REASONS = [None, "", "  ", "a reason", "a reason", "a reason"]
TARGETS = [None, *STEPS, FINAL, SUSPENDED, "nowhere"]


def _expected(
    state: str,
    remembered: str | None,
    trigger: str,
    target: str | None,
    full: bool,
    reason: str | None,
) -> str | type[Exception]:
    """What the definition says a trigger does: the state reached, or the error raised."""
    if trigger in ("return_to", "suspend", "resume") and not (reason and reason.strip()):
        return InvalidCommand
    if state == FINAL:
        possible: set[str] = set()
    elif state == SUSPENDED:
        possible = {"resume"}
    else:
        possible = {"complete", "suspend"} | ({"return_to"} if state != STEPS[0] else set())
    if trigger not in possible:
        return TransitionRefused
    if trigger == "resume":  # back to the remembered step, and to no other
        return remembered if target in (None, remembered) and remembered else InvalidCommand
    if target is not None and target not in {s.id for s in DEFINITION.states}:
        return InvalidCommand
    if trigger == "complete":
        return (DEFINITION.next_step(state) or "") if full else TransitionRefused
    if trigger == "suspend":
        return SUSPENDED
    if trigger == "resume":
        return remembered if target == remembered else TransitionRefused
    earlier = STEPS[: STEPS.index(state)]
    return target if target in earlier else TransitionRefused


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([*STEPS, FINAL]),
    st.booleans(),
    st.lists(
        st.tuples(
            st.sampled_from(TRIGGERS),
            st.sampled_from(TARGETS),
            st.sampled_from([True, True, False]),
            st.sampled_from(REASONS),
        ),
        max_size=40,
    ),
)
def test_random_trigger_sequences_never_leave_a_half_done_transition(
    start: str, start_suspended: bool, ops: list[tuple[str, str | None, bool, str | None]]
) -> None:
    """From any state, each call returns the Outcome the definition implies or raises a typed
    refusal; nothing stays attached to the shared machine and a refused call changes nothing."""
    state, remembered = start, None
    if start_suspended and start != FINAL:
        state, remembered = SUSPENDED, start
    for trigger, target, full, reason in ops:
        expected = _expected(state, remembered, trigger, target, full, reason)
        try:
            outcome = ENGINE.fire(
                state,
                FULL if full else EMPTY,
                trigger,
                target=target,
                reason=reason,
                suspended_from=remembered,
            )
        except (TransitionRefused, InvalidCommand) as exc:
            assert expected is type(exc), (state, trigger, target, full, reason, exc)
            assert (exc.step, exc.trigger) == (state, trigger)
        else:
            assert outcome == Outcome(trigger=trigger, before=state, after=str(expected))
            if trigger == "complete":
                assert outcome.after == DEFINITION.next_step(state)
            elif trigger == "return_to":
                assert DEFINITION.index(outcome.after) < DEFINITION.index(state)
            elif trigger == "suspend":
                remembered = state
            elif trigger == "resume":
                assert outcome.after == remembered
                remembered = None
            state = outcome.after
        assert_no_model_attached()
