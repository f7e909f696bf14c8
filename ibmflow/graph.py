"""The workflow as a Mermaid state diagram, drawn by transitions' Mermaid back end (no graphviz)."""

from __future__ import annotations

from transitions.extensions import GraphMachine

from ibmflow.definitions import Definition


class _Diagram:
    """A throwaway model for drawing (the engine's shared machine is left alone)."""

    state: str


def mermaid(definition: Definition, current: str | None = None) -> str:
    """Mermaid source of the definition's steps and `complete` transitions; `current` is highlighted."""
    machine = GraphMachine(
        model=None,
        states=[s.id for s in definition.states],
        initial=definition.initial,
        auto_transitions=False,
        graph_engine="mermaid",
        title=f"{definition.title} ({definition.id} v{definition.version})",
    )
    for t in definition.transitions:
        machine.add_transition(t.trigger, t.source, t.dest)
    model = _Diagram()
    states = {s.id for s in definition.states}
    machine.add_model(model, initial=current if current in states else definition.initial)
    source = str(model.get_graph().draw(None))  # type: ignore[attr-defined]
    machine.remove_model(model)
    notes = []
    if definition.allow_return:
        notes.append("%% any step may also return_to an earlier step (reason required)")
    if definition.allow_suspend:
        notes.append("%% any step may be suspended and resumed (reason required)")
    if current is not None and current not in states:
        notes.append(f"%% the process is {current}")
    return source.rstrip() + "\n" + "\n".join(notes) + ("\n" if notes else "")
