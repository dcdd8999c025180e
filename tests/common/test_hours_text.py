"""Opening hours as typed in the console's form and in import files (yizhan.common.hours_text)."""

import pytest

from yizhan.common.hours_text import HoursTextError, format_ranges, parse_ranges, parse_weekly


def test_a_day_of_ranges_with_chinese_punctuation() -> None:
    assert parse_ranges("8:00-12:00，14:00～20:00") == [("08:00", "12:00"), ("14:00", "20:00")]
    assert parse_ranges("  ") == []
    assert format_ranges([["08:00", "12:00"], ["14:00", "20:00"]]) == "08:00-12:00, 14:00-20:00"


def test_a_week_names_days_spans_and_lists() -> None:
    weekly = parse_weekly("mon-wed 08:00-20:00; sat, sun 09:00-12:00")
    assert weekly == {
        "mon": [("08:00", "20:00")],
        "tue": [("08:00", "20:00")],
        "wed": [("08:00", "20:00")],
        "sat": [("09:00", "12:00")],
        "sun": [("09:00", "12:00")],
    }
    assert parse_weekly("") is None  # always open


@pytest.mark.parametrize(
    "text", ["mon 8-20", "周一 08:00-20:00", "fri-mon 08:00-20:00", "08:00-20:00", "mon"]
)
def test_what_is_not_hours_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(HoursTextError) as caught:
        parse_weekly(text)
    assert caught.value.code == "bad_hours"
