"""Tests of the definition loader: the real workflow loads frozen; every mistake is reported, by place."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from pathlib import Path

import pytest

from ibmflow.definitions import (
    Definition,
    load_definition,
    parse_definition,
    validate_files,
)
from ibmflow.errors import DefinitionError, Problem

TESTS = Path(__file__).resolve().parent
REAL = TESTS.parent / "workflows" / "ibm_strategy.toml"
MINIMAL = TESTS / "workflows" / "valid" / "minimal.toml"
INVALID = TESTS / "workflows" / "invalid"

IBM_STEPS = (
    "coordinator_appointment",
    "stakeholder_identification",
    "coordinating_bodies",
    "objectives",
    "situation_analysis",
    "chapter_drafting",
    "consultation",
    "final_preparation",
    "adoption",
)

# One invalid fixture per mistake: (substring of `where`, substring of `what`) of the one problem reported.
EXPECTED: dict[str, tuple[str, str]] = {
    "toml_syntax.toml": ("line 19", "TOML syntax error"),
    "unknown_guard.toml": (
        "states[1] (drafting).guards[1].name",
        "unknown guard 'objectives_attached'",
    ),
    "guard_missing_arg.toml": ("states[1] (drafting).guards[1].args", "missing argument 'kind'"),
    "guard_unknown_arg.toml": (
        "states[1] (drafting).guards[1].args",
        "unknown argument 'deadline'",
    ),
    "guard_bad_arg_value.toml": (
        "states[1] (drafting).guards[1].args",
        "argument 'scope' is 'everyone'; expected one of permanent, involved, all",
    ),
    "guard_wrong_arg_type.toml": (
        "states[1] (drafting).guards[1].args",
        "argument 'minimum' must be int, found 'two'",
    ),
    "unknown_state_in_transition.toml": ("transitions[3].source", "unknown state 'review'"),
    "duplicate_state_id.toml": ("states[3] (approval).id", "duplicate state id 'approval'"),
    "unreachable_state.toml": ("states[3] (archiving)", "no transition reaches this state"),
    "no_path_to_final.toml": ("states[2] (approval)", "no path from this state to a final state"),
    "no_final_state.toml": ("states", "no final state"),
    "bad_duration_negative.toml": ("states[1] (drafting).target_days", "bad duration -5"),
    "bad_duration_text.toml": ("states[1] (drafting).target_days", "bad duration 'ten'"),
    "missing_duration.toml": ("states[1] (drafting).target_days", "missing"),
    "bad_version.toml": ("workflow.version", "at least 1, found 0"),
    "unknown_initial.toml": ("workflow.initial", "unknown state 'draft'"),
    "unknown_key.toml": ("states[1].deadline", "unknown key"),
    "chase_bad_before_due.toml": ("chase.before_due", "a list of working days from 1 to 60"),
    "chase_unknown_kind.toml": ("chase.kinds.petition", "unknown request kind 'petition'"),
    "chase_bad_send_at.toml": ("chase.send_at", 'a local time such as "09:00"'),
    "unknown_template.toml": ("states[1] (drafting).notify[1].template", "'step_started'"),
    "unknown_recipient_role.toml": (
        "states[1] (drafting).notify[1].to",
        "unknown recipient role 'everyone'",
    ),
    "reserved_state_id.toml": ("states[2] (suspended).id", "reserved"),
    "two_completes_from_one_state.toml": ("transitions[3].source", "a second 'complete'"),
    "guards_on_final_state.toml": ("states[3] (done).guards", "cannot have exit guards"),
    "unknown_owner.toml": ("states[1] (drafting).owner", "unknown role 'secretariat'"),
    "unknown_trigger.toml": ("transitions[2].trigger", "unknown trigger 'approve'"),
    "transition_from_final.toml": ("transitions[3].source", "'done' is a final state"),
    "bad_workflow_id.toml": ("workflow.id", "'Minimal-Workflow' is not a valid id"),
    "controls_not_boolean.toml": ("controls.suspend", "expected true or false"),
    "missing_title.toml": ("states[2] (approval).title", "missing"),
    "language_missing_text.toml": ("states[2] (approval).title", 'no "fr" text'),
    "language_not_declared.toml": (
        "states[1] (drafting).title.de",
        "'de' is not one of the workflow's languages (en, fr)",
    ),
    "language_bad_code.toml": ("workflow.languages", "'English' is not a language code"),
}

# With one `complete` per state, a cycle (or a dead end) also leaves every state before it without a
# way out and the final state unreached: the validator reports those consequences too, and exactly them.
CONSEQUENCES: dict[str, tuple[tuple[str, str], ...]] = {
    "no_path_to_final.toml": (
        ("states[1] (drafting)", "no path from this state to a final state"),
        ("states[3] (done)", "no transition reaches this state from 'drafting'"),
    ),
}


def _problems(path: Path) -> tuple[Problem, ...]:
    with pytest.raises(DefinitionError) as caught:
        load_definition(path)
    return caught.value.problems


def _matches(problem: Problem, path: Path, where: str, what: str) -> bool:
    return problem.file == str(path) and where in problem.where and what in problem.what


@pytest.fixture(scope="module")
def ibm() -> Definition:
    """The real IBM strategy definition."""
    return load_definition(REAL)


def test_real_definition_declares_the_nine_steps_then_adopted(ibm: Definition) -> None:
    """The IBM workflow's states are the deck's nine key steps, in order, then `adopted`."""
    assert ibm.id == "ibm_strategy"
    assert tuple(s.id for s in ibm.states) == (*IBM_STEPS, "adopted")
    assert ibm.initial == "coordinator_appointment"


@pytest.mark.parametrize("step", IBM_STEPS)
def test_every_real_step_has_title_description_owner_duration_and_a_guard(
    ibm: Definition, step: str
) -> None:
    """A step of the real workflow is fully described and cannot be left without a check."""
    state = ibm.state(step)
    assert not state.final
    assert state.title and state.description and state.owner
    assert state.target_days is not None and state.target_days >= 1
    assert len(state.guards) >= 1


def test_real_definition_ends_in_adopted(ibm: Definition) -> None:
    """`adopted` is the one final state and `complete` chains every step to the next."""
    assert [s.id for s in ibm.states if s.final] == ["adopted"]
    assert ibm.steps == ibm.states[:-1]
    chain = [*IBM_STEPS, "adopted"]
    assert [(t.source, t.dest) for t in ibm.transitions] == list(itertools.pairwise(chain))
    assert {t.trigger for t in ibm.transitions} == {"complete"}


def test_source_hash_is_sha256_of_the_file_bytes(ibm: Definition) -> None:
    """The hash a running process keeps is the SHA-256 anyone can recompute from the file."""
    assert ibm.source_hash == hashlib.sha256(REAL.read_bytes()).hexdigest()
    assert ibm.source_text == REAL.read_text(encoding="utf-8")
    assert ibm.filename == str(REAL)


def test_source_hash_is_of_the_file_bytes_with_windows_line_endings(tmp_path: Path) -> None:
    """A file saved with CRLF line endings still hashes to `sha256sum` of the file."""
    path = tmp_path / "crlf.toml"
    path.write_bytes(MINIMAL.read_bytes().replace(b"\n", b"\r\n"))
    assert load_definition(path).source_hash == hashlib.sha256(path.read_bytes()).hexdigest()


def test_definition_is_frozen(ibm: Definition) -> None:
    """Neither the definition, its states nor a guard's arguments can be changed once loaded."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        ibm.version = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ibm.states[0].target_days = 1  # type: ignore[misc]
    args = ibm.state("stakeholder_identification").guards[0].args
    with pytest.raises(TypeError):
        args["scope"] = "all"  # type: ignore[index]


