"""Per-phone limits checked when a booking is made, under the phone's lock (locking.py rule 3):
no-shows pause a phone, a weekly quota shares the slots and seats out, and a cap on upcoming
bookings stops one phone holding many at once."""

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from yizhan.bookings.errors import RateLimited
from yizhan.bookings.metrics import QUOTA_REFUSALS


@dataclass(frozen=True)
class BookingLimits:
    """The limits of settings.py, in the types the checks use."""

    max_active: int
    weekly: int
    tz: ZoneInfo
    no_show_limit: int
    no_show_window: timedelta


# How a refusal of yz_quota_refusal is counted (QUOTA_REFUSALS' label).
_REFUSAL_LABELS = {"no_show_blocked": "no_show", "weekly_quota": "weekly", "quota": "active"}


def quota_refusal(key: str | None) -> RateLimited | None:
    """The error for a refusal key of yz_quota_refusal (None: within the limits), counted."""
    if key is None:
        return None
    QUOTA_REFUSALS.labels(_REFUSAL_LABELS[key]).inc()
    return RateLimited(key)


def sql_arguments(limits: BookingLimits) -> tuple[str, timedelta, int, int, int]:
    """The limits as yz_quota_refusal takes them, after phone, start and now."""
    return (
        limits.tz.key,
        limits.no_show_window,
        limits.no_show_limit,
        limits.weekly,
        limits.max_active,
    )
