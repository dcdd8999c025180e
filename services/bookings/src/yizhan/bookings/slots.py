"""Livestream slots: the steps of a station's local day during which it is open.

Pure functions on aware datetimes, no I/O: availability.py feeds them the opening intervals
from the stations service and the bookings already taken.

A day is cut into steps of `slot_minutes` counted from the station's local midnight (a 30-minute
point has 10:00, 10:30, ...). A step is a slot when the station is open for all of it.
"""

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, order=True)
class Interval:
    """A half-open span of time [start, end)."""

    start: datetime
    end: datetime

    def overlaps(self, other: "Interval") -> bool:
        """Whether the two spans share any instant."""
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Slot:
    """One bookable step and whether it can still be booked."""

    start: datetime
    end: datetime
    available: bool


def local_day(day: date, tz: ZoneInfo) -> Interval:
    """The station's local day, in UTC (23 or 25 hours long on DST changes)."""
    start = datetime.combine(day, time(0), tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tz).astimezone(UTC)
    return Interval(start, end)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted intervals with overlapping and touching ones joined."""
    merged: list[Interval] = []
    for current in sorted(i for i in intervals if i.start < i.end):
        if merged and current.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, current.end))
        else:
            merged.append(current)
    return merged


def slot_grid(open_intervals: Iterable[Interval], day: Interval, step: timedelta) -> list[Interval]:
    """The steps of `day` that lie wholly inside the open intervals (times in UTC)."""
    if step <= timedelta(0):
        raise ValueError("step must be positive")
    origin = day.start.astimezone(UTC)
    grid: list[Interval] = []
    for interval in merge(open_intervals):
        low = max(interval.start, day.start)
        high = min(interval.end, day.end)
        # The first step starting at or after `low`: ceil((low - origin) / step).
        index = max(0, -((origin - low) // step))
        # Aware arithmetic in UTC is absolute; in a local zone it would follow the wall clock.
        while (start := origin + index * step) + step <= high:
            grid.append(Interval(start, start + step))
            index += 1
    return grid


def mark_availability(
    grid: Sequence[Interval],
    taken: Iterable[Interval],
    *,
    not_before: datetime,
    not_after: datetime | None = None,
) -> list[Slot]:
    """Each step with `available`: not overlapping a taken booking, starting no earlier than
    `not_before` (now plus the minimum notice) and no later than `not_after` (the horizon)."""
    taken_sorted = merge(taken)
    slots = []
    for step in grid:
        free = not any(step.overlaps(busy) for busy in taken_sorted)
        in_window = step.start >= not_before and (not_after is None or step.start <= not_after)
        slots.append(Slot(step.start, step.end, free and in_window))
    return slots


def span_error(grid: Sequence[Interval], span: Interval, max_steps: int) -> str | None:
    """Why `span` is not a run of 1 to `max_steps` consecutive steps of `grid` (a message key
    of texts.py); None when it is one."""
    steps = {step.start: step for step in grid}
    cursor, count = span.start, 0
    while cursor < span.end:
        step = steps.get(cursor)
        if step is None:
            return "slot_not_on_grid"
        cursor, count = step.end, count + 1
    if count == 0 or cursor != span.end:
        return "slot_not_on_grid"
    if count > max_steps:
        return "slot_too_long"
    return None


@functools.lru_cache(maxsize=4096)
def day_grid(
    open_intervals: tuple[Interval, ...], day: Interval, step: timedelta
) -> tuple[Interval, ...]:
    """`slot_grid`, remembered: every booking of a rush checks its slot against the same
    station's same day."""
    return tuple(slot_grid(open_intervals, day, step))