def test_minimal_fixture_is_valid() -> None:
    """The skeleton the invalid fixtures copy is itself valid."""
    minimal = load_definition(MINIMAL)
    assert [s.id for s in minimal.states] == ["drafting", "approval", "done"]


def test_every_invalid_fixture_has_an_expected_problem() -> None:
    """A new fixture cannot be added without saying which problem it must produce."""
    assert sorted(p.name for p in INVALID.glob("*.toml")) == sorted(EXPECTED)


def test_every_invalid_fixture_says_its_mistake_on_the_first_line() -> None:
    """Each fixture opens with a comment naming its one mistake."""
    for path in INVALID.glob("*.toml"):
        assert path.read_text(encoding="utf-8").startswith("# Mistake: "), path.name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_fixture_reports_exactly_its_mistake(name: str) -> None:
    """Each invalid fixture is reported with its file, the place of the mistake and what is wrong."""
    path = INVALID / name
    problems = _problems(path)
    expected = [EXPECTED[name], *CONSEQUENCES.get(name, ())]
    assert len(problems) == len(expected), "\n".join(map(str, problems))
    for where, what in expected:
        hits = [p for p in problems if _matches(p, path, where, what)]
        assert len(hits) == 1, f"{where}: {what} not reported once in:\n" + "\n".join(
            map(str, problems)
        )


