"""The state machine of a definition, on `transitions`; pure: the facts and the time come in as arguments.

One `transitions.Machine(model=None, auto_transitions=False)` is built per definition version and shared:
a process is wrapped in a `ProcessModel`, attached with `add_model` for one trigger and detached after.
Callbacks do no I/O (transitions has no rollback); the caller persists the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transitions import EventData, Machine, MachineError

from ibmflow.definitions import Definition
from ibmflow.errors import InvalidCommand, TransitionRefused
from ibmflow.facts import Facts
from ibmflow.guards import evaluate

SUSPENDED = "suspended"
REASON_REQUIRED = frozenset({"return_to", "suspend", "resume"})


@dataclass(frozen=True)
class Outcome:
    """What a trigger did: from which state to which."""

    trigger: str
    before: str
    after: str


class ProcessModel:
    """The object transitions drives for one process (the ORM row is never the model)."""

    state: str

    def __init__(self, engine: Engine, facts: Facts) -> None:
        self.engine = engine
        self.facts = facts
        self.blockers: list[str] = []

    def exit_guards_met(self, event: EventData) -> bool:
        """Condition of `complete`: every exit guard of the current step holds."""
        self.blockers = self.engine.blockers(self.state, self.facts)
        return not self.blockers

    def is_target(self, event: EventData) -> bool:
        """Condition of `return_to`/`resume`: this transition leads where the caller asked."""
        return bool(
            event.transition is not None and event.kwargs.get("target") == event.transition.dest
        )


class Engine:
    """A definition's machine, shared by every process started on that definition version."""

    def __init__(self, definition: Definition) -> None:
        self.definition = definition
        steps = [s.id for s in definition.steps]
        states: list[str] = [s.id for s in definition.states]
        if definition.allow_suspend:
            states.append(SUSPENDED)
        self.machine = Machine(
            model=None,
            states=states,
            initial=definition.initial,
            auto_transitions=False,
            send_event=True,
            name=f"{definition.id}@v{definition.version}",
        )
        for t in definition.transitions:
            self.machine.add_transition("complete", t.source, t.dest, conditions="exit_guards_met")
        for i, source in enumerate(steps):
            if definition.allow_return:
                for target in steps[:i]:
                    self.machine.add_transition("return_to", source, target, conditions="is_target")
            if definition.allow_suspend:
                self.machine.add_transition("suspend", source, SUSPENDED)
                self.machine.add_transition("resume", SUSPENDED, source, conditions="is_target")

    def blockers(self, state: str, facts: Facts) -> list[str]:
        """The unmet exit guards of `state`, as sentences (empty: the step can be completed)."""
        if state == SUSPENDED or state not in {s.id for s in self.definition.states}:
            return []
        if self.definition.state(state).final:
            return []
        specs = [(g.name, g.args) for g in self.definition.state(state).guards]
        return evaluate(specs, facts)

    def triggers(self, state: str) -> list[str]:
        """The triggers possible from a state."""
        return sorted(self.machine.get_triggers(state))

    def fire(
        self,
        state: str,
        facts: Facts,
        trigger: str,
        *,
        target: str | None = None,
        reason: str | None = None,
        suspended_from: str | None = None,
    ) -> Outcome:
        """Apply `trigger` to a process in `state`; raise TransitionRefused and change nothing if refused.

        `resume` goes back to `suspended_from`, the step the process was suspended in, and nowhere else.
        """
        where: dict[str, Any] = {"process": facts.process_key, "step": state, "trigger": trigger}
        known = {s.id for s in self.definition.states} | {SUSPENDED}
        if state not in known:
            raise InvalidCommand(
                f"the process is in state {state!r}, which {self.definition.id} "
                f"v{self.definition.version} does not declare; states: {', '.join(sorted(known))}.",
                **where,
            )
        if trigger in REASON_REQUIRED and not (reason and reason.strip()):
            raise InvalidCommand(f"{trigger} needs a reason; give one with --reason.", **where)
        if trigger not in self.triggers(state):
            raise TransitionRefused(
                f"{trigger!r} is not possible from {self._label(state)}; possible: "
                f"{', '.join(self.triggers(state)) or 'nothing (the process is finished)'}.",
                [],
                **where,
            )
        if trigger == "resume":
            if target is not None and target != suspended_from:
                raise InvalidCommand(
                    f"a suspended process resumes at the step it was suspended in "
                    f"({suspended_from!r}), not at {target!r}; return to an earlier step after "
                    "resuming if needed.",
                    **where,
                )
            target = suspended_from
        if target is not None and target not in {s.id for s in self.definition.states}:
            raise InvalidCommand(
                f"unknown step {target!r}; steps are "
                f"{', '.join(s.id for s in self.definition.steps)}.",
                **where,
            )
        model = ProcessModel(self, facts)
        self.machine.add_model(model, initial=state)
        try:
            moved = getattr(model, trigger)(target=target, reason=reason)
        except MachineError as exc:
            raise TransitionRefused(str(exc.value), [], **where) from None
        finally:
            self.machine.remove_model(model)
        if not moved:
            if trigger == "complete":
                raise TransitionRefused(
                    f"{self._label(state)} cannot be completed yet: "
                    f"{len(model.blockers)} condition(s) unmet.",
                    model.blockers,
                    **where,
                )
            raise TransitionRefused(
                f"{trigger} to {target!r} is not possible from {self._label(state)}"
                + ("; only earlier steps can be returned to." if trigger == "return_to" else "."),
                [],
                **where,
            )
        return Outcome(trigger=trigger, before=state, after=model.state)

    def _label(self, state: str) -> str:
        if state == SUSPENDED:
            return "a suspended process"
        return f"step '{self.definition.state(state).title}'"


_ENGINES: dict[tuple[str, int, str], Engine] = {}


def engine_for(definition: Definition) -> Engine:
    """The shared engine of a definition version (built once, keyed by id, version and content hash)."""
    key = (definition.id, definition.version, definition.source_hash)
    if key not in _ENGINES:
        _ENGINES[key] = Engine(definition)
    return _ENGINES[key]
