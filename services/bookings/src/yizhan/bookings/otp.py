"""One-time codes (OTP): sent by SMS before a booking, stored only as a keyed hash, valid for a
few minutes and a few attempts, and rate-limited per phone in the database."""

import hashlib
import hmac
import logging
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.bookings import texts
from yizhan.bookings.errors import InvalidInput, OtpRejected, PeerUnavailable, RateLimited
from yizhan.bookings.locking import lock_phone
from yizhan.bookings.metrics import OTP_REFUSED, OTP_SENT, SMS_FAILURES
from yizhan.bookings.models import OtpCode
from yizhan.bookings.phones import mask_phone
from yizhan.bookings.sms import SmsError, SmsSender

log = logging.getLogger(__name__)

OTP_DIGITS = 6
HASH_CONTEXT = b"yizhan-bookings/otp/v1"
RATE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class OtpPolicy:
    """How long a code lives, how often it may be guessed, how often one may be sent."""

    ttl: timedelta
    max_attempts: int
    resend_interval: timedelta
    sends_per_hour: int


class OtpService:
    """Issues codes and checks them at booking time."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        sender: SmsSender,
        policy: OtpPolicy,
        key: bytes,
        clock: Callable[[], datetime],
        dev_outbox: dict[str, str] | None = None,
    ) -> None:
        self._sessions = sessions
        self._sender = sender
        self._policy = policy
        self._key = key
        self._clock = clock
        # Development only: the last code sent to each phone, for GET /api/v1/dev/otp.
        self.dev_outbox = dev_outbox

    def _hash(self, phone: str, code: str) -> str:
        # Keyed, because six digits hashed plainly are found by trying all million of them.
        return hmac.new(self._key, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()

    async def issue(self, phone: str) -> None:
        """Send a new code to `phone`; RateLimited when it asked too often."""
        now = self._clock()
        code = f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"
        async with self._sessions.begin() as session:
            await lock_phone(session, phone)
            await self._check_rate(session, phone, now)
            row = OtpCode(
                phone=phone,
                code_hash=self._hash(phone, code),
                created_at=now,
                expires_at=now + self._policy.ttl,
                attempts=0,
            )
            session.add(row)
        minutes = max(1, int(self._policy.ttl.total_seconds() // 60))
        try:
            await self._sender.send(phone, texts.sms("otp", code=code, minutes=minutes))
        except SmsError as exc:
            SMS_FAILURES.inc()
            log.error(
                "one-time code not sent", extra={"phone": mask_phone(phone), "error": str(exc)}
            )
            # Never delivered: it must not count against the phone's sending limit.
            async with self._sessions.begin() as session:
                await session.execute(delete(OtpCode).where(OtpCode.id == row.id))
            raise PeerUnavailable("sms_failed") from exc
        OTP_SENT.inc()
        if self.dev_outbox is not None:
            self.dev_outbox[phone] = code

    async def _check_rate(self, session: AsyncSession, phone: str, now: datetime) -> None:
        query = (
            select(OtpCode.created_at, OtpCode.consumed_at)
            .where(OtpCode.phone == phone, OtpCode.created_at > now - RATE_WINDOW)
            .order_by(OtpCode.created_at.desc())
        )
        recent = list((await session.execute(query)).all())
        if recent:
            last_sent, last_used = recent[0]
            # A code still waiting to be used is probably still on its way: no second SMS
            # yet. Once it was used (a booking made), the next booking may ask at once.
            if last_used is None and now - last_sent < self._policy.resend_interval:
                wait = self._policy.resend_interval - (now - last_sent)
                raise RateLimited("otp_rate", retry_after=math.ceil(wait.total_seconds()))
        if len(recent) >= self._policy.sends_per_hour:
            wait = recent[-1][0] + RATE_WINDOW - now
            raise RateLimited("otp_rate", retry_after=max(1, math.ceil(wait.total_seconds())))

    async def consume(self, session: AsyncSession, phone: str, code: str, now: datetime) -> None:
        """Use up the phone's latest code inside the caller's transaction, which must hold the
        phone lock (locking.py rule 3); InvalidInput when it is wrong, expired or used."""
        query = (
            select(OtpCode)
            .where(OtpCode.phone == phone)
            .order_by(OtpCode.created_at.desc(), OtpCode.id.desc())
            .limit(1)
            .with_for_update()
        )
        row = await session.scalar(query)
        if row is None or row.consumed_at is not None or row.expires_at <= now:
            OTP_REFUSED.labels("expired").inc()
            raise InvalidInput("otp_expired", field="otp")
        if row.attempts >= self._policy.max_attempts:
            OTP_REFUSED.labels("exhausted").inc()
            raise InvalidInput("otp_exhausted", field="otp")
        if not hmac.compare_digest(row.code_hash, self._hash(phone, code)):
            OTP_REFUSED.labels("wrong").inc()
            raise OtpRejected(row.id)
        row.consumed_at = now

    async def prove_phone(self, phone: str, code: str) -> None:
        """Check that `code` is one of the codes sent to `phone` lately, used or not: how an
        idempotent retry shows it comes from the phone's holder although its code was used."""
        query = (
            select(OtpCode)
            .where(OtpCode.phone == phone)
            .order_by(OtpCode.created_at.desc(), OtpCode.id.desc())
        )
        async with self._sessions() as session:
            rows = list((await session.scalars(query)).all())
        if not rows:
            raise InvalidInput("otp_expired", field="otp")
        # Checked before matching, so that guessing stops after a few wrong codes.
        if rows[0].attempts >= self._policy.max_attempts:
            raise InvalidInput("otp_exhausted", field="otp")
        digest = self._hash(phone, code)
        if not any(hmac.compare_digest(row.code_hash, digest) for row in rows):
            raise OtpRejected(rows[0].id)

    async def record_failure(self, otp_id: int) -> None:
        """Count a wrong guess, in its own transaction (the booking's was rolled back)."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(OtpCode).where(OtpCode.id == otp_id).values(attempts=OtpCode.attempts + 1)
            )
