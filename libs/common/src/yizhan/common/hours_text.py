"""Opening hours as people type them, shared by the console's station form and stations' bulk
import (docs/registry-import.md): one day's ranges `08:00-12:00, 14:00-20:00`, and a week
`mon-fri 08:00-20:00; sat,sun 09:00-17:00`. Parsing only shapes the text into the API's
JSON; stations' schemas judge the times themselves (order, 24:00), so the rules stay in one
place."""

import re

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Chinese keyboards produce fullwidth punctuation; both are accepted.
_RANGE_SEPARATORS = re.compile(r"[,，、]")
_DAY_SEPARATORS = re.compile(r"[;；\n]")
_RANGE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–~～]\s*(\d{1,2}:\d{2})\s*$")
_DAY_SPAN = re.compile(r"^([a-z]{3})\s*-\s*([a-z]{3})$")
# Days, then hours from the first digit on: `sat, sun 09:00-12:00`.
_ENTRY = re.compile(r"^(?P<days>[^\d]+?)\s*(?P<hours>\d.*)$")


class HoursTextError(ValueError):
    """Text that is not opening hours; `code` names the reason for translations."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def _hhmm(value: str) -> str:
    hours, minutes = value.split(":")
    return f"{int(hours):02d}:{minutes}"


def parse_ranges(text: str) -> list[tuple[str, str]]:
    """`08:00-12:00, 14:00-20:00` -> [("08:00", "12:00"), ("14:00", "20:00")]; empty: []."""
    ranges: list[tuple[str, str]] = []
    for part in _RANGE_SEPARATORS.split(text.strip()):
        if not part.strip():
            continue
        match = _RANGE.match(part)
        if match is None:
            raise HoursTextError("bad_hours", f"{part.strip()!r} is not HH:MM-HH:MM")
        ranges.append((_hhmm(match.group(1)), _hhmm(match.group(2))))
    return ranges


def format_ranges(ranges: list[list[str]] | list[tuple[str, str]]) -> str:
    """The inverse of parse_ranges."""
    return ", ".join(f"{opens}-{closes}" for opens, closes in ranges)


def _days(spec: str) -> list[str]:
    days: list[str] = []
    for part in _RANGE_SEPARATORS.split(spec.lower()):
        part = part.strip()
        span = _DAY_SPAN.match(part)
        if span and span.group(1) in WEEKDAYS and span.group(2) in WEEKDAYS:
            first, last = WEEKDAYS.index(span.group(1)), WEEKDAYS.index(span.group(2))
            if first > last:
                raise HoursTextError("bad_hours", f"{part!r}: the days run backwards")
            days.extend(WEEKDAYS[first : last + 1])
        elif part in WEEKDAYS:
            days.append(part)
        else:
            raise HoursTextError("bad_hours", f"{part!r} is not a weekday (mon..sun)")
    return days


def parse_weekly(text: str) -> dict[str, list[tuple[str, str]]] | None:
    """`mon-fri 08:00-20:00; sat 09:00-12:00` -> the API's opening_hours (days not named are
    closed); empty text is None (always open)."""
    if not text.strip():
        return None
    weekly: dict[str, list[tuple[str, str]]] = {}
    for entry in _DAY_SEPARATORS.split(text):
        entry = entry.strip()
        if not entry:
            continue
        match = _ENTRY.match(entry)
        if match is None:
            raise HoursTextError("bad_hours", f"{entry!r}: weekdays, then HH:MM-HH:MM")
        ranges = parse_ranges(match.group("hours"))
        for day in _days(match.group("days")):
            weekly.setdefault(day, []).extend(ranges)
    return weekly