def test_toml_syntax_error_names_the_line() -> None:
    """A syntax error is placed at its line, exactly (not merely a line number containing it)."""
    (problem,) = _problems(INVALID / "toml_syntax.toml")
    assert problem.where == "line 19"


def test_several_mistakes_are_all_reported_at_once(tmp_path: Path) -> None:
    """The validator does not stop at the first mistake: every one is reported, each in its place."""
    text = (
        MINIMAL.read_text(encoding="utf-8")
        .replace("version = 1", 'version = "one"')
        .replace('name = "document_attached"', 'name = "objectives_attached"')
        .replace("target_days = 20", "target_days = 0")
        .replace('template = "step_completed"', 'template = "step_finished"')
        .replace('owner = "iawg"', 'owner = "iawg"\nassignee = "chair"')
        .replace('dest = "done"', 'dest = "finished"')
    )
    path = tmp_path / "many.toml"
    path.write_text(text, encoding="utf-8")
    problems = _problems(path)
    for where, what in [
        ("workflow.version", "found 'one'"),
        ("states[1] (drafting).guards[1].name", "unknown guard 'objectives_attached'"),
        ("states[2].assignee", "unknown key"),
        ("states[2] (approval).target_days", "bad duration 0"),
        ("states[2] (approval).notify[1].template", "unknown template 'step_finished'"),
        ("transitions[2].dest", "unknown state 'finished'"),
    ]:
        assert any(_matches(p, path, where, what) for p in problems), (where, what, problems)


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ('owner = "coordinator"', 'owner = ["coordinator"]', "states[1] (drafting).owner"),
        ('on = "enter"', 'on = ["enter"]', "states[1] (drafting).notify[1].on"),
        (
            'template = "step_entered"',
            'template = ["step_entered"]',
            "states[1] (drafting).notify[1].template",
        ),
        ('source = "approval"', 'trigger = ["complete"]\nsource = "approval"', "transitions[2]"),
    ],
    ids=["owner", "notify.on", "notify.template", "trigger"],
)
def test_a_list_where_a_name_belongs_is_a_problem_not_a_crash(
    old: str, new: str, where: str
) -> None:
    """A value of the wrong TOML type is reported like any other mistake (no TypeError escapes)."""
    text = MINIMAL.read_text(encoding="utf-8")
    assert text.count(old) == 1
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text.replace(old, new), "typed.toml")
    assert [p.where for p in caught.value.problems if p.where.startswith(where)], (
        caught.value.problems
    )


def test_validate_files_reports_a_duplicate_id_and_version(tmp_path: Path) -> None:
    """Two files declaring the same workflow id and version are one problem, on the second file."""
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    for path in (first, second):
        path.write_bytes(MINIMAL.read_bytes())
    problems = validate_files([first, second])
    assert problems == [
        Problem(str(second), "workflow", f"id 'minimal' version 1 is also declared in {first}")
    ]


def test_validate_files_accepts_two_versions_of_one_workflow(tmp_path: Path) -> None:
    """A new version of a workflow may sit next to the old one."""
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_bytes(MINIMAL.read_bytes())
    second.write_text(
        MINIMAL.read_text(encoding="utf-8").replace("version = 1", "version = 2"), encoding="utf-8"
    )
    assert validate_files([first, second]) == []


def test_validate_files_collects_problems_of_every_file() -> None:
    """Problems from several invalid files come back together, each naming its own file."""
    paths = [INVALID / "unknown_guard.toml", MINIMAL, INVALID / "bad_version.toml"]
    problems = validate_files(paths)
    assert [Path(p.file).name for p in problems] == ["unknown_guard.toml", "bad_version.toml"]


def test_an_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    """A missing file is reported as a problem of that file, not an OSError."""
    missing = tmp_path / "missing.toml"
    (problem,) = validate_files([missing])
    assert (problem.file, problem.where) == (str(missing), "file")
    assert "cannot be read" in problem.what
