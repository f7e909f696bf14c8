"""Parse and validate a definition's TOML text: every problem collected at once, each naming the file,
the place in it and what is wrong; the result is a frozen `Definition` with the hash of its source.

A text shown to people (a title, a description, a request's instructions) is either a plain string,
in the workflow's one language, or a table of the languages `[workflow] languages` declares
(`title.en = "..."`, `title.fr = "..."`); each declared language must have its text."""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable, Sequence
from types import MappingProxyType

from ibmflow.definitions.checker import Checker, read_languages
from ibmflow.definitions.model import (
    Definition,
    GuardSpec,
    Notification,
    Opening,
    StateDef,
    TransitionDef,
)
from ibmflow.errors import DefinitionError
from ibmflow.guards import REGISTRY, check_guard_args
from ibmflow.ladder import parse_chase
from ibmflow.requestkinds import KINDS, OPENABLE

RESERVED_STATES = frozenset({"suspended"})
OWNER_ROLES = frozenset(
    {"initiator", "chair", "coordinator", "iawg", "task_forces", "highest_authority"}
)
RECIPIENT_ROLES = frozenset(
    {"coordinator", "chair", "iawg_members", "representatives", "focal_points", "managers"}
)
NOTIFICATION_TEMPLATES = frozenset(
    {"step_entered", "step_completed", "decision_result", "process_adopted", "step_overdue"}
)
NOTIFY_ON = frozenset({"enter", "complete"})
TRIGGERS = frozenset({"complete"})
MAX_TARGET_DAYS = 3650

_TOP_KEYS = {"workflow", "states", "transitions", "controls", "chase"}
_WORKFLOW_KEYS = {"id", "version", "title", "description", "initial", "languages"}
_STATE_KEYS = {
    "id",
    "title",
    "description",
    "owner",
    "target_days",
    "guards",
    "notify",
    "opens",
    "final",
}
_OPENS_KEYS = {"kind", "scope", "due_days", "instructions"}
SCOPES = ("permanent", "involved", "all")
_GUARD_KEYS = {"name", "args"}
_NOTIFY_KEYS = {"on", "template", "to"}
_TRANSITION_KEYS = {"trigger", "source", "dest"}
_CONTROL_KEYS = {"return_to", "suspend"}


def _line_of(message: str) -> str:
    match = re.search(r"at line (\d+)", message)
    return f"line {match.group(1)}" if match else "file"


def parse_definition(text: str, filename: str) -> Definition:
    """Parse and validate a definition's source text; raise DefinitionError with every problem."""
    chk = Checker(filename)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        chk.add(_line_of(str(exc)), f"TOML syntax error: {exc}")
        raise DefinitionError(chk.problems) from None
    doc = chk.table(raw, "", _TOP_KEYS)
    wf = chk.table(doc.get("workflow", {}), "workflow", _WORKFLOW_KEYS)
    if "workflow" not in doc:
        chk.add("workflow", "missing; add a [workflow] table with id, version, title and initial")
    wf_id = chk.ident(wf, "id", "workflow")
    version = wf.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        chk.add("workflow.version", f"expected a whole number of at least 1, found {version!r}")
        version = 0
    chk.languages = read_languages(chk, wf.get("languages"))
    title = chk.localized(wf, "title", "workflow")
    description = chk.localized(wf, "description", "workflow", required=False)
    initial = chk.ident(wf, "initial", "workflow")

    states = _read_states(chk, doc.get("states", []))
    ids = [s.id for s in states]
    transitions = _read_transitions(chk, doc.get("transitions", []), set(ids), states)
    controls = chk.table(doc.get("controls", {}), "controls", _CONTROL_KEYS)
    for key in _CONTROL_KEYS & set(controls):
        if not isinstance(controls[key], bool):
            chk.add(f"controls.{key}", f"expected true or false, found {controls[key]!r}")
    if initial and ids and initial not in ids:
        chk.add("workflow.initial", f"unknown state {initial!r}; declare it under [[states]]")
    _check_graph(chk, initial, states, transitions)
    chase = parse_chase(doc.get("chase"), chk.add, tuple(KINDS))
    if chk.problems:
        raise DefinitionError(chk.problems)
    return Definition(
        id=wf_id,
        version=version,
        title_text=title,
        description_text=description,
        initial=initial,
        states=tuple(states),
        transitions=tuple(transitions),
        allow_return=bool(controls.get("return_to", True)),
        allow_suspend=bool(controls.get("suspend", True)),
        source_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        source_text=text,
        filename=filename,
        chase=chase,
        languages=chk.languages,
    )


