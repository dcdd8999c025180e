"""The period picker: calendar days in the console's zone, default buckets, refusals."""

from datetime import UTC, date, datetime

import pytest

from yizhan.console.period import PeriodError, parse_period

pytestmark = pytest.mark.unit

SHANGHAI = "Asia/Shanghai"
# 2026-11-30 20:00 UTC is already 1 December in Shanghai.
LATE_EVENING_UTC = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)


def test_today_is_the_local_day_in_hours() -> None:
    period = parse_period("today", None, None, None, SHANGHAI, LATE_EVENING_UTC)
    assert (period.first, period.last, period.bucket) == (
        date(2026, 12, 1),
        date(2026, 12, 1),
        "hour",
    )
    assert period.start.isoformat() == "2026-12-01T00:00:00+08:00"
    assert period.end.isoformat() == "2026-12-02T00:00:00+08:00"


@pytest.mark.parametrize(
    ("kind", "first", "last", "bucket"),
    [
        ("7d", date(2026, 11, 25), date(2026, 12, 1), "day"),
        ("30d", date(2026, 11, 2), date(2026, 12, 1), "day"),
        ("month", date(2026, 12, 1), date(2026, 12, 31), "day"),
    ],
)
def test_rolling_periods_end_today(kind: str, first: date, last: date, bucket: str) -> None:
    period = parse_period(kind, "", None, None, SHANGHAI, LATE_EVENING_UTC)
    assert (period.first, period.last, period.bucket) == (first, last, bucket)


def test_custom_period_includes_its_last_day() -> None:
    period = parse_period("custom", None, "2026-01-01", "2026-03-31", SHANGHAI)
    assert period.days == 90
    assert period.bucket == "week"
    assert period.end.isoformat() == "2026-04-01T00:00:00+08:00"
    assert period.query() == {
        "period": "custom",
        "bucket": "week",
        "from": "2026-01-01",
        "to": "2026-03-31",
    }


def test_chosen_bucket_wins() -> None:
    assert parse_period("30d", "week", None, None, SHANGHAI).bucket == "week"


@pytest.mark.parametrize(
    ("kind", "bucket", "first", "last", "field"),
    [
        ("decade", None, None, None, "period"),
        ("7d", "minute", None, None, "bucket"),
        ("custom", None, "2026-01-01", None, "from"),
        ("custom", None, "01/01/2026", "2026-01-02", "from"),
        ("custom", None, "2026-01-02", "2026-01-01", "to"),
        ("custom", None, "2024-01-01", "2026-01-01", "to"),
        ("custom", "hour", "2026-01-01", "2026-06-01", "bucket"),
    ],
)
def test_refusals_name_the_field(
    kind: str, bucket: str | None, first: str | None, last: str | None, field: str
) -> None:
    with pytest.raises(PeriodError) as raised:
        parse_period(kind, bucket, first, last, SHANGHAI)
    assert raised.value.field == field


def test_unknown_zone_is_refused() -> None:
    with pytest.raises(PeriodError):
        parse_period("7d", None, None, None, "Mars/Olympus")
