"""The no-show sweep: a confirmed booking not checked in by the end of its check-in window
(15 minutes after the start, CONTRACT §4) becomes `no_show`. That takes it out of the
livestream exclusion constraint, so the rest of the slot can be booked again, and it counts
against the worker's phone (quotas.py)."""

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.bookings.checkin import CHECKIN_WINDOW
from yizhan.bookings.metrics import NO_SHOWS
from yizhan.bookings.models import CONFIRMED, NO_SHOW, Booking

log = logging.getLogger(__name__)

# Rows marked per transaction, so that a backlog (after downtime) never makes one huge one.
BATCH_SIZE = 500


async def sweep_once(sessions: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """Mark every booking whose check-in window has closed without a check-in; returns how
    many were marked."""
    marked = 0
    while True:
        async with sessions.begin() as session:
            # SKIP LOCKED: a booking being checked in right now is left to that check-in;
            # if it fails, the next round finds the booking again.
            due = (
                select(Booking.id)
                .where(
                    Booking.status == CONFIRMED,
                    Booking.checked_in_at.is_(None),
                    Booking.starts_at < now - CHECKIN_WINDOW,
                )
                .limit(BATCH_SIZE)
                .with_for_update(skip_locked=True)
            )
            kinds = list(
                (
                    await session.scalars(
                        update(Booking)
                        .where(Booking.id.in_(due.scalar_subquery()))
                        .values(status=NO_SHOW, no_show_at=now)
                        .returning(Booking.kind)
                    )
                ).all()
            )
        for kind, count in Counter(kinds).items():
            NO_SHOWS.labels(kind).inc(count)
        marked += len(kinds)
        if len(kinds) < BATCH_SIZE:
            if marked:
                log.info("no-shows marked", extra={"count": marked})
            return marked


async def run_forever(
    sessions: async_sessionmaker[AsyncSession],
    clock: Callable[[], datetime],
    interval_seconds: float,
) -> None:
    """Sweep for the life of the service; a failed round is logged and retried."""
    while True:
        try:
            await sweep_once(sessions, clock())
        except Exception:  # the next round retries; the service goes on meanwhile
            log.exception("no-show sweep failed")
        await asyncio.sleep(interval_seconds)
