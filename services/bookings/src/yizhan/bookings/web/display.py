"""How dates and times read on the form: 11月23日周一 10:00–10:30 (or Mon 23 Nov 10:00–10:30),
in the station's zone."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from yizhan.bookings.texts import Lang, day_label


def time_range(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    """10:00–10:30 in the station's local time."""
    return f"{start.astimezone(tz):%H:%M}–{end.astimezone(tz):%H:%M}"


def when(start: datetime, end: datetime, tz: ZoneInfo, today: date, lang: Lang) -> str:
    """11月23日周一 10:00–10:30, with （今天） for today."""
    local_day = start.astimezone(tz).date()
    return f"{day_label(local_day, lang, today)} {time_range(start, end, tz)}"


def moment(at: datetime, tz: ZoneInfo, today: date, lang: Lang) -> str:
    """11月23日周一 14:00."""
    local = at.astimezone(tz)
    return f"{day_label(local.date(), lang, today)} {local:%H:%M}"
