"""RFC 3339 timestamps with a mandatory offset, as devices and operators send them."""

import re
from datetime import UTC, datetime, timedelta, timezone

# Date, `T`, time with seconds, optional fraction, and an offset: nothing else is RFC 3339.
# ASCII digits only (`\d` also takes other scripts' digits) and fullmatch (`$` would also
# accept a trailing newline).
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)


def parse_rfc3339(text: str) -> datetime:
    """An aware datetime in UTC; ValueError unless `text` is RFC 3339 with an offset."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError("not an RFC 3339 timestamp with offset")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = (match.group(7) or "").ljust(6, "0")[:6]
    if match.group(8):
        offset = timedelta(0)
    else:
        off_hours, off_minutes = int(match.group(10)), int(match.group(11))
        if off_hours > 23 or off_minutes > 59:
            raise ValueError("offset out of range")
        offset = timedelta(hours=off_hours, minutes=off_minutes)
        if match.group(9) == "-":
            offset = -offset
    moment = datetime(
        year, month, day, hour, minute, second, int(fraction), tzinfo=timezone(offset)
    )
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+08:00
        raise ValueError("timestamp out of range") from exc
