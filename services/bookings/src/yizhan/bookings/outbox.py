"""Notification SMS through an outbox table: a promotion, a cancelled or moved session, an
answered opinion is written to `sms_outbox` in the same transaction that decides it, and sent
after commit by a background drain. So a worker is never told of a seat the rollback took away,
and a crash between commit and sending delays the message instead of losing it.

One-time codes do not go through here: the worker waits for them, and a failure must be
answered at once (otp.py)."""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.bookings.metrics import SMS_FAILURES, SMS_NOTIFICATIONS
from yizhan.bookings.models import SmsOutbox
from yizhan.bookings.phones import mask_phone
from yizhan.bookings.sms import SmsError, SmsSender
from yizhan.common.backoff import backoff_delay

log = logging.getLogger(__name__)

# Rows sent per round; each round is one short transaction per message.
BATCH_SIZE = 50
# Waits between attempts grow from this, doubling, up to the cap.
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=1)
# How long a claimed message is left to its sender before another round may send it again.
SEND_LEASE = timedelta(minutes=2)
SMS_MAX_LENGTH = 500


def enqueue(session: AsyncSession, phone: str, text: str, purpose: str, now: datetime) -> None:
    """Queue an SMS in the caller's transaction; it is sent only if that commits."""
    session.add(
        SmsOutbox(
            phone=phone,
            text=text[:SMS_MAX_LENGTH],
            purpose=purpose,
            created_at=now,
            next_attempt_at=now,
            attempts=0,
        )
    )


class Outbox:
    """Sends what the outbox holds: woken after a commit that queued something, and polled."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        sender: SmsSender,
        clock: Callable[[], datetime],
        poll_seconds: float,
        max_attempts: int,
    ) -> None:
        self._sessions = sessions
        self._sender = sender
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._max_attempts = max_attempts
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Tell the drain that something was queued (call after commit)."""
        self._wake.set()

    async def drain_once(self) -> int:
        """Send the messages that are due; returns how many were sent."""
        sent = 0
        while True:
            async with self._sessions() as session:
                query = (
                    select(SmsOutbox.id)
                    .where(SmsOutbox.sent_at.is_(None), SmsOutbox.next_attempt_at <= self._clock())
                    .order_by(SmsOutbox.next_attempt_at, SmsOutbox.id)
                    .limit(BATCH_SIZE)
                )
                due = list((await session.scalars(query)).all())
            for message_id in due:
                sent += await self._send_one(message_id)
            if len(due) < BATCH_SIZE:
                return sent

    async def _send_one(self, message_id: int) -> int:
        # Claimed in one short transaction and sent outside it (no connection held while the
        # gateway answers): the claim leases the row, so another instance skips it, and a
        # crash before the result is stored sends it again after the lease (at least once).
        async with self._sessions.begin() as session:
            query = (
                select(SmsOutbox)
                .where(
                    SmsOutbox.id == message_id,
                    SmsOutbox.sent_at.is_(None),
                    SmsOutbox.next_attempt_at <= self._clock(),
                )
                .with_for_update(skip_locked=True)
            )
            message = await session.scalar(query)
            if message is None:
                return 0
            message.attempts += 1
            message.next_attempt_at = self._clock() + SEND_LEASE
            phone, text, attempts = message.phone, message.text, message.attempts
        error: str | None = None
        try:
            await self._sender.send(phone, text)
        except SmsError as exc:
            SMS_FAILURES.inc()
            error = str(exc)[:300]
        async with self._sessions.begin() as session:
            stored = await session.get(SmsOutbox, message_id)
            assert stored is not None
            if error is None:
                stored.sent_at = self._clock()
                SMS_NOTIFICATIONS.labels(stored.purpose).inc()
                return 1
            stored.last_error = error
            if attempts >= self._max_attempts:
                stored.next_attempt_at = None  # given up; kept for operators to see
                log.error(
                    "notification SMS given up",
                    extra={"phone": mask_phone(phone), "purpose": stored.purpose},
                )
            else:
                seconds = backoff_delay(
                    FIRST_RETRY.total_seconds(), MAX_RETRY.total_seconds(), attempts
                )
                wait = timedelta(seconds=seconds)
                stored.next_attempt_at = self._clock() + wait
            return 0

    async def run_forever(self) -> None:
        """Drain for the life of the service; a failed round is logged and retried."""
        while True:
            self._wake.clear()
            try:
                await self.drain_once()
            except Exception:  # the next round retries; the service goes on meanwhile
                log.exception("SMS outbox round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
