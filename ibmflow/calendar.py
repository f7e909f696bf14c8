"""Working-day arithmetic: due dates counted in a country's working days, in the process's time zone.

A `WorkCalendar` is one institution's (or one process's) view of the calendar: the country's public
holidays, the weekend days of that institution, and the process's time zone. Days are local dates;
instants are aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_WEEKEND: tuple[int, ...] = (5, 6)  # Saturday and Sunday (Monday = 0)
END_OF_DAY = time(23, 59, 59)


def is_working_day(day: date, weekend: Container[int], holidays: Container[date]) -> bool:
    """A day that is neither a weekend day (Monday=0) nor a public holiday."""
    return day.weekday() not in weekend and day not in holidays


def add_working_days(
    start: datetime,
    days: int,
    *,
    tz: str,
    weekend: Container[int] = DEFAULT_WEEKEND,
    holidays: Container[date] = frozenset(),
) -> datetime:
    """The end (23:59:59 local) of the `days`-th working day after `start`'s local day, in UTC."""
    zone = ZoneInfo(tz)
    day = start.astimezone(zone).date()
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day, weekend, holidays):
            remaining -= 1
    end = datetime.combine(day, END_OF_DAY, tzinfo=zone)
    return end.astimezone(UTC)


def _no_holidays(year: int) -> frozenset[date]:
    return frozenset()


@dataclass(frozen=True)
class WorkCalendar:
    """Working days in one time zone with one weekend and one country's public holidays.

    `holidays_of(year)` gives a year's public holidays; it is asked once per year and remembered,
    and so is each count of working days from a day (`add`: the same due dates are counted for every
    request of a round and every step of the day, a day at a time).
    """

    tz: str
    weekend: frozenset[int] = frozenset(DEFAULT_WEEKEND)
    holidays_of: Callable[[int], frozenset[date]] = _no_holidays
    _years: dict[int, frozenset[date]] = field(default_factory=dict, compare=False, repr=False)
    _added: dict[tuple[date, int], date] = field(default_factory=dict, compare=False, repr=False)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def _holidays(self, year: int) -> frozenset[date]:
        known = self._years.get(year)
        if known is None:
            known = self._years[year] = self.holidays_of(year)
        return known

    def is_working(self, day: date) -> bool:
        """Neither one of this calendar's weekend days nor a public holiday."""
        return day.weekday() not in self.weekend and day not in self._holidays(day.year)

    def add(self, day: date, days: int) -> date:
        """The `days`-th working day after `day` (before it when negative); `day` itself for 0."""
        found = self._added.get((day, days))
        if found is None:
            found = self._added[day, days] = self._count(day, days)
        return found

    def _count(self, day: date, days: int) -> date:
        step = timedelta(days=1 if days >= 0 else -1)
        remaining = abs(days)
        while remaining > 0:
            day += step
            if self.is_working(day):
                remaining -= 1
        return day

    def next_working(self, day: date) -> date:
        """`day` if it is a working day, else the first working day after it."""
        while not self.is_working(day):
            day += timedelta(days=1)
        return day

    def between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (negative when `end` is earlier)."""
        if end < start:
            return -self.between(end, start)
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.is_working(day):
                count += 1
        return count

    def local_day(self, instant: datetime) -> date:
        """The local date of an instant."""
        return instant.astimezone(self.zone).date()

    def at(self, day: date, moment: time) -> datetime:
        """A local wall-clock moment of a day, as a UTC instant (daylight saving included)."""
        return datetime.combine(day, moment, tzinfo=self.zone).astimezone(UTC)

    def end_of(self, day: date) -> datetime:
        """The last second of a local day, as a UTC instant."""
        return self.at(day, END_OF_DAY)

    def due_after(self, start: datetime, days: int) -> datetime:
        """The end of the `days`-th working day after `start`'s local day."""
        return self.end_of(self.add(self.local_day(start), days))
