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
from yizhan.bookings.rpc.stations_client import StationInfo, StationsClient
from yizhan.bookings.slots import Interval, Slot, local_day, mark_availability, slot_grid

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
        horizon: timedelta,
    ) -> None:
        self._sessions = sessions
        self._stations = stations
        self._clock = clock
        self._horizon = horizon

    async def _grid(
        self, point: LivestreamPoint, station: StationInfo, day: date
    ) -> list[Interval]:
        window = local_day(day, station_zone(station))
        hours = await self._stations.opening_hours(station.id, window.start, window.end)
        return slot_grid(hours, window, timedelta(minutes=point.slot_minutes))

    async def day_slots(
        self, point: LivestreamPoint, day: date
    ) -> tuple[StationInfo | None, list[Slot]]:
        """The point's slots on the station's local `day`, each marked available or not."""
        station = await self._stations.get_station(point.station_id)
        if station is None or not station.takes_bookings or not point.active:
            return station, []
        grid = await self._grid(point, station, day)
        if not grid:
            return station, []
        async with self._sessions() as session:
            taken = await repository.taken_intervals(
                session, point.id, Interval(grid[0].start, grid[-1].end)
            )
        now = self._clock()
        slots = mark_availability(grid, taken, not_before=now, not_after=now + self._horizon)
        return station, slots

    async def check_bookable(
        self, point: LivestreamPoint, start: datetime, end: datetime
    ) -> StationInfo:
        """The point's station when [start, end) is one of its slots that may be booked now;
        InvalidInput otherwise. Whether it is free is for the database to say (locking.py)."""
        station = await self._stations.get_station(point.station_id)
        if station is None or not station.takes_bookings or not point.active:
            raise InvalidInput("station_closed", field="livestream_point_id")
        day = start.astimezone(station_zone(station)).date()
        if Interval(start, end) not in await self._grid(point, station, day):
            raise InvalidInput("slot_not_on_grid", field="start")
        now = self._clock()
        if start < now:
            raise InvalidInput("slot_started", field="start")
        if start > now + self._horizon:
            raise InvalidInput("slot_too_far", field="start")
        return station
