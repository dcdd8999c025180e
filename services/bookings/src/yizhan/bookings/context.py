"""What request handlers need, built once by app.py and kept on app.state.deps."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.bookings.availability import Availability
from yizhan.bookings.booking_service import BookingService
from yizhan.bookings.checkin import CheckInDesk
from yizhan.bookings.forum_admin import ForumAdmin
from yizhan.bookings.opinions import OpinionDesk
from yizhan.bookings.otp import OtpService
from yizhan.bookings.outbox import Outbox
from yizhan.bookings.peers.stations import StationsClient
from yizhan.bookings.ratelimit import SlidingWindowLimiter
from yizhan.bookings.settings import Settings
from yizhan.bookings.stats import BookingStats


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
    # One-time codes one client address may request per hour (see ratelimit.py).
    otp_client_limiter: SlidingWindowLimiter
    clock: Callable[[], datetime]
