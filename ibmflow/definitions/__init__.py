"""Load and validate workflow definitions (`workflows/*.toml`) into frozen dataclasses.

A definition is checked completely: every problem is collected and reported at once, each naming the file,
the place in it and what is wrong. A loaded definition is immutable and carries the SHA-256 of its source,
so a running process can keep the exact version it started on.

`model` holds the frozen dataclasses, `parse` the validation of one source text (with `checker`, which
collects its problems and reads its texts in every language), `files` the reading of files and
folders; everything is imported from here (`from ibmflow.definitions import Definition`).
"""

from __future__ import annotations

from ibmflow.definitions.checker import ID_PATTERN
from ibmflow.definitions.files import load_definition, load_folder, validate_files, workflow_files
from ibmflow.definitions.model import (
    Definition,
    GuardSpec,
    Localized,
    Notification,
    Opening,
    StateDef,
    TransitionDef,
)
from ibmflow.definitions.parse import (
    MAX_TARGET_DAYS,
    NOTIFICATION_TEMPLATES,
    NOTIFY_ON,
    OWNER_ROLES,
    RECIPIENT_ROLES,
    RESERVED_STATES,
    SCOPES,
    TRIGGERS,
    parse_definition,
)

__all__ = [
    "ID_PATTERN",
    "MAX_TARGET_DAYS",
    "NOTIFICATION_TEMPLATES",
    "NOTIFY_ON",
    "OWNER_ROLES",
    "RECIPIENT_ROLES",
    "RESERVED_STATES",
    "SCOPES",
    "TRIGGERS",
    "Definition",
    "GuardSpec",
    "Localized",
    "Notification",
    "Opening",
    "StateDef",
    "TransitionDef",
    "load_definition",
    "load_folder",
    "parse_definition",
    "validate_files",
    "workflow_files",
]
