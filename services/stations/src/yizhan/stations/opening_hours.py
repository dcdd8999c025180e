"""Turning a station's weekly opening hours and dated exceptions into open intervals."""

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAY: list[list[str]] = [["00:00", "24:00"]]


def _parse(hhmm: str) -> tuple[int, int]:
    hours, minutes = hhmm.split(":")
    return int(hours), int(minutes)


def _local(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    hours, minutes = _parse(hhmm)
    if hours == 24:  # "24:00" closes at the next midnight
        return datetime.combine(day + timedelta(days=1), time(0, 0), zone)
    return datetime.combine(day, time(hours, minutes), zone)


def _exception_days(
    exceptions: Iterable[Mapping[str, Any]], window_start: date, window_end: date
) -> dict[date, Sequence[Any]]:
    """Each date of the window an exception covers -> that date's hours (empty: closed)."""
    days: dict[date, Sequence[Any]] = {}
    for exception in exceptions:
        first = max(date.fromisoformat(exception["start"]), window_start)
        last = min(date.fromisoformat(exception.get("end") or exception["start"]), window_end)
        day = first
        while day <= last:
            days[day] = exception.get("hours", [])
            day += timedelta(days=1)
    return days


def hours_on(
    day: date,
    weekly: Mapping[str, Any] | None,
    overrides: Mapping[date, Sequence[Any]],
) -> Sequence[Any]:
    """The [opens, closes] ranges of one local date: its exception if it has one, else the
    weekly hours (no weekly hours: open all day)."""
    if day in overrides:
        return overrides[day]
    if weekly is None:
        return ALL_DAY
    ranges: Sequence[Any] = weekly.get(WEEKDAYS[day.weekday()], [])
    return ranges


def open_intervals(
    weekly: Mapping[str, Any] | None,
    timezone: str,
    start: datetime,
    end: datetime,
    exceptions: Iterable[Mapping[str, Any]] = (),
) -> list[tuple[datetime, datetime]]:
    """Open intervals within [start, end), merged and clipped. `weekly=None` is always open;
    `exceptions` (dated overrides, in the station's local dates) win over the weekly hours."""
    if start >= end:
        return []
    zone = ZoneInfo(timezone)
    day = start.astimezone(zone).date() - timedelta(days=1)
    last_day = end.astimezone(zone).date()
    overrides = _exception_days(exceptions, day, last_day)
    if weekly is None and not overrides:
        return [(start, end)]
    intervals: list[tuple[datetime, datetime]] = []
    while day <= last_day:
        for opens, closes in hours_on(day, weekly, overrides):
            lo = max(_local(day, opens, zone), start)
            hi = min(_local(day, closes, zone), end)
            if lo < hi:
                intervals.append((lo, hi))
        day += timedelta(days=1)
    intervals.sort()
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in intervals:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged
