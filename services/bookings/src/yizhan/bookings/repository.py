"""Queries of the bookings database (the SQL of this service, apart from the locking reads in
locking.py)."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.bookings.models import (
    ACTIVE_STATUSES,
    CONFIRMED,
    WAITLISTED,
    Booking,
    ForumSession,
    LivestreamPoint,
)
from yizhan.bookings.slots import Interval

MAX_PAGE_SIZE = 500


async def get_point(session: AsyncSession, point_id: int) -> LivestreamPoint | None:
    """One livestream point by id."""
    return await session.get(LivestreamPoint, point_id)


async def list_points(
    session: AsyncSession, station_ids: Sequence[str] | None
) -> list[LivestreamPoint]:
    """Active livestream points of some stations (None: of all), by station and id."""
    query = (
        select(LivestreamPoint)
        .where(LivestreamPoint.active)
        .order_by(LivestreamPoint.station_id, LivestreamPoint.id)
    )
    if station_ids is not None:
        query = query.where(LivestreamPoint.station_id.in_(list(station_ids)))
    return list((await session.scalars(query)).all())


async def stations_with_points(session: AsyncSession) -> list[str]:
    """Ids of the stations that have an active livestream point."""
    query = (
        select(LivestreamPoint.station_id)
        .where(LivestreamPoint.active)
        .distinct()
        .order_by(LivestreamPoint.station_id)
    )
    return list((await session.scalars(query)).all())


async def taken_intervals(session: AsyncSession, point_id: int, window: Interval) -> list[Interval]:
    """The confirmed bookings of a livestream point that overlap `window`."""
    query = select(Booking.starts_at, Booking.ends_at).where(
        Booking.livestream_point_id == point_id,
        Booking.status == CONFIRMED,
        Booking.starts_at < window.end,
        Booking.ends_at > window.start,
    )
    return [Interval(start, end) for start, end in (await session.execute(query)).all()]


async def get_forum_session(session: AsyncSession, session_id: int) -> ForumSession | None:
    """One forum session by id."""
    return await session.get(ForumSession, session_id)


async def list_forum_sessions(
    session: AsyncSession, station_ids: Sequence[str] | None, ending_after: datetime
) -> list[tuple[ForumSession, int]]:
    """Forum sessions not over yet, by start, each with its number of confirmed seats."""
    taken = (
        select(func.count(Booking.id))
        .where(Booking.forum_session_id == ForumSession.id, Booking.status == CONFIRMED)
        .scalar_subquery()
    )
    query = (
        select(ForumSession, taken)
        .where(ForumSession.ends_at > ending_after)
        .order_by(ForumSession.starts_at, ForumSession.id)
    )
    if station_ids is not None:
        query = query.where(ForumSession.station_id.in_(list(station_ids)))
    return [(forum, int(count)) for forum, count in (await session.execute(query)).all()]


async def confirmed_seats(session: AsyncSession, session_id: int) -> int:
    """Seats taken in a forum session."""
    query = select(func.count(Booking.id)).where(
        Booking.forum_session_id == session_id, Booking.status == CONFIRMED
    )
    return int(await session.scalar(query) or 0)


async def first_waitlisted(session: AsyncSession, session_id: int) -> Booking | None:
    """The waitlisted booking that came first; the caller holds the session lock.

    Ordered by id, not by request time: ids are drawn at insert, under the session lock, so
    they give the order in which the waitlist was actually joined."""
    query = (
        select(Booking)
        .where(Booking.forum_session_id == session_id, Booking.status == WAITLISTED)
        .order_by(Booking.id)
        .limit(1)
        .with_for_update()
    )
    return await session.scalar(query)


async def get_booking_by_code(session: AsyncSession, code: str) -> Booking | None:
    """One booking by its code."""
    return await session.scalar(select(Booking).where(Booking.code == code))


async def get_booking(session: AsyncSession, booking_id: int) -> Booking | None:
    """One booking by id."""
    return await session.get(Booking, booking_id)


async def active_bookings_of_phone(session: AsyncSession, phone: str, now: datetime) -> int:
    """Bookings of a phone that are confirmed or waitlisted and not over yet."""
    query = select(func.count(Booking.id)).where(
        Booking.phone == phone,
        Booking.status.in_(ACTIVE_STATUSES),
        Booking.ends_at > now,
        Booking.checked_in_at.is_(None),
    )
    return int(await session.scalar(query) or 0)


async def list_station_bookings(
    session: AsyncSession,
    station_id: str,
    *,
    starts_from: datetime | None,
    starts_before: datetime | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[Booking]:
    """A station's bookings by start time, keyset-paged after (starts_at, id)."""
    query = (
        select(Booking)
        .where(Booking.station_id == station_id)
        .order_by(Booking.starts_at, Booking.id)
        .limit(min(limit, MAX_PAGE_SIZE))
    )
    if starts_from is not None:
        query = query.where(Booking.starts_at >= starts_from)
    if starts_before is not None:
        query = query.where(Booking.starts_at < starts_before)
    if after is not None:
        start, booking_id = after
        query = query.where(
            or_(
                Booking.starts_at > start, and_(Booking.starts_at == start, Booking.id > booking_id)
            )
        )
    return list((await session.scalars(query)).all())


async def names_of_points(session: AsyncSession, point_ids: Sequence[int]) -> dict[int, str]:
    """Livestream point names by id."""
    if not point_ids:
        return {}
    query = select(LivestreamPoint.id, LivestreamPoint.name).where(
        LivestreamPoint.id.in_(list(point_ids))
    )
    return {point_id: name for point_id, name in (await session.execute(query)).all()}


async def topics_of_sessions(session: AsyncSession, session_ids: Sequence[int]) -> dict[int, str]:
    """Forum session topics by id."""
    if not session_ids:
        return {}
    query = select(ForumSession.id, ForumSession.topic).where(
        ForumSession.id.in_(list(session_ids))
    )
    return {session_id: topic for session_id, topic in (await session.execute(query)).all()}
