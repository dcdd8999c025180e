"""Bookings' audit log (issue 14 item 5): every operator action on livestream points, forum
sessions, bookings (operator cancels, check-ins by hand), opinions and measures is written
with who, what, when, the record before and after, in the transaction of the change. The
log's shape and reading are libs/common's (stations keeps the same)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.bookings.models import (
    AuditEntry,
    Booking,
    ForumSession,
    LivestreamPoint,
    Measure,
    Opinion,
)
from yizhan.common import audit

MAX_PAGE_SIZE = audit.MAX_PAGE_SIZE


@dataclass(frozen=True)
class Stamp:
    """Who acts (an operator's username) and the district of the station acted on: the
    district decides which operators may read the entry."""

    actor: str
    district: str


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def point_snapshot(point: LivestreamPoint) -> dict[str, Any]:
    """What the log keeps of a livestream point."""
    return {
        "station_id": point.station_id,
        "name": point.name,
        "slot_minutes": point.slot_minutes,
        "min_notice_minutes": point.min_notice_minutes,
        "max_days_ahead": point.max_days_ahead,
        "max_steps": point.max_steps,
        "active": point.active,
    }


def session_snapshot(forum: ForumSession) -> dict[str, Any]:
    """What the log keeps of a forum session."""
    return {
        "station_id": forum.station_id,
        "kind": forum.kind,
        "status": forum.status,
        "topic": forum.topic,
        "host": forum.host,
        "start": _iso(forum.starts_at),
        "end": _iso(forum.ends_at),
        "seats": forum.seats,
        "registration_deadline": _iso(forum.registration_deadline),
    }


def booking_snapshot(booking: Booking) -> dict[str, Any]:
    """What the log keeps of a booking: its state, never the worker's phone or name."""
    return {
        "code": booking.code,
        "kind": booking.kind,
        "status": booking.status,
        "start": _iso(booking.starts_at),
        "checked_in_at": _iso(booking.checked_in_at),
        "cancelled_at": _iso(booking.cancelled_at),
    }


def opinion_snapshot(opinion: Opinion) -> dict[str, Any]:
    """What the log keeps of an opinion."""
    return {
        "forum_session_id": opinion.forum_session_id,
        "category": opinion.category,
        "text": opinion.text,
        "status": opinion.status,
        "measure": opinion.measure,
        "reason": opinion.decline_reason,
        "measure_id": opinion.measure_id,
    }


def measure_snapshot(measure: Measure) -> dict[str, Any]:
    """What the log keeps of a measure."""
    return {"station_id": measure.station_id, "text": measure.text}


def record(
    session: AsyncSession,
    stamp: Stamp,
    *,
    action: str,
    entity: str,
    entity_id: object,
    station_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Add the entry to the session; the caller's commit writes it with the change."""
    audit.record(
        session,
        AuditEntry,
        actor=stamp.actor,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        districts=[stamp.district],
        before=before,
        after=after,
        station_id=station_id,
    )


async def entries(
    session: AsyncSession,
    *,
    districts: Sequence[str] | None,
    station_id: str | None = None,
    entity: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[AuditEntry]:
    """Newest first, of these districts (None: all)."""
    return await audit.entries(
        session,
        AuditEntry,
        districts=districts,
        station_id=station_id,
        entity=entity,
        before_id=before_id,
        limit=limit,
    )
