from datetime import UTC, datetime

from yizhan.stations.opening_hours import open_intervals

START = datetime(2026, 11, 22, 16, tzinfo=UTC)  # Monday 00:00 in Shanghai
END = datetime(2026, 11, 24, 16, tzinfo=UTC)  # Wednesday 00:00 in Shanghai


def test_no_hours_means_always_open() -> None:
    assert open_intervals(None, "Asia/Shanghai", START, END) == [(START, END)]


def test_weekly_hours_become_local_intervals() -> None:
    weekly = {"mon": [["08:00", "20:00"]], "tue": [["09:00", "24:00"]]}
    spans = [
        (a.astimezone(UTC).isoformat(), b.astimezone(UTC).isoformat())
        for a, b in open_intervals(weekly, "Asia/Shanghai", START, END)
    ]
    assert spans == [
        ("2026-11-23T00:00:00+00:00", "2026-11-23T12:00:00+00:00"),
        ("2026-11-24T01:00:00+00:00", "2026-11-24T16:00:00+00:00"),
    ]


def test_intervals_are_clipped_to_the_range() -> None:
    weekly = {"mon": [["08:00", "20:00"]]}
    clipped = open_intervals(weekly, "Asia/Shanghai", datetime(2026, 11, 23, 6, tzinfo=UTC), END)
    assert clipped[0][0] == datetime(2026, 11, 23, 6, tzinfo=UTC)


def test_closed_days_have_no_intervals() -> None:
    assert open_intervals({"sun": [["08:00", "20:00"]]}, "Asia/Shanghai", START, END) == []