def _read_states(chk: Checker, raw_states: object) -> list[StateDef]:
    if not isinstance(raw_states, list) or not raw_states:
        chk.add("states", "expected at least one [[states]] table")
        return []
    states: list[StateDef] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_states, start=1):
        where = f"states[{i}]"
        data = chk.table(raw, where, _STATE_KEYS)
        sid = chk.ident(data, "id", where)
        where = f"states[{i}] ({sid})" if sid else where
        if sid in seen:
            chk.add(
                f"{where}.id", f"duplicate state id {sid!r} (first declared as states[{seen[sid]}])"
            )
        elif sid in RESERVED_STATES:
            chk.add(f"{where}.id", f"{sid!r} is reserved by the engine; choose another id")
        seen.setdefault(sid, i)
        final = data.get("final", False)
        if not isinstance(final, bool):
            chk.add(f"{where}.final", f"expected true or false, found {final!r}")
            final = False
        owner = data.get("owner", "coordinator")
        if not isinstance(owner, str) or owner not in OWNER_ROLES:
            chk.add(
                f"{where}.owner", f"unknown role {owner!r}; one of {', '.join(sorted(OWNER_ROLES))}"
            )
        target = data.get("target_days")
        if target is None and not final:
            chk.add(
                f"{where}.target_days", "missing; give the step's target duration in working days"
            )
        elif target is not None and (
            not isinstance(target, int)
            or isinstance(target, bool)
            or not 1 <= target <= MAX_TARGET_DAYS
        ):
            chk.add(
                f"{where}.target_days",
                f"bad duration {target!r}; expected a whole number of working days from 1 to "
                f"{MAX_TARGET_DAYS}",
            )
            target = None
        guards = _read_guards(chk, data.get("guards", []), where)
        if final and guards:
            chk.add(f"{where}.guards", "a final state has no exit, so it cannot have exit guards")
        states.append(
            StateDef(
                id=sid,
                title_text=chk.localized(data, "title", where),
                description_text=chk.localized(data, "description", where, required=not final),
                owner=owner if isinstance(owner, str) else "coordinator",
                target_days=target,
                guards=tuple(guards),
                notify=tuple(_read_notify(chk, data.get("notify", []), where)),
                opens=tuple(_read_opens(chk, data.get("opens", []), where)),
                final=final,
            )
        )
    return states


def _read_guards(chk: Checker, raw: object, where: str) -> list[GuardSpec]:
    if not isinstance(raw, list):
        chk.add(f"{where}.guards", 'expected a list of guards like [{ name = "..." }]')
        return []
    guards = []
    for j, item in enumerate(raw, start=1):
        gwhere = f"{where}.guards[{j}]"
        data = chk.table(item, gwhere, _GUARD_KEYS)
        name = chk.text(data, "name", gwhere)
        args = data.get("args", {})
        if not isinstance(args, dict):
            chk.add(f"{gwhere}.args", f"expected a table of arguments, found {args!r}")
            continue
        if name and name not in REGISTRY:
            chk.add(
                f"{gwhere}.name",
                f"unknown guard {name!r}; known guards: {', '.join(sorted(REGISTRY))}",
            )
            continue
        if name:
            for msg in check_guard_args(name, args):
                chk.add(f"{gwhere}.args", f"guard {name!r}: {msg}")
            guards.append(GuardSpec(name=name, args=MappingProxyType(dict(args))))
    return guards


def _read_notify(chk: Checker, raw: object, where: str) -> list[Notification]:
    if not isinstance(raw, list):
        chk.add(f"{where}.notify", "expected a list of notifications")
        return []
    out = []
    for j, item in enumerate(raw, start=1):
        nwhere = f"{where}.notify[{j}]"
        data = chk.table(item, nwhere, _NOTIFY_KEYS)
        on = data.get("on")
        if not isinstance(on, str) or on not in NOTIFY_ON:
            chk.add(f"{nwhere}.on", f"expected one of {', '.join(sorted(NOTIFY_ON))}, found {on!r}")
        template = data.get("template")
        if not isinstance(template, str) or template not in NOTIFICATION_TEMPLATES:
            chk.add(
                f"{nwhere}.template",
                f"unknown template {template!r}; one of "
                f"{', '.join(sorted(NOTIFICATION_TEMPLATES))}",
            )
        to = data.get("to")
        if not isinstance(to, list) or not to or not all(isinstance(r, str) for r in to):
            chk.add(f"{nwhere}.to", "expected a non-empty list of recipient roles")
            to = []
        for role in to:
            if role not in RECIPIENT_ROLES:
                chk.add(
                    f"{nwhere}.to",
                    f"unknown recipient role {role!r}; one of {', '.join(sorted(RECIPIENT_ROLES))}",
                )
        out.append(Notification(on=str(on), template=str(template), to=tuple(to)))
    return out


