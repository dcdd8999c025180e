"""Slot generation from opening intervals (pure, nothing running)."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from yizhan.bookings.slots import (
    Interval,
    local_day,
    mark_availability,
    merge,
    slot_grid,
    span_error,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 23)
HALF_HOUR = timedelta(minutes=30)


def local(hour: int, minute: int = 0, day: date = DAY, tz: ZoneInfo = SHANGHAI) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


def test_local_day_is_midnight_to_midnight_in_the_station_zone() -> None:
    window = local_day(DAY, SHANGHAI)
    assert window.start == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    assert window.end - window.start == timedelta(hours=24)


def test_always_open_day_has_48_half_hour_slots() -> None:
    window = local_day(DAY, SHANGHAI)
    grid = slot_grid([window], window, HALF_HOUR)
    assert len(grid) == 48
    assert grid[0].start == local(0)
    assert grid[-1].end == window.end


def test_slots_follow_opening_hours_on_the_clock_grid() -> None:
    window = local_day(DAY, SHANGHAI)
    # Opens 08:10 (the first whole step is 08:30), closes 10:00.
    grid = slot_grid([Interval(local(8, 10), local(10))], window, HALF_HOUR)
    assert [slot.start for slot in grid] == [local(8, 30), local(9), local(9, 30)]


def test_a_step_must_fit_wholly_inside_an_open_interval() -> None:
    window = local_day(DAY, SHANGHAI)
    grid = slot_grid([Interval(local(8), local(9, 45))], window, HALF_HOUR)
    assert grid[-1].end == local(9, 30)


def test_two_intervals_and_a_lunch_break() -> None:
    window = local_day(DAY, SHANGHAI)
    hours = [Interval(local(14), local(15)), Interval(local(8), local(9))]
    grid = slot_grid(hours, window, timedelta(minutes=60))
    assert [slot.start for slot in grid] == [local(8), local(14)]


def test_touching_intervals_are_merged_so_no_step_is_lost() -> None:
    window = local_day(DAY, SHANGHAI)
    hours = [Interval(local(8), local(8, 45)), Interval(local(8, 45), local(10))]
    assert merge(hours) == [Interval(local(8), local(10))]
    grid = slot_grid(hours, window, HALF_HOUR)
    assert [slot.start for slot in grid] == [local(8), local(8, 30), local(9), local(9, 30)]


def test_intervals_beyond_the_day_are_clipped() -> None:
    window = local_day(DAY, SHANGHAI)
    overnight = Interval(local(22), local(2, day=DAY + timedelta(days=1)))
    grid = slot_grid([overnight], window, timedelta(hours=1))
    assert [slot.start for slot in grid] == [local(22), local(23)]


def test_closed_day_has_no_slots() -> None:
    assert slot_grid([], local_day(DAY, SHANGHAI), HALF_HOUR) == []


def test_dst_day_keeps_equal_steps_from_local_midnight() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    change = date(2026, 3, 29)  # 02:00 -> 03:00
    window = local_day(change, berlin)
    assert window.end - window.start == timedelta(hours=23)
    grid = slot_grid([window], window, timedelta(hours=1))
    assert len(grid) == 23
    assert all(slot.end - slot.start == timedelta(hours=1) for slot in grid)


def test_step_must_be_positive() -> None:
    window = local_day(DAY, SHANGHAI)
    with pytest.raises(ValueError, match="positive"):
        slot_grid([window], window, timedelta(0))


def test_availability_marks_taken_and_started_steps() -> None:
    window = local_day(DAY, SHANGHAI)
    grid = slot_grid([Interval(local(8), local(10))], window, HALF_HOUR)
    taken = [Interval(local(9), local(9, 30))]
    slots = mark_availability(grid, taken, not_before=local(8, 10))
    assert [(s.start, s.available) for s in slots] == [
        (local(8), False),  # started
        (local(8, 30), True),
        (local(9), False),  # taken
        (local(9, 30), True),
    ]


def test_minimum_notice_zero_makes_the_step_starting_now_bookable() -> None:
    window = local_day(DAY, SHANGHAI)
    grid = slot_grid([Interval(local(8), local(9))], window, HALF_HOUR)
    slots = mark_availability(grid, [], not_before=local(8, 30))
    assert [s.available for s in slots] == [False, True]


def test_steps_past_the_horizon_are_not_available() -> None:
    window = local_day(DAY, SHANGHAI)
    grid = slot_grid([Interval(local(8), local(9))], window, HALF_HOUR)
    slots = mark_availability(grid, [], not_before=local(0), not_after=local(8))
    assert [s.available for s in slots] == [True, False]


def test_a_booking_spans_consecutive_steps_up_to_the_maximum() -> None:
    window = local_day(DAY, SHANGHAI)
    grid = slot_grid(
        [Interval(local(8), local(10)), Interval(local(11), local(12))], window, HALF_HOUR
    )
    assert span_error(grid, Interval(local(8), local(8, 30)), 2) is None
    assert span_error(grid, Interval(local(8), local(9)), 2) is None
    assert span_error(grid, Interval(local(8), local(9, 30)), 2) == "slot_too_long"
    # A gap (closed 10:00-11:00) breaks the run; off-grid ends are not slots.
    assert span_error(grid, Interval(local(9, 30), local(11, 30)), 8) == "slot_not_on_grid"
    assert span_error(grid, Interval(local(8), local(8, 45)), 2) == "slot_not_on_grid"
    assert span_error(grid, Interval(local(8, 10), local(8, 40)), 2) == "slot_not_on_grid"
    assert span_error(grid, Interval(local(8), local(8)), 2) == "slot_not_on_grid"
