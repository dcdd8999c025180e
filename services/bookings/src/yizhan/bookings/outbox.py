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

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.bookings.metrics import SMS_FAILURES, SMS_NOTIFICATIONS
from yizhan.bookings.models import SmsOutbox
from yizhan.bookings.phones import mask_phone
from yizhan.bookings.sms import SmsError, SmsSender
from yizhan.common.backoff import backoff_delay

log = logging.getLogger(__name__)

# Rows leased per round: one statement claims them, one records them as sent.
BATCH_SIZE = 50
# Pause after a round before the next one (see run_forever): an SMS waits at most this much
# longer; a rush of bookings costs the drain a round per batch instead of per booking.
GATHER_SECONDS = 0.05
# Waits between attempts grow from this, doubling, up to the cap.
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=1)
# How long a claimed message is left to its sender before another round may send it again.
SEND_LEASE = timedelta(minutes=2)
SMS_MAX_LENGTH = 500


def clipped(text: str) -> str:
    """A message's text as the outbox stores it (at most SMS_MAX_LENGTH characters)."""
    return text[:SMS_MAX_LENGTH]


def _row(phone: str, text: str, purpose: str, now: datetime) -> dict[str, object]:
    """The columns of a freshly queued message."""
    return {
        "phone": phone,
        "text": clipped(text),
        "purpose": purpose,
        "created_at": now,
        "next_attempt_at": now,
        "attempts": 0,
    }


def enqueue(session: AsyncSession, phone: str, text: str, purpose: str, now: datetime) -> None:
    """Queue an SMS in the caller's transaction; it is sent only if that commits."""
    session.add(SmsOutbox(**_row(phone, text, purpose, now)))


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
            claimed = await self._claim_batch()
            results: list[tuple[int, str, int, str | None]] = []
            for message_id, phone, text, attempts, purpose in claimed:
                error: str | None = None
                try:
                    await self._sender.send(phone, text)
                except SmsError as exc:
                    SMS_FAILURES.inc()
                    error = str(exc)[:300]
                results.append((message_id, phone, attempts, error))
                if error is None:
                    SMS_NOTIFICATIONS.labels(purpose).inc()
            if results:
                sent += await self._record(results)
            if len(claimed) < BATCH_SIZE:
                return sent

    async def _claim_batch(self) -> list[tuple[int, str, str, int, str]]:
        """Lease up to BATCH_SIZE due messages in one statement: claimed rows are skipped by
        every other drain (SKIP LOCKED, then the lease) and sent outside any transaction (no
        connection held while the gateway answers); a crash before the result is stored
        sends them again after the lease (at least once)."""
        now = self._clock()
        due = (
            select(SmsOutbox.id)
            .where(SmsOutbox.sent_at.is_(None), SmsOutbox.next_attempt_at <= now)
            .order_by(SmsOutbox.next_attempt_at, SmsOutbox.id)
            .limit(BATCH_SIZE)
            .with_for_update(skip_locked=True)
        )
        statement = (
            update(SmsOutbox)
            .where(SmsOutbox.id.in_(due.scalar_subquery()))
            .values(attempts=SmsOutbox.attempts + 1, next_attempt_at=now + SEND_LEASE)
            .returning(
                SmsOutbox.id, SmsOutbox.phone, SmsOutbox.text, SmsOutbox.attempts, SmsOutbox.purpose
            )
        )
        async with self._sessions.begin() as session:
            rows = (await session.execute(statement)).all()
        return sorted((r.id, r.phone, r.text, r.attempts, r.purpose) for r in rows)

    async def _record(self, results: list[tuple[int, str, int, str | None]]) -> int:
        """Store what happened to a batch: the sent ones in one statement, each failure with
        its next attempt (or given up)."""
        now = self._clock()
        delivered = [message_id for message_id, _, _, error in results if error is None]
        async with self._sessions.begin() as session:
            if delivered:
                await session.execute(
                    update(SmsOutbox).where(SmsOutbox.id.in_(delivered)).values(sent_at=now)
                )
            for message_id, phone, attempts, error in results:
                if error is None:
                    continue
                next_attempt: datetime | None = None
                if attempts >= self._max_attempts:
                    log.error(
                        "notification SMS given up",
                        extra={"phone": mask_phone(phone), "message": message_id},
                    )
                else:
                    seconds = backoff_delay(
                        FIRST_RETRY.total_seconds(), MAX_RETRY.total_seconds(), attempts
                    )
                    next_attempt = now + timedelta(seconds=seconds)
                await session.execute(
                    update(SmsOutbox)
                    .where(SmsOutbox.id == message_id)
                    # None: given up; kept for operators to see.
                    .values(last_error=error, next_attempt_at=next_attempt)
                )
        return len(delivered)

    async def run_forever(self) -> None:
        """Drain for the life of the service; a failed round is logged and retried."""
        while True:
            self._wake.clear()
            try:
                await self.drain_once()
            except Exception:  # the next round retries; the service goes on meanwhile
                log.exception("SMS outbox round failed")
            # A rush wakes the drain after every booking: gather what comes meanwhile, so
            # that its messages are leased and recorded in batches (two transactions a round)
            # rather than one by one.
            await asyncio.sleep(GATHER_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
