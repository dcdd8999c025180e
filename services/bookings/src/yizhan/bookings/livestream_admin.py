"""What operators do to livestream points: add one to a station, change its name or booking
rules, take it out of service (retire: no new bookings; those made stay). Each change is
audited (audit.py) in the transaction that makes it; the caller commits."""

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.bookings import repository
from yizhan.bookings.audit import Stamp, point_snapshot, record
from yizhan.bookings.errors import NotFound
from yizhan.bookings.models import LivestreamPoint


async def create_point(
    session: AsyncSession, station_id: str, fields: dict[str, Any], stamp: Stamp
) -> LivestreamPoint:
    """Add a point to a station (the caller checked the station is the operator's)."""
    point = LivestreamPoint(station_id=station_id, active=True, **fields)
    session.add(point)
    await session.flush()
    record(
        session,
        stamp,
        action="create",
        entity="livestream_point",
        entity_id=point.id,
        station_id=station_id,
        before=None,
        after=point_snapshot(point),
    )
    return point


async def get_point(session: AsyncSession, point_id: int) -> LivestreamPoint:
    """One point; NotFound when there is none."""
    point = await repository.get_point(session, point_id)
    if point is None:
        raise NotFound("point_unknown")
    return point


async def update_point(
    session: AsyncSession,
    point: LivestreamPoint,
    changes: dict[str, Any],
    stamp: Stamp,
    now: datetime,
) -> LivestreamPoint:
    """Apply `changes` (None values mean unchanged); `active: false` retires the point.
    Audited only when something changed."""
    before = point_snapshot(point)
    for key, value in changes.items():
        if value is not None:
            setattr(point, key, value)
    after = point_snapshot(point)
    if after != before:
        point.updated_at = now
        action = "retire" if before["active"] and not after["active"] else "update"
        record(
            session,
            stamp,
            action=action,
            entity="livestream_point",
            entity_id=point.id,
            station_id=point.station_id,
            before=before,
            after=after,
        )
    return point
