"""The state machine of a definition, on `transitions`; pure: the facts and the time come in as arguments.

One `transitions.Machine(model=None, auto_transitions=False)` is built per definition version and shared:
a process is wrapped in a `ProcessModel` for one trigger, which the machine's event runs on that model
without attaching it (`add_model` would give it a method per trigger and state, and register it on the
shared machine, only to take it all off again). Callbacks do no I/O (transitions has no rollback); the
caller persists the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transitions import EventData, Machine, MachineError

from ibmflow.definitions import Definition
from ibmflow.errors import InvalidCommand, TransitionRefused
from ibmflow.facts import Facts
from ibmflow.guards import evaluate
from ibmflow.i18n import _, ngettext

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

    def __init__(self, engine: Engine, facts: Facts, state: str) -> None:
        self.engine = engine
        self.facts = facts
        self.state = state  # the machine reads and sets it (its `model_attribute`)
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
        self._declared = frozenset(states)  # the definition's states (not `suspended`)
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
        # The machine is complete and never changes: the triggers of each state, worked out once.
        self._triggers = {
            state: tuple(sorted(self.machine.get_triggers(state)))
            for state in [*self._declared, SUSPENDED]
        }

    def blockers(self, state: str, facts: Facts) -> list[str]:
        """The unmet exit guards of `state`, as sentences (empty: the step can be completed)."""
        if state == SUSPENDED or state not in self._declared:
            return []
        if self.definition.state(state).final:
            return []
        specs = [(g.name, g.args) for g in self.definition.state(state).guards]
        return evaluate(specs, facts)

    def triggers(self, state: str) -> list[str]:
        """The triggers possible from a state."""
        return list(self._triggers.get(state, ()))  # an undeclared state has none

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
        if state not in self._declared and state != SUSPENDED:
            known = self._declared | {SUSPENDED}
            raise InvalidCommand(
                _(
                    "the process is in state %(state)r, which %(id)s v%(version)s does not "
                    "declare; states: %(states)s.",
                    state=state,
                    id=self.definition.id,
                    version=self.definition.version,
                    states=", ".join(sorted(known)),
                ),
                **where,
            )
        if trigger in REASON_REQUIRED and not (reason and reason.strip()):
            raise InvalidCommand(
                _("%(trigger)s needs a reason; give one with --reason.", trigger=trigger), **where
            )
        if trigger not in self._triggers[state]:
            raise TransitionRefused(
                _(
                    "%(trigger)r is not possible from %(where)s; possible: %(possible)s.",
                    trigger=trigger,
                    where=self._label(state),
                    possible=", ".join(self.triggers(state))
                    or _("nothing (the process is finished)"),
                ),
                [],
                **where,
            )
        if trigger == "resume":
            if target is not None and target != suspended_from:
                raise InvalidCommand(
                    _(
                        "a suspended process resumes at the step it was suspended in "
                        "(%(suspended_from)r), not at %(target)r; return to an earlier step "
                        "after resuming if needed.",
                        suspended_from=suspended_from,
                        target=target,
                    ),
                    **where,
                )
            target = suspended_from
        if target is not None and target not in self._declared:
            raise InvalidCommand(
                _(
                    "unknown step %(target)r; steps are %(steps)s.",
                    target=target,
                    steps=", ".join(s.id for s in self.definition.steps),
                ),
                **where,
            )
        model = ProcessModel(self, facts, state)
        try:
            # What `model.<trigger>(...)` runs once `add_model` has attached the model; the model
            # is this call's alone, so nothing of it stays on the shared machine.
            moved = self.machine.events[trigger].trigger(model, target=target, reason=reason)
        except MachineError as exc:
            raise TransitionRefused(str(exc.value), [], **where) from None
        if not moved:
            if trigger == "complete":
                raise TransitionRefused(
                    ngettext(
                        "%(where)s cannot be completed yet: %(num)s condition unmet.",
                        "%(where)s cannot be completed yet: %(num)s conditions unmet.",
                        len(model.blockers),
                        where=self._label(state),
                    ),
                    model.blockers,
                    **where,
                )
            if trigger == "return_to":
                message = _(
                    "%(trigger)s to %(target)r is not possible from %(where)s; only earlier steps "
                    "can be returned to.",
                    trigger=trigger,
                    target=target,
                    where=self._label(state),
                )
            else:
                message = _(
                    "%(trigger)s to %(target)r is not possible from %(where)s.",
                    trigger=trigger,
                    target=target,
                    where=self._label(state),
                )
            raise TransitionRefused(message, [], **where)
        return Outcome(trigger=trigger, before=state, after=model.state)

    def _label(self, state: str) -> str:
        """The state as a refusal names it: "step 'X'", "a suspended process"."""
        if state == SUSPENDED:
            return _("a suspended process")
        return _("step '%(title)s'", title=self.definition.state(state).title)


_ENGINES: dict[tuple[str, int, str], Engine] = {}


def engine_for(definition: Definition) -> Engine:
    """The shared engine of a definition version (built once, keyed by id, version and content hash)."""
    key = (definition.id, definition.version, definition.source_hash)
    if key not in _ENGINES:
        _ENGINES[key] = Engine(definition)
    return _ENGINES[key]
