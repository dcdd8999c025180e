"""The peak-hours fold: hourly buckets into local weekday × hour cells."""

from datetime import UTC, datetime, timedelta

from yizhan.telemetry.peak_hours import fold
from yizhan.telemetry.usage import Figures


def test_buckets_land_in_their_local_weekday_and_hour() -> None:
    # Sunday 2026-11-22 16:00 UTC is Monday 00:00 in Shanghai.
    start = datetime(2026, 11, 22, 16, tzinfo=UTC)
    series = [
        (start, Figures(visits=3)),
        (start + timedelta(hours=1), Figures(visits=1)),
        (start + timedelta(days=7), Figures(visits=4, dispenses=2)),
    ]
    cells = fold(series, "Asia/Shanghai")
    assert len(cells) == 168
    assert cells[(1, 0)] == Figures(visits=7, dispenses=2)
    assert cells[(1, 1)].visits == 1
    assert sum(c.visits for c in cells.values()) == 8
