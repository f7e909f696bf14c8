"""The frozen dataclasses a workflow definition is loaded into: the definition, its states with their
guards, notifications and openings, and its transitions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ibmflow.guards import REGISTRY
from ibmflow.ladder import Chase


@dataclass(frozen=True)
class GuardSpec:
    """A named exit guard with its arguments, resolved from the guard registry."""

    name: str
    args: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Notification:
    """A mail a state sends when it is entered or completed, to the roles named."""

    on: str
    template: str
    to: tuple[str, ...]


@dataclass(frozen=True)
class Opening:
    """Requests a state sends when it is entered: one kind, to the institutions in scope."""

    kind: str
    scope: str
    due_days: int
    instructions: str


@dataclass(frozen=True)
class StateDef:
    """One declared state: a key step of the process, or a final state."""

    id: str
    title: str
    description: str
    owner: str
    target_days: int | None
    guards: tuple[GuardSpec, ...]
    notify: tuple[Notification, ...]
    opens: tuple[Opening, ...]
    final: bool


@dataclass(frozen=True)
class TransitionDef:
    """A declared `complete` transition from one step to the next."""

    trigger: str
    source: str
    dest: str


@dataclass(frozen=True)
class Definition:
    """A validated, frozen workflow definition."""

    id: str
    version: int
    title: str
    description: str
    initial: str
    states: tuple[StateDef, ...]
    transitions: tuple[TransitionDef, ...]
    allow_return: bool
    allow_suspend: bool
    source_hash: str
    source_text: str
    filename: str
    chase: Chase = field(default_factory=Chase)

    def state(self, state_id: str) -> StateDef:
        """The state with this id (KeyError when unknown)."""
        for state in self.states:
            if state.id == state_id:
                return state
        raise KeyError(state_id)

    @property
    def steps(self) -> tuple[StateDef, ...]:
        """The non-final states, in declaration order."""
        return tuple(s for s in self.states if not s.final)

    def index(self, state_id: str) -> int:
        """Position of a state in declaration order (used for "earlier step")."""
        return [s.id for s in self.states].index(state_id)

    def next_step(self, state_id: str) -> str | None:
        """Where `complete` leads from this state, or None."""
        for t in self.transitions:
            if t.source == state_id and t.trigger == "complete":
                return t.dest
        return None

    def notifications(self, state_id: str, on: str) -> tuple[Notification, ...]:
        """The notifications a state declares for entering or completing it."""
        return tuple(n for n in self.state(state_id).notify if n.on == on)

    def steps_that(self, does: str) -> tuple[str, ...]:
        """The ids of the steps for a piece of work ("chapters", "consultation", "adoption"): those
        with an exit guard declaring it (`guards.guard(..., does=...)`), in declaration order."""
        return tuple(
            s.id for s in self.steps if any(REGISTRY[g.name].does == does for g in s.guards)
        )
