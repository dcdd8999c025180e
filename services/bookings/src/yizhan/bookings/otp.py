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

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.bookings import texts
from yizhan.bookings.errors import InvalidInput, PeerUnavailable, RateLimited
from yizhan.bookings.locking import lock_phone
from yizhan.bookings.metrics import OTP_REFUSED, OTP_SENT, SMS_FAILURES
from yizhan.bookings.models import DevOtpCode, OtpCode
from yizhan.bookings.phones import mask_phone
from yizhan.bookings.plain_sql import Db, fetch_one
from yizhan.bookings.sms import SmsError, SmsSender

log = logging.getLogger(__name__)

OTP_DIGITS = 6
HASH_CONTEXT = b"yizhan-bookings/otp/v1"
RATE_WINDOW = timedelta(hours=1)


def code_hash(key: bytes, phone: str, code: str) -> str:
    """What is stored of a code: keyed, because six digits hashed plainly are found by trying
    all million of them."""
    return hmac.new(key, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class OtpPolicy:
    """How long a code lives, how often it may be guessed, how often one may be sent."""

    ttl: timedelta
    max_attempts: int
    resend_interval: timedelta
    sends_per_hour: int


# How a refusal of yz_judge_otp is counted (OTP_REFUSED's label).
_REFUSAL_LABELS = {"otp_expired": "expired", "otp_exhausted": "exhausted", "otp_wrong": "wrong"}


def otp_refusal(key: str | None) -> InvalidInput | None:
    """The error for a refusal key of yz_judge_otp (None: the code is right), counted."""
    if key is None:
        return None
    OTP_REFUSED.labels(_REFUSAL_LABELS[key]).inc()
    return InvalidInput(key, field="otp")


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
        keep_dev_copy: bool = False,
    ) -> None:
        self._sessions = sessions
        self._sender = sender
        self._policy = policy
        self._key = key
        self._clock = clock
        # Development only: keep the last code sent to each phone, for GET /api/v1/dev/otp.
        self.keeps_dev_copy = keep_dev_copy

    def code_hash(self, phone: str, code: str) -> str:
        """What is stored of `code` sent to `phone`, and compared with it."""
        return code_hash(self._key, phone, code)

    @property
    def max_attempts(self) -> int:
        """Guesses a code allows."""
        return self._policy.max_attempts

    async def issue(self, phone: str) -> None:
        """Send a new code to `phone`; RateLimited when it asked too often."""
        now = self._clock()
        code = f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"
        async with self._sessions.begin() as session:
            await lock_phone(session, phone)
            await self._check_rate(session, phone, now)
            row = OtpCode(
                phone=phone,
                code_hash=self.code_hash(phone, code),
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
        if self.keeps_dev_copy:
            async with self._sessions.begin() as session:
                await session.execute(
                    insert(DevOtpCode)
                    .values(phone=phone, code=code, sent_at=now)
                    .on_conflict_do_update(
                        index_elements=[DevOtpCode.phone], set_={"code": code, "sent_at": now}
                    )
                )

    async def dev_code(self, phone: str) -> str | None:
        """Development only: the last code sent to `phone` (None when none was)."""
        if not self.keeps_dev_copy:
            return None
        async with self._sessions() as session:
            return await session.scalar(select(DevOtpCode.code).where(DevOtpCode.phone == phone))

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

    async def judge(self, phone: str, code: str, *, any_recent: bool = False) -> None:
        """Check a code against the phone's latest (or, for a retry's proof, any recent one)
        and count a wrong guess under the same row lock, in one committed transaction:
        concurrent guesses are judged one at a time, at most `max_attempts` per code.
        InvalidInput when expired, used up or wrong."""
        async with self._sessions.begin() as session:
            refusal = await self.judge_in(session, phone, code, any_recent=any_recent)
        if refusal is not None:
            raise refusal

    async def judge_in(
        self, session: Db, phone: str, code: str, *, any_recent: bool = False
    ) -> InvalidInput | None:
        """`judge` inside the caller's transaction, which must commit whatever the verdict (a
        wrong guess is counted in it); the refusal to raise after that commit, None when the
        code is right. The rule is SQL (migration 0008), shared with the booking of a slot."""
        row = await fetch_one(
            session,
            "SELECT yz_judge_otp(%s, %s, %s, %s, %s)",
            phone,
            self.code_hash(phone, code),
            any_recent,
            self._policy.max_attempts,
            self._clock(),
        )
        return otp_refusal(row[0] if row else None)

    async def consume(self, session: Db, phone: str, code: str, now: datetime) -> None:
        """Use up the phone's latest code inside the caller's transaction, which must hold the
        phone lock (locking.py rule 3). The code was judged just before (`judge`); this only
        makes sure it is still the latest, unused one (a newer code or a concurrent booking
        may have come in between): InvalidInput otherwise. The rule is SQL (migration 0008),
        shared with the booking of a slot."""
        row = await fetch_one(
            session, "SELECT yz_use_otp(%s, %s, %s)", phone, self.code_hash(phone, code), now
        )
        if row is None or not row[0]:
            OTP_REFUSED.labels("expired").inc()
            raise InvalidInput("otp_expired", field="otp")
