"""The booking figures operators see per station (and summed per district or network):
livestream utilisation, forum seats, check-ins, no-shows, cancellations and opinions.

Where each number comes from:
- bookings are counted by the start of what was booked, within [from, to);
- livestream utilisation = booked minutes (confirmed or no-show) / open minutes of the
  station's active points (opening hours from stations, times the number of points);
- no-show rate = no-shows / (check-ins + no-shows): of the bookings whose outcome is known;
- opinions are counted by when they were raised, in their status now;
- livestream outcomes (households served, sales in yuan) by the start of their slot, whatever
  became of the booking afterwards (the slot was streamed).
"""

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Float, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.bookings.errors import InvalidInput
from yizhan.bookings.models import (
    CANCELLED,
    CONFIRMED,
    LIVESTREAM,
    NO_SHOW,
    OPINION_STATUSES,
    SESSION_SCHEDULED,
    WAITLISTED,
    Booking,
    ForumSession,
    LivestreamOutcome,
    LivestreamPoint,
    Opinion,
)
from yizhan.bookings.peers.stations import StationsClient
from yizhan.bookings.slots import Interval, merge

# Figures over more than this are a report for another tool (stations refuses longer ranges).
MAX_RANGE = timedelta(days=366)
# Opening hours are asked of stations this many at a time.
STATIONS_CONCURRENCY = 8


@dataclass
class Figures:
    """Counts of one station, or a sum of several."""

    livestream_bookings: int = 0
    livestream_booked_minutes: int = 0
    livestream_open_minutes: int = 0
    forum_sessions: int = 0
    forum_seats: int = 0
    forum_confirmed: int = 0
    forum_waitlisted: int = 0
    checked_in: int = 0
    no_shows: int = 0
    cancelled: int = 0
    livestream_outcomes: int = 0
    livestream_households: int = 0
    livestream_sales_yuan: Decimal = Decimal(0)
    opinions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPINION_STATUSES, 0))

    @property
    def livestream_utilisation(self) -> float:
        """Share of the open livestream time that was booked (0 to 1)."""
        if self.livestream_open_minutes <= 0:
            return 0.0
        return round(self.livestream_booked_minutes / self.livestream_open_minutes, 4)

    @property
    def no_show_rate(self) -> float:
        """Share of decided bookings (checked in or no-show) that were no-shows."""
        decided = self.checked_in + self.no_shows
        return round(self.no_shows / decided, 4) if decided else 0.0

    @property
    def opinions_total(self) -> int:
        """All opinions, whatever their status."""
        return sum(self.opinions.values())

    def add(self, other: "Figures") -> None:
        """Add another station's counts to these."""
        for item in fields(self):
            if item.name == "opinions":
                for status, count in other.opinions.items():
                    self.opinions[status] = self.opinions.get(status, 0) + count
            else:
                setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))


def check_range(start: datetime, end: datetime) -> None:
    """InvalidInput unless [start, end) is a forward range of at most MAX_RANGE."""
    if end <= start or end - start > MAX_RANGE:
        raise InvalidInput("range_invalid", field="query.to")


class BookingStats:
    """Computes Figures per station from the bookings database and stations' opening hours."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        stations: StationsClient,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._stations = stations
        self._clock = clock

    async def per_station(
        self, station_ids: Sequence[str] | None, start: datetime, end: datetime
    ) -> dict[str, Figures]:
        """Figures of each station in `station_ids` (None: every station with anything to
        count) over [start, end)."""
        check_range(start, end)
        window = Interval(start, end)
        async with self._sessions() as session:
            ids = list(station_ids) if station_ids is not None else await _known_stations(session)
            result = {station_id: Figures() for station_id in ids}
            if not ids:
                return result
            await _count_bookings(session, result, window)
            await _count_sessions(session, result, window)
            await _count_opinions(session, result, window)
            await _count_outcomes(session, result, window)
            points = await _active_points(session, ids)
        await self._open_minutes(result, points, window)
        return result

    async def _open_minutes(
        self, result: dict[str, Figures], points: dict[str, int], window: Interval
    ) -> None:
        limit = asyncio.Semaphore(STATIONS_CONCURRENCY)

        async def one(station_id: str, count: int) -> None:
            async with limit:
                hours = await self._stations.opening_hours(station_id, window.start, window.end)
            result[station_id].livestream_open_minutes = count * _minutes_within(hours, window)

        await asyncio.gather(*(one(s, n) for s, n in points.items() if s in result))


def total(figures: Iterable[Figures]) -> Figures:
    """The sum of several stations' figures."""
    summed = Figures()
    for item in figures:
        summed.add(item)
    return summed


