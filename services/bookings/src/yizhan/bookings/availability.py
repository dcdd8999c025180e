"""Which livestream slots a worker may book: the station's opening hours (from stations) cut
into steps (slots.py), minus the bookings already taken and the steps already started."""

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.bookings import repository
from yizhan.bookings.errors import InvalidInput
from yizhan.bookings.models import LivestreamPoint
from yizhan.bookings.peers.stations import StationInfo, StationsClient
from yizhan.bookings.slots import (
    Interval,
    Slot,
    day_grid,
    local_day,
    mark_availability,
    span_error,
)

log = logging.getLogger(__name__)

FALLBACK_TIMEZONE = "Asia/Shanghai"


def station_zone(station: StationInfo) -> ZoneInfo:
    """The station's time zone (the contract's default when stations sent a bad name)."""
    try:
        return ZoneInfo(station.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown station time zone", extra={"station": station.id})
        return ZoneInfo(FALLBACK_TIMEZONE)


class Availability:
    """Slots of livestream points, as listed to workers and checked before booking."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        stations: StationsClient,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._stations = stations
        self._clock = clock

    async def _grid(
        self, point: LivestreamPoint, station: StationInfo, first: date, last: date
    ) -> list[Interval]:
        """The point's steps on the station's local days `first` to `last`."""
        tz = station_zone(station)
        window = Interval(local_day(first, tz).start, local_day(last, tz).end)
        hours = await self._stations.opening_hours(station.id, window.start, window.end)
        step = timedelta(minutes=point.slot_minutes)
        grid: list[Interval] = []
        day = first
        open_hours = tuple(hours)
        while day <= last:
            grid += day_grid(open_hours, local_day(day, tz), step)
            day += timedelta(days=1)
        return grid

    def _window(self, point: LivestreamPoint) -> tuple[datetime, datetime]:
        """The earliest and the latest start a worker may book now."""
        now = self._clock()
        return (
            now + timedelta(minutes=point.min_notice_minutes),
            now + timedelta(days=point.max_days_ahead),
        )

    async def day_slots(
        self, point: LivestreamPoint, day: date
    ) -> tuple[StationInfo | None, list[Slot]]:
        """The point's slots on the station's local `day`, each marked available or not."""
        station = await self._stations.get_station(point.station_id)
        if station is None or not station.takes_bookings or not point.active:
            return station, []
        grid = await self._grid(point, station, day, day)
        if not grid:
            return station, []
        async with self._sessions() as session:
            taken = await repository.taken_intervals(
                session, point.id, Interval(grid[0].start, grid[-1].end)
            )
        earliest, latest = self._window(point)
        return station, mark_availability(grid, taken, not_before=earliest, not_after=latest)

    async def check_bookable(
        self, point: LivestreamPoint, start: datetime, end: datetime
    ) -> StationInfo:
        """The point's station when [start, end) is a run of its steps that may be booked now
        (open, on the grid, not too long, soon enough, not too soon); InvalidInput otherwise.
        Whether it is free is for the database to say (locking.py)."""
        station = await self._stations.get_station(point.station_id)
        if station is None or not station.takes_bookings or not point.active:
            raise InvalidInput("station_closed", field="livestream_point_id")
        if end <= start or end - start > timedelta(minutes=point.slot_minutes * point.max_steps):
            raise InvalidInput("slot_too_long" if end > start else "slot_not_on_grid", field="end")
        tz = station_zone(station)
        # The last instant of the span decides its last day: a span may end at midnight.
        first, last = start.astimezone(tz).date(), (end - _INSTANT).astimezone(tz).date()
        grid = await self._grid(point, station, first, last)
        problem = span_error(grid, Interval(start, end), point.max_steps)
        if problem is not None:
            raise InvalidInput(problem, field="start" if problem == "slot_not_on_grid" else "end")
        earliest, latest = self._window(point)
        if start < self._clock():
            raise InvalidInput("slot_started", field="start")
        if start < earliest:
            raise InvalidInput("slot_too_soon", field="start")
        if start > latest:
            raise InvalidInput("slot_too_far", field="start")
        return station


_INSTANT = timedelta(microseconds=1)
