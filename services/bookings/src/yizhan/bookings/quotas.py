"""Per-phone limits checked when a booking is made, under the phone's lock (locking.py rule 3):
no-shows pause a phone, a weekly quota shares the slots and seats out, and a cap on upcoming
bookings stops one phone holding many at once."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from yizhan.bookings import repository
from yizhan.bookings.errors import RateLimited
from yizhan.bookings.metrics import QUOTA_REFUSALS
from yizhan.bookings.plain_sql import Db
from yizhan.bookings.slots import Interval


@dataclass(frozen=True)
class BookingLimits:
    """The limits of settings.py, in the types the checks use."""

    max_active: int
    weekly: int
    tz: ZoneInfo
    no_show_limit: int
    no_show_window: timedelta


def week_of(moment: datetime, tz: ZoneInfo) -> Interval:
    """The calendar week (Monday 00:00 to Monday 00:00, local) that contains `moment`."""
    local = moment.astimezone(tz).date()
    monday = local - timedelta(days=local.weekday())
    start = datetime.combine(monday, time(0), tz)
    end = datetime.combine(monday + timedelta(days=7), time(0), tz)
    return Interval(start, end)


async def check(
    session: Db, limits: BookingLimits, phone: str, start: datetime, now: datetime
) -> None:
    """RateLimited unless `phone` may book something that starts at `start`."""
    no_shows, made, held = await repository.phone_counts(
        session,
        phone,
        no_shows_since=now - limits.no_show_window,
        week=week_of(start, limits.tz),
        now=now,
    )
    if no_shows >= limits.no_show_limit:
        QUOTA_REFUSALS.labels("no_show").inc()
        raise RateLimited("no_show_blocked")
    if made >= limits.weekly:
        QUOTA_REFUSALS.labels("weekly").inc()
        raise RateLimited("weekly_quota")
    if held >= limits.max_active:
        QUOTA_REFUSALS.labels("active").inc()
        raise RateLimited("quota")
