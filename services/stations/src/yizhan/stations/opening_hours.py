"""Turning a station's weekly opening hours into concrete open intervals."""

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _parse(hhmm: str) -> tuple[int, int]:
    hours, minutes = hhmm.split(":")
    return int(hours), int(minutes)


def _local(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    hours, minutes = _parse(hhmm)
    if hours == 24:  # "24:00" closes at the next midnight
        return datetime.combine(day + timedelta(days=1), time(0, 0), zone)
    return datetime.combine(day, time(hours, minutes), zone)


def open_intervals(
    weekly: dict[str, Any] | None, timezone: str, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Open intervals within [start, end), merged and clipped; `weekly=None` is always open."""
    if start >= end:
        return []
    if weekly is None:
        return [(start, end)]
    zone = ZoneInfo(timezone)
    day = start.astimezone(zone).date() - timedelta(days=1)
    last_day = end.astimezone(zone).date()
    intervals: list[tuple[datetime, datetime]] = []
    while day <= last_day:
        for opens, closes in weekly.get(WEEKDAYS[day.weekday()], []):
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
