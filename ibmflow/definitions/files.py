"""Read definition files from disk: one file, a list of files checked together (no two declaring the
same id and version), or every `*.toml` of a folder."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from ibmflow.definitions.model import Definition
from ibmflow.definitions.parse import parse_definition
from ibmflow.errors import DefinitionError, Problem
from ibmflow.i18n import PSEUDO


def load_definition(path: Path) -> Definition:
    """Read and validate one definition file."""
    try:
        text = path.read_bytes().decode("utf-8")  # the hash is over the bytes as stored
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError([Problem(str(path), "file", f"cannot be read: {exc}")]) from None
    return parse_definition(text, str(path))


def validate_files(paths: Iterable[Path], offered: Sequence[str] = ()) -> list[Problem]:
    """Every problem in the given definition files (empty when all are valid).

    `offered` is the deployment's languages (`process.languages`, without the pseudo-locale): a
    workflow must declare each of them, so that no reader falls back to another language."""
    problems: list[Problem] = []
    seen: dict[tuple[str, int], str] = {}
    for path in paths:
        try:
            definition = load_definition(path)
        except DefinitionError as exc:
            problems.extend(exc.problems)
            continue
        for lang in offered:
            if lang != PSEUDO and lang not in definition.languages:
                problems.append(
                    Problem(
                        str(path),
                        "workflow.languages",
                        f'no "{lang}": this deployment offers it (process.languages), so every '
                        f"text needs a {lang!r} version; declare it and add them "
                        f'(title.{lang} = "...")',
                    )
                )
        key = (definition.id, definition.version)
        if key in seen:
            problems.append(
                Problem(
                    str(path),
                    "workflow",
                    f"id {definition.id!r} version "
                    f"{definition.version} is also declared in {seen[key]}",
                )
            )
        seen.setdefault(key, str(path))
    return problems


def workflow_files(folder: Path) -> list[Path]:
    """The definition files of a folder, in name order."""
    return sorted(folder.glob("*.toml"))


def load_folder(folder: Path) -> dict[str, Definition]:
    """Every definition in a folder, by workflow id; raise DefinitionError if any is invalid."""
    files = workflow_files(folder)
    problems = validate_files(files)
    if problems:
        raise DefinitionError(problems)
    loaded = [load_definition(p) for p in files]
    return {d.id: d for d in loaded}
