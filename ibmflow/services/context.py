"""What every use case is handed: the database, the clock, the definitions and the document store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from ibmflow.clock import Clock
from ibmflow.config import Settings
from ibmflow.definitions import Definition, parse_definition
from ibmflow.documents import DocumentStore
from ibmflow.storage.db import Database
from ibmflow.storage.tables import ProcessRow, WorkflowDefinitionRow


@dataclass
class Context:
    """The wiring of one ibmflow instance (built by `bootstrap`)."""

    settings: Settings
    db: Database
    clock: Clock
    documents: DocumentStore
    load_workflows: Callable[[], dict[str, Definition]]
    _by_hash: dict[str, Definition] = field(default_factory=dict)

    @cached_property
    def workflows(self) -> dict[str, Definition]:
        """The current workflow definitions, by id (read when first needed)."""
        return self.load_workflows()

    def definition_of(self, process: ProcessRow, stored: WorkflowDefinitionRow) -> Definition:
        """The definition version a process started on, from its stored source (never the file)."""
        if stored.source_hash not in self._by_hash:
            self._by_hash[stored.source_hash] = parse_definition(
                stored.source_text, stored.filename
            )
        return self._by_hash[stored.source_hash]

    def holidays(self, country: str, years: range) -> frozenset[date]:
        """The public holidays of a country over some years (empty for an unknown country)."""
        import holidays as holidays_lib

        try:
            return frozenset(holidays_lib.country_holidays(country, years=years).keys())
        except NotImplementedError:
            return frozenset()
