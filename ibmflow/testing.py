"""Fakes that tests (and users' own tests) can import: a clock that only moves when told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FixedClock:
    """A clock standing still at a given UTC time until `advance` moves it."""

    def __init__(self, at: datetime | None = None) -> None:
        self.at = at or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        if self.at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware time")

    def now(self) -> datetime:
        """The time it was set to."""
        return self.at

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward, e.g. `advance(days=3)`; return the new time."""
        self.at += timedelta(**delta)
        return self.at