def _minutes_within(intervals: Iterable[Interval], window: Interval) -> int:
    seconds = 0.0
    for interval in merge(intervals):
        low, high = max(interval.start, window.start), min(interval.end, window.end)
        if high > low:
            seconds += (high - low).total_seconds()
    return int(seconds // 60)


async def _known_stations(session: AsyncSession) -> list[str]:
    query = (
        select(LivestreamPoint.station_id)
        .union(select(ForumSession.station_id), select(Booking.station_id))
        .order_by("station_id")
    )
    return list((await session.scalars(query)).all())


async def _count_bookings(session: AsyncSession, result: dict[str, Figures], w: Interval) -> None:
    minutes = func.sum(
        cast(func.extract("epoch", Booking.ends_at - Booking.starts_at), Float) / 60.0
    )
    checked = Booking.checked_in_at.is_not(None)
    query = (
        select(Booking.station_id, Booking.kind, Booking.status, checked, func.count(), minutes)
        .where(
            Booking.station_id.in_(list(result)),
            Booking.starts_at >= w.start,
            Booking.starts_at < w.end,
        )
        .group_by(Booking.station_id, Booking.kind, Booking.status, checked)
    )
    for station_id, kind, status, was_checked, count, booked in await session.execute(query):
        figures = result[station_id]
        if was_checked:
            figures.checked_in += count
        if status == NO_SHOW:
            figures.no_shows += count
        elif status == CANCELLED:
            figures.cancelled += count
        if kind == LIVESTREAM and status in (CONFIRMED, NO_SHOW):
            figures.livestream_bookings += count
            figures.livestream_booked_minutes += round(booked or 0)
        elif kind != LIVESTREAM and status in (CONFIRMED, NO_SHOW):
            figures.forum_confirmed += count
        elif kind != LIVESTREAM and status == WAITLISTED:
            figures.forum_waitlisted += count


async def _count_sessions(session: AsyncSession, result: dict[str, Figures], w: Interval) -> None:
    query = (
        select(ForumSession.station_id, func.count(), func.sum(ForumSession.seats))
        .where(
            ForumSession.station_id.in_(list(result)),
            ForumSession.status == SESSION_SCHEDULED,
            ForumSession.starts_at >= w.start,
            ForumSession.starts_at < w.end,
        )
        .group_by(ForumSession.station_id)
    )
    for station_id, count, seats in await session.execute(query):
        result[station_id].forum_sessions = count
        result[station_id].forum_seats = int(seats or 0)


async def _count_opinions(session: AsyncSession, result: dict[str, Figures], w: Interval) -> None:
    query = (
        select(Opinion.station_id, Opinion.status, func.count())
        .where(
            Opinion.station_id.in_(list(result)),
            Opinion.created_at >= w.start,
            Opinion.created_at < w.end,
        )
        .group_by(Opinion.station_id, Opinion.status)
    )
    for station_id, status, count in await session.execute(query):
        result[station_id].opinions[status] = count


async def _count_outcomes(session: AsyncSession, result: dict[str, Figures], w: Interval) -> None:
    query = (
        select(
            LivestreamOutcome.station_id,
            func.count(),
            func.sum(LivestreamOutcome.households),
            func.sum(LivestreamOutcome.sales_yuan),
        )
        .where(
            LivestreamOutcome.station_id.in_(list(result)),
            LivestreamOutcome.starts_at >= w.start,
            LivestreamOutcome.starts_at < w.end,
        )
        .group_by(LivestreamOutcome.station_id)
    )
    for station_id, count, households, sales in await session.execute(query):
        figures = result[station_id]
        figures.livestream_outcomes = count
        figures.livestream_households = int(households or 0)
        figures.livestream_sales_yuan = Decimal(sales or 0)


async def _active_points(session: AsyncSession, station_ids: list[str]) -> dict[str, int]:
    query = (
        select(LivestreamPoint.station_id, func.count())
        .where(LivestreamPoint.active, LivestreamPoint.station_id.in_(station_ids))
        .group_by(LivestreamPoint.station_id)
    )
    return {station_id: count for station_id, count in await session.execute(query)}
