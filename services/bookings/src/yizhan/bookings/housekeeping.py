"""Forgets what is no longer needed: old one-time codes, idempotency keys and sent SMS, and
the phone numbers and names of bookings that ended more than the retention ago (PIPL; the
bookings themselves stay, so counts and reports do not change)."""

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.bookings import worker_data
from yizhan.bookings.models import IdempotencyKey, OtpCode, SmsOutbox

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 3600
# Codes are kept a day past creation: long enough for the hourly sending limit and for support.
OTP_RETENTION = timedelta(days=1)
# A client retries a lost answer within minutes; a day covers phones that were off overnight.
IDEMPOTENCY_RETENTION = timedelta(days=1)
# Sent notifications are kept a week for support ("did the SMS go out?"), then forgotten.
SMS_RETENTION = timedelta(days=7)


async def purge_once(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    phone_retention: timedelta = timedelta(days=180),
) -> None:
    """Delete codes, keys and sent SMS older than their retention; erase the phone and name
    of bookings that ended more than `phone_retention` ago."""
    async with sessions.begin() as session:
        erased = await worker_data.erase_finished(session, now - phone_retention, now)
        if erased:
            log.info("phones of finished bookings erased", extra={"count": erased})
        await session.execute(delete(OtpCode).where(OtpCode.created_at < now - OTP_RETENTION))
        await session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.created_at < now - IDEMPOTENCY_RETENTION)
        )
        await session.execute(delete(SmsOutbox).where(SmsOutbox.created_at < now - SMS_RETENTION))


async def run_forever(
    sessions: async_sessionmaker[AsyncSession],
    clock: Callable[[], datetime],
    phone_retention: timedelta = timedelta(days=180),
) -> None:
    """Purge every hour for the life of the service; a failed round is logged and retried."""
    while True:
        try:
            await purge_once(sessions, clock(), phone_retention)
        except Exception:  # the next round retries; the service goes on meanwhile
            log.exception("housekeeping failed")
        await asyncio.sleep(INTERVAL_SECONDS)
