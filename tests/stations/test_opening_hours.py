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


def test_an_exception_closes_a_day() -> None:
    weekly = {"mon": [["08:00", "20:00"]], "tue": [["08:00", "20:00"]]}
    holiday = [{"start": "2026-11-23", "end": "2026-11-23", "hours": []}]
    spans = open_intervals(weekly, "Asia/Shanghai", START, END, holiday)
    assert [a.astimezone(UTC).date().isoformat() for a, _ in spans] == ["2026-11-24"]


def test_an_exception_changes_hours_even_when_always_open() -> None:
    short = [{"start": "2026-11-24", "hours": [["10:00", "12:00"]]}]
    spans = open_intervals(None, "Asia/Shanghai", START, END, short)
    assert spans == [
        (START, datetime(2026, 11, 23, 16, tzinfo=UTC)),
        (datetime(2026, 11, 24, 2, tzinfo=UTC), datetime(2026, 11, 24, 4, tzinfo=UTC)),
    ]


def test_exceptions_outside_the_range_change_nothing() -> None:
    far = [{"start": "2027-01-01", "end": "2027-12-31", "hours": []}]
    assert open_intervals(None, "Asia/Shanghai", START, END, far) == [(START, END)]
