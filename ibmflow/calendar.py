"""Working-day arithmetic: due dates counted in a country's working days, in the process's time zone."""

from __future__ import annotations

from collections.abc import Container
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def is_working_day(day: date, weekend: Container[int], holidays: Container[date]) -> bool:
    """A day that is neither a weekend day (Monday=0) nor a public holiday."""
    return day.weekday() not in weekend and day not in holidays


def add_working_days(
    start: datetime,
    days: int,
    *,
    tz: str,
    weekend: Container[int] = (5, 6),
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
    end = datetime.combine(day, time(23, 59, 59), tzinfo=zone)
    return end.astimezone(ZoneInfo("UTC"))
