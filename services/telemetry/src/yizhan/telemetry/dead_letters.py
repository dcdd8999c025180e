"""Reading dead letters: what devices sent that was not stored, and why (newest first)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.telemetry.models import dead_letters


@dataclass(frozen=True)
class DeadLetterRow:
    """One dead letter."""

    id: int
    received_at: datetime
    topic: str
    station_id: str | None
    device_id: str | None
    reason: str
    detail: str
    payload: bytes


async def recent(
    session: AsyncSession,
    *,
    station_ids: Sequence[str] | None,
    reason: str | None,
    before_id: int | None,
    limit: int,
) -> list[DeadLetterRow]:
    """Dead letters newest first; `station_ids=None` means any station (or none)."""
    query = select(
        dead_letters.c.id,
        dead_letters.c.received_at,
        dead_letters.c.topic,
        dead_letters.c.station_id,
        dead_letters.c.device_id,
        dead_letters.c.reason,
        dead_letters.c.detail,
        dead_letters.c.payload,
    )
    if station_ids is not None:
        query = query.where(dead_letters.c.station_id.in_(list(station_ids)))
    if reason is not None:
        query = query.where(dead_letters.c.reason == reason)
    if before_id is not None:
        query = query.where(dead_letters.c.id < before_id)
    rows = await session.execute(query.order_by(dead_letters.c.id.desc()).limit(limit))
    return [DeadLetterRow(*row) for row in rows.all()]


async def counts_by_reason(
    session: AsyncSession, *, station_ids: Sequence[str] | None, since: datetime
) -> dict[str, int]:
    """How many dead letters of each reason arrived since `since` (reasons with none are
    absent); `station_ids=None` means any station (or none)."""
    query = (
        select(dead_letters.c.reason, func.count())
        .where(dead_letters.c.received_at >= since)
        .group_by(dead_letters.c.reason)
    )
    if station_ids is not None:
        query = query.where(dead_letters.c.station_id.in_(list(station_ids)))
    rows = await session.execute(query)
    return {str(reason): int(count) for reason, count in rows.all()}
