"""What every use case is handed: the database, the clock, the definitions and the document store."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from ibmflow.calendar import WorkCalendar
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
    # Stored definition rows are written once and never changed, so a process's definition is
    # looked up by the row's primary key after the first read.
    _by_pk: dict[int, Definition] = field(default_factory=dict)
    _holidays: dict[tuple[str, range], frozenset[date]] = field(default_factory=dict)
    _calendars: dict[tuple[str, str, frozenset[int]], WorkCalendar] = field(default_factory=dict)

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
        definition = self._by_hash[stored.source_hash]
        if stored.id is not None:
            self._by_pk[stored.id] = definition
        return definition

    def known_definition(self, definition_pk: int) -> Definition | None:
        """The definition stored under this key if its row was already read, else None."""
        return self._by_pk.get(definition_pk)

    def calendar(
        self, process: ProcessRow, weekend: str | Iterable[int] | None = None
    ) -> WorkCalendar:
        """The working-day calendar of a process (its country's holidays, its time zone), with an
        institution's weekend when given (as stored, "4,5", or as weekday numbers)."""
        if weekend is None:
            days = frozenset(self.settings.process_weekend)
        elif isinstance(weekend, str):
            days = frozenset(int(d) for d in weekend.split(",") if d.strip())
        else:
            days = frozenset(weekend)
        key = (process.country, process.timezone, days)
        if key not in self._calendars:
            country = process.country
            self._calendars[key] = WorkCalendar(
                process.timezone, days, lambda year: self.holidays(country, range(year, year + 1))
            )
        return self._calendars[key]

    def holidays(self, country: str, years: range) -> frozenset[date]:
        """The public holidays of a country over some years (empty for an unknown country)."""
        key = (country, years)
        if key not in self._holidays:
            self._holidays[key] = _holidays_of(country, years)
        return self._holidays[key]


def _holidays_of(country: str, years: range) -> frozenset[date]:
    # Building a country's holiday calendar takes about half a millisecond: hence the cache above.
    import holidays as holidays_lib

    try:
        return frozenset(holidays_lib.country_holidays(country, years=years).keys())
    except NotImplementedError:
        return frozenset()
