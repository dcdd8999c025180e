"""How dates and times read on the form: 11月23日 周一 10:00–10:30, in the station's zone."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from yizhan.bookings.texts import FORM, WEEKDAYS_ZH


def day_label(day: date, today: date) -> str:
    """11月23日 周一, with （今天） for today."""
    label = f"{day.month}月{day.day}日 {WEEKDAYS_ZH[day.weekday()]}"
    return f"{label}（{FORM['today']}）" if day == today else label


def time_range(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    """10:00–10:30 in the station's local time."""
    return f"{start.astimezone(tz):%H:%M}–{end.astimezone(tz):%H:%M}"


def when(start: datetime, end: datetime, tz: ZoneInfo, today: date) -> str:
    """11月23日 周一 10:00–10:30."""
    local_day = start.astimezone(tz).date()
    return f"{day_label(local_day, today)} {time_range(start, end, tz)}"
