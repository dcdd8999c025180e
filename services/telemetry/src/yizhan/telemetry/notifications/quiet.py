"""Quiet hours of a channel: between `quiet_from` and `quiet_until` (local times in the
channel's zone; a window may cross midnight, 22:00–07:00) its deliveries are held until the
window ends, except for critical alarms, which always go at once: a dark station or a
critical fault at night is what someone on call must hear, a warning can wait till morning.
A held delivery is `quiet` with `next_attempt_at` at the end of the window."""

import zoneinfo
from datetime import datetime, time, timedelta


def held_until(
    now: datetime, start: time | None, end: time | None, tz: str, severity: str
) -> datetime | None:
    """The end of the quiet window `now` falls in (None: send now)."""
    if start is None or end is None or start == end or severity == "critical":
        return None
    local = now.astimezone(zoneinfo.ZoneInfo(tz))
    clock = local.time().replace(tzinfo=None)
    # A window whose start is after its end crosses midnight.
    inside = start <= clock < end if start < end else clock >= start or clock < end
    if not inside:
        return None
    ending = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if ending <= local:
        ending = (local + timedelta(days=1)).replace(
            hour=end.hour, minute=end.minute, second=0, microsecond=0
        )
    return ending
