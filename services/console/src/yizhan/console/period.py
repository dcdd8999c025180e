"""The period picker: today, 7 days, 30 days, this month, last month or custom dates, and the
bucket, turned into a half-open range [start, end) of local calendar days in the console's zone;
and the previous period that a period is compared with."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PeriodKind = Literal["today", "7d", "30d", "month", "last_month", "custom"]
Bucket = Literal["hour", "day", "week", "month"]
PERIODS: Final[tuple[PeriodKind, ...]] = get_args(PeriodKind)
BUCKETS: Final[tuple[Bucket, ...]] = get_args(Bucket)
# A custom range longer than this is a report for another tool (bookings answers at most
# 366 days); it also bounds the queries.
MAX_DAYS: Final = 366
# Dates a custom period may use: anything else is a typo, and far dates overflow datetimes.
EARLIEST: Final = date(2000, 1, 1)
LATEST: Final = date(2999, 12, 31)
# Hourly charts past two months are unreadable and heavy; ask for a larger bucket.
MAX_HOUR_BUCKET_DAYS: Final = 62


class PeriodError(ValueError):
    """A period the console cannot show; the message names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Period:
    """A checked period: local days [first, last], the instant range, the bucket."""

    kind: PeriodKind
    first: date
    last: date
    bucket: Bucket
    tz: str

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's zone."""
        return ZoneInfo(self.tz)

    @property
    def start(self) -> datetime:
        """Local midnight starting the first day."""
        return datetime.combine(self.first, time(0), self.zone)

    @property
    def end(self) -> datetime:
        """Local midnight after the last day (exclusive)."""
        return datetime.combine(self.last + timedelta(days=1), time(0), self.zone)

    @property
    def days(self) -> int:
        """Calendar days covered."""
        return (self.last - self.first).days + 1

    def query(self) -> dict[str, str]:
        """The URL parameters that choose this period again."""
        params: dict[str, str] = {"period": self.kind, "bucket": self.bucket}
        if self.kind == "custom":
            params |= {"from": self.first.isoformat(), "to": self.last.isoformat()}
        return params


def default_bucket(kind: PeriodKind, days: int) -> Bucket:
    """Hours for a day, days up to two months, weeks up to half a year, then months."""
    if kind == "today" or days <= 2:
        return "hour"
    if days <= MAX_HOUR_BUCKET_DAYS:
        return "day"
    return "week" if days <= 190 else "month"


def today_in(tz: str, now: datetime | None = None) -> date:
    """The local date now in `tz`."""
    return (now or datetime.now(ZoneInfo(tz))).astimezone(ZoneInfo(tz)).date()


def parse_period(
    kind: str | None,
    bucket: str | None,
    first: str | None,
    last: str | None,
    tz: str,
    now: datetime | None = None,
) -> Period:
    """The period the picker asked for; PeriodError for a bad choice."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PeriodError("tz", "not an IANA time zone name") from exc
    kind = kind or "7d"
    if kind not in PERIODS:
        raise PeriodError("period", f"use one of {', '.join(PERIODS)}")
    today = today_in(tz, now)
    if kind == "today":
        start_day, end_day = today, today
    elif kind == "7d":
        start_day, end_day = today - timedelta(days=6), today
    elif kind == "30d":
        start_day, end_day = today - timedelta(days=29), today
    elif kind == "month":
        start_day, end_day = month_of(today)
    elif kind == "last_month":
        start_day, end_day = month_of(today.replace(day=1) - timedelta(days=1))
    else:
        start_day, end_day = _custom_days(first, last)
    days = (end_day - start_day).days + 1
    if bucket in (None, ""):
        chosen: Bucket = default_bucket(kind, days)
    elif bucket in BUCKETS:
        chosen = bucket
    else:
        raise PeriodError("bucket", f"use one of {', '.join(BUCKETS)}")
    if chosen == "hour" and days > MAX_HOUR_BUCKET_DAYS:
        raise PeriodError("bucket", f"hours only up to {MAX_HOUR_BUCKET_DAYS} days; use day")
    return Period(kind, start_day, end_day, chosen, tz)


def month_of(day: date) -> tuple[date, date]:
    """The first and last day of the calendar month of `day`."""
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def previous_period(period: Period) -> Period:
    """The period a period is compared with: the calendar month before for a whole month
    (this month so far compares with all of last month), otherwise as many days just before."""
    if period.kind in ("month", "last_month"):
        first, last = month_of(period.first - timedelta(days=1))
    else:
        last = period.first - timedelta(days=1)
        first = last - timedelta(days=period.days - 1)
    return Period("custom", first, last, period.bucket, period.tz)


def change(now: float | None, before: float | None) -> float | None:
    """The relative change from `before` to `now` in percent; None when either is unknown
    or there was nothing before (a change from zero has no percentage)."""
    if now is None or before is None or before == 0:
        return None
    return 100 * (now - before) / before


def _custom_days(first: str | None, last: str | None) -> tuple[date, date]:
    if not first or not last:
        raise PeriodError("from", "a custom period needs both dates")
    try:
        start_day = date.fromisoformat(first)
    except ValueError as exc:
        raise PeriodError("from", "use YYYY-MM-DD") from exc
    try:
        end_day = date.fromisoformat(last)
    except ValueError as exc:
        raise PeriodError("to", "use YYYY-MM-DD") from exc
    for field, day in (("from", start_day), ("to", end_day)):
        if not EARLIEST <= day <= LATEST:
            raise PeriodError(field, f"between {EARLIEST} and {LATEST}")
    if end_day < start_day:
        raise PeriodError("to", "must not be before from")
    if (end_day - start_day).days + 1 > MAX_DAYS:
        raise PeriodError("to", f"at most {MAX_DAYS} days")
    return start_day, end_day