def _read_opens(chk: Checker, raw: object, where: str) -> list[Opening]:
    if not isinstance(raw, list):
        chk.add(f"{where}.opens", 'expected a list of requests like [{ kind = "..." }]')
        return []
    out = []
    for j, item in enumerate(raw, start=1):
        owhere = f"{where}.opens[{j}]"
        data = chk.table(item, owhere, _OPENS_KEYS)
        kind, scope = data.get("kind"), data.get("scope", "involved")
        due = data.get("due_days", 10)
        instructions = chk.localized(data, "instructions", owhere, required=False)
        if not isinstance(kind, str) or kind not in OPENABLE:
            chk.add(
                f"{owhere}.kind",
                f"unknown request kind {kind!r}; one of "
                f"{', '.join(OPENABLE)} (votes go with decisions)",
            )
        if not isinstance(scope, str) or scope not in SCOPES:
            chk.add(f"{owhere}.scope", f"expected one of {', '.join(SCOPES)}, found {scope!r}")
        if not isinstance(due, int) or isinstance(due, bool) or not 1 <= due <= 365:
            chk.add(
                f"{owhere}.due_days",
                f"bad duration {due!r}; expected a whole number of working days from 1 to 365",
            )
            due = 10
        out.append(
            Opening(kind=str(kind), scope=str(scope), due_days=due, instructions_text=instructions)
        )
    return out


def _read_transitions(
    chk: Checker, raw: object, ids: set[str], states: Sequence[StateDef]
) -> list[TransitionDef]:
    if not isinstance(raw, list):
        chk.add("transitions", "expected [[transitions]] tables")
        return []
    finals = {s.id for s in states if s.final}
    out: list[TransitionDef] = []
    sources: dict[str, int] = {}
    for i, item in enumerate(raw, start=1):
        where = f"transitions[{i}]"
        data = chk.table(item, where, _TRANSITION_KEYS)
        trigger = data.get("trigger", "complete")
        if not isinstance(trigger, str) or trigger not in TRIGGERS:
            chk.add(
                f"{where}.trigger",
                f"unknown trigger {trigger!r}; declare only 'complete' "
                "(return_to, suspend and resume come from [controls])",
            )
        source, dest = chk.ident(data, "source", where), chk.ident(data, "dest", where)
        for key, value in (("source", source), ("dest", dest)):
            if value and value not in ids:
                chk.add(f"{where}.{key}", f"unknown state {value!r} in a transition")
        if source in finals:
            chk.add(f"{where}.source", f"{source!r} is a final state; nothing leaves it")
        if source in sources:
            chk.add(
                f"{where}.source",
                f"a second 'complete' from {source!r} "
                f"(first in transitions[{sources[source]}]); keep one",
            )
        sources.setdefault(source, i)
        out.append(TransitionDef(trigger=str(trigger), source=source, dest=dest))
    return out


def _check_graph(
    chk: Checker, initial: str, states: Sequence[StateDef], transitions: Iterable[TransitionDef]
) -> None:
    ids = {s.id for s in states}
    if not ids or initial not in ids:
        return
    edges: dict[str, set[str]] = {s: set() for s in ids}
    for t in transitions:
        if t.source in ids and t.dest in ids:
            edges[t.source].add(t.dest)
    finals = {s.id for s in states if s.final}
    if not finals:
        chk.add("states", "no final state; mark the last state with final = true")
        return
    reached, todo = {initial}, [initial]
    while todo:
        for nxt in edges[todo.pop()] - reached:
            reached.add(nxt)
            todo.append(nxt)
    can_finish = set(finals)
    changed = True
    while changed:
        changed = False
        for src, dests in edges.items():
            if src not in can_finish and dests & can_finish:
                can_finish.add(src)
                changed = True
    for i, state in enumerate(states, start=1):
        if state.id not in reached:
            chk.add(
                f"states[{i}] ({state.id})",
                f"no transition reaches this state from {initial!r}; add a transition or remove it",
            )
        elif state.id not in can_finish:
            chk.add(f"states[{i}] ({state.id})", "no path from this state to a final state")
