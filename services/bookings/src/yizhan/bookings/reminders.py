"""The reminder SMS before a booking starts (CONTRACT.md §4): a sweep finds confirmed
bookings starting within the lead time that were not reminded yet, and queues one SMS each
through the outbox, marking them in the same transaction (so a restart never sends twice)."""

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.bookings.models import CONFIRMED, Booking
from yizhan.bookings.notices import Notices
from yizhan.bookings.outbox import Outbox

log = logging.getLogger(__name__)

# Reminders queued per transaction; the next round takes the rest.
BATCH_SIZE = 200


async def remind_due(
    sessions: async_sessionmaker[AsyncSession], notices: Notices, now: datetime, lead: timedelta
) -> int:
    """Queue the reminder of every confirmed booking starting in (now, now + lead] not yet
    reminded; how many were queued. A booking confirmed (made or promoted) inside the lead
    time is not reminded: its confirmation SMS, moments ago, already said when."""
    query = (
        select(Booking)
        .where(
            Booking.status == CONFIRMED,
            Booking.reminded_at.is_(None),
            Booking.checked_in_at.is_(None),
            Booking.starts_at > now,
            Booking.starts_at <= now + lead,
            func.coalesce(Booking.promoted_at, Booking.created_at) < Booking.starts_at - lead,
        )
        .order_by(Booking.starts_at)
        .limit(BATCH_SIZE)
        # Two processes sweeping at once each take other rows.
        .with_for_update(skip_locked=True)
    )
    async with sessions.begin() as session:
        due = list((await session.scalars(query)).all())
        for booking in due:
            booking.reminded_at = now
            notices.reminder(session, booking, now)
    return len(due)


async def run_forever(
    sessions: async_sessionmaker[AsyncSession],
    notices: Notices,
    outbox: Outbox,
    clock: Callable[[], datetime],
    lead: timedelta,
    interval_seconds: float,
) -> None:
    """Sweep every `interval_seconds` for the life of the service; failures are retried."""
    while True:
        try:
            if await remind_due(sessions, notices, clock(), lead):
                outbox.wake()
        except Exception:  # the next round retries; the service goes on meanwhile
            log.exception("reminder sweep failed")
        await asyncio.sleep(interval_seconds)
