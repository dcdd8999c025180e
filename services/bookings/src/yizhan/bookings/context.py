"""What request handlers need, built once by app.py and kept on app.state.deps."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.bookings.availability import Availability
from yizhan.bookings.booking_service import BookingService
from yizhan.bookings.checkin import CheckInDesk
from yizhan.bookings.forum_admin import ForumAdmin
from yizhan.bookings.notices import Notices
from yizhan.bookings.opinions import OpinionDesk
from yizhan.bookings.otp import OtpService
from yizhan.bookings.outbox import Outbox
from yizhan.bookings.peers.stations import StationsClient
from yizhan.bookings.settings import Settings
from yizhan.bookings.stats import BookingStats
from yizhan.common.ratelimit import Check, RateLimiter, Rule


@dataclass
class Deps:
    """The bookings service's dependencies."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    stations: StationsClient
    availability: Availability
    otp: OtpService
    bookings: BookingService
    forums: ForumAdmin
    opinions: OpinionDesk
    checkin: CheckInDesk
    stats: BookingStats
    outbox: Outbox
    # One-time codes per client address: the shared PostgreSQL limiter and its rule.
    limiter: RateLimiter
    otp_client_rule: Rule
    clock: Callable[[], datetime]
    # Issue 15: the SMS a booking change sends (the reminder sweep queues through it too),
    # and feedback forms per client address.
    notices: Notices
    feedback_client_rule: Rule

    async def otp_wait(self, client: str) -> int | None:
        """Count a code requested by this client address; the seconds to wait when too many."""
        return await self.limiter.attempt([Check(self.otp_client_rule, client)])

    async def feedback_wait(self, client: str) -> int | None:
        """Count a feedback form sent by this client address; the seconds to wait when too many."""
        return await self.limiter.attempt([Check(self.feedback_client_rule, client)])
