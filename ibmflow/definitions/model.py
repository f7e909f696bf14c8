"""The frozen dataclasses a workflow definition is loaded into: the definition, its states with their
guards, notifications and openings, and its transitions; and `Localized`, a text in each of the
workflow's languages, read in the reader's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ibmflow import i18n
from ibmflow.guards import REGISTRY
from ibmflow.ladder import Chase


@dataclass(frozen=True)
class Localized:
    """A text of the definition (a title, a description, a request's instructions) in each of the
    workflow's languages, the workflow's first language first.

    `str()` (and Jinja's autoescape, which calls it) gives the text in the reader's language
    (`i18n.language()`), falling back to the workflow's first language; the pseudo-locale gets the
    English text (else the first) accented and bracketed, so pseudo-locale tests see it translated.
    """

    texts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, texts: Mapping[str, str]) -> Localized:
        return cls(MappingProxyType(dict(texts)))

    def get(self, lang: str | None = None) -> str:
        """The text in `lang` (default: the reader's language), else in the first language."""
        if not self.texts:
            return ""
        lang = lang or i18n.language()
        if lang in self.texts:
            return self.texts[lang]
        if lang == i18n.PSEUDO:
            from ibmflow.catalogs import pseudo_text  # only tests speak the pseudo-locale

            return pseudo_text(self.texts.get(i18n.SOURCE) or self.first)
        return self.texts.get(lang.split("_")[0]) or self.first

    @property
    def first(self) -> str:
        """The text in the workflow's first language."""
        return next(iter(self.texts.values()), "")

    def variants(self) -> frozenset[str]:
        """Every language's text (to recognise a stored copy of one of them)."""
        return frozenset(self.texts.values())

    def __str__(self) -> str:
        return self.get()

    def __bool__(self) -> bool:
        return any(self.texts.values())


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
    instructions_text: Localized

    @property
    def instructions(self) -> str:
        """What the request asks, in the reader's language."""
        return self.instructions_text.get()


@dataclass(frozen=True)
class StateDef:
    """One declared state: a key step of the process, or a final state."""

    id: str
    title_text: Localized
    description_text: Localized
    owner: str
    target_days: int | None
    guards: tuple[GuardSpec, ...]
    notify: tuple[Notification, ...]
    opens: tuple[Opening, ...]
    final: bool

    @property
    def title(self) -> str:
        """The step's title in the reader's language."""
        return self.title_text.get()

    @property
    def description(self) -> str:
        """The step's description in the reader's language."""
        return self.description_text.get()


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
    title_text: Localized
    description_text: Localized
    initial: str
    states: tuple[StateDef, ...]
    transitions: tuple[TransitionDef, ...]
    allow_return: bool
    allow_suspend: bool
    source_hash: str
    source_text: str
    filename: str
    chase: Chase = field(default_factory=Chase)
    # The languages its texts are written in, the first being the one a missing text falls back to.
    languages: tuple[str, ...] = (i18n.SOURCE,)

    @property
    def title(self) -> str:
        """The workflow's title in the reader's language."""
        return self.title_text.get()

    @property
    def description(self) -> str:
        """The workflow's description in the reader's language."""
        return self.description_text.get()

    def instructions(self, step: str, kind: str, stored: str) -> str:
        """The instructions of a request as the reader should see them: a request opened by a
        step's `opens` stores the text in the workflow's first language; any language's copy of it
        is shown in the reader's. Instructions someone typed are shown as they were written."""
        try:
            openings = self.state(step).opens
        except KeyError:
            return stored
        for opening in openings:
            if opening.kind == kind and stored.strip() in opening.instructions_text.variants():
                return opening.instructions
        return stored

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
