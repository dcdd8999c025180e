"""Queries of the bookings database (the SQL of this service, apart from the locking reads in
locking.py)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from psycopg import sql
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.bookings.models import (
    CONFIRMED,
    SESSION_SCHEDULED,
    WAITLISTED,
    Booking,
    ForumSession,
    LivestreamPoint,
    Opinion,
)
from yizhan.bookings.plain_sql import Db, fetch_one
from yizhan.bookings.slots import Interval

M = TypeVar("M", bound=Any)

MAX_PAGE_SIZE = 500


async def get_point(session: AsyncSession, point_id: int) -> LivestreamPoint | None:
    """One livestream point by id."""
    return await session.get(LivestreamPoint, point_id)


async def detached(session: Db, model: type[M], row_id: int) -> M | None:
    """A row by id as a plain object outside the session (read-only use), read with plain SQL
    (plain_sql.py): what a booking needs of its point or session, at a fraction of the ORM's
    cost."""
    table = model.__table__
    fields = [column.key for column in table.columns]
    query = sql.SQL("SELECT {} FROM {} WHERE id = %s").format(
        sql.SQL(", ").join(map(sql.Identifier, fields)), sql.Identifier(table.name)
    )
    row = await fetch_one(session, query, row_id)
    return None if row is None else model(**dict(zip(fields, row, strict=True)))


async def list_points(
    session: AsyncSession, station_ids: Sequence[str] | None, *, include_inactive: bool = False
) -> list[LivestreamPoint]:
    """Active livestream points of some stations (None: of all), by station and id."""
    query = select(LivestreamPoint).order_by(LivestreamPoint.station_id, LivestreamPoint.id)
    if not include_inactive:
        query = query.where(LivestreamPoint.active)
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
    session: AsyncSession,
    station_ids: Sequence[str] | None,
    ending_after: datetime,
    *,
    kind: str | None = None,
    include_cancelled: bool = False,
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
    if kind is not None:
        query = query.where(ForumSession.kind == kind)
    if not include_cancelled:
        query = query.where(ForumSession.status == SESSION_SCHEDULED)
    return [(forum, int(count)) for forum, count in (await session.execute(query)).all()]


async def bookable_counts(session: AsyncSession, now: datetime) -> dict[str, tuple[int, int]]:
    """Per station id: (active livestream points, sessions still open for registration)."""
    points = select(LivestreamPoint.station_id, func.count(LivestreamPoint.id)).where(
        LivestreamPoint.active
    )
    deadline = func.coalesce(ForumSession.registration_deadline, ForumSession.starts_at)
    sessions = select(ForumSession.station_id, func.count(ForumSession.id)).where(
        ForumSession.status == SESSION_SCHEDULED, deadline > now
    )
    counts: dict[str, tuple[int, int]] = {}
    for station_id, count in await session.execute(points.group_by(LivestreamPoint.station_id)):
        counts[station_id] = (int(count), 0)
    grouped = await session.execute(sessions.group_by(ForumSession.station_id))
    for station_id, count in grouped:
        counts[station_id] = (counts.get(station_id, (0, 0))[0], int(count))
    return counts


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


async def bookings_of_session(session: AsyncSession, session_id: int) -> list[Booking]:
    """Every booking of a forum session, oldest first, locked (the caller holds the session
    lock, so this keeps locking.py's order), freshly read."""
    query = (
        select(Booking)
        .where(Booking.forum_session_id == session_id)
        .order_by(Booking.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(query)).all())


async def get_booking_by_code(session: AsyncSession, code: str) -> Booking | None:
    """One booking by its code."""
    return await session.scalar(select(Booking).where(Booking.code == code))


async def get_booking(session: AsyncSession, booking_id: int) -> Booking | None:
    """One booking by id."""
    return await session.get(Booking, booking_id)


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
        .limit(limit)
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


async def list_opinions(
    session: AsyncSession,
    station_ids: Sequence[str] | None,
    *,
    status: str | None = None,
    forum_session_id: int | None = None,
    created_from: datetime | None = None,
    created_before: datetime | None = None,
    before_id: int | None = None,
    limit: int,
) -> list[Opinion]:
    """Opinions of some stations (None: of all), newest first, keyset-paged by id."""
    query = select(Opinion).order_by(Opinion.id.desc()).limit(limit)
    if station_ids is not None:
        query = query.where(Opinion.station_id.in_(list(station_ids)))
    if status is not None:
        query = query.where(Opinion.status == status)
    if forum_session_id is not None:
        query = query.where(Opinion.forum_session_id == forum_session_id)
    if created_from is not None:
        query = query.where(Opinion.created_at >= created_from)
    if created_before is not None:
        query = query.where(Opinion.created_at < created_before)
    if before_id is not None:
        query = query.where(Opinion.id < before_id)
    return list((await session.scalars(query)).all())
