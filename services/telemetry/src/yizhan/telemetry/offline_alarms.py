"""Offline devices raise an alarm (CONTRACT §3): a device offline by the rule of
device_state.py (Last Will, an `offline` status, or `offline_after` seconds of silence) has an
open alarm `offline`/`warning` until it is heard again.

Silence is the absence of messages, so no message can open this alarm: the alarm watcher of
the API process (alarm_watch.py) asks the rule every `offline_check_seconds` and opens or
clears the alarms in one transaction. The alarm's `since` is when the device went offline
(its Last Will or offline status, or the end of its last three minutes), not when the
watcher noticed.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

OFFLINE_CODE = "offline"
OFFLINE_SEVERITY = "warning"
OFFLINE_MESSAGE = "device offline"

# Online by the rule of device_state.py, for a device_state row `s` at `:now`.
ONLINE_SQL = (
    "(s.last_seen > CAST(:now AS timestamptz) - make_interval(secs => :offline_after)"
    " AND (s.offline_at IS NULL OR s.last_seen > s.offline_at))"
)

_OPEN = f"""
INSERT INTO alarms (device_id, station_id, code, severity, message, opened_at)
SELECT s.device_id, s.station_id, :code, :severity, :message,
       CASE WHEN s.offline_at IS NOT NULL AND s.offline_at >= s.last_seen THEN s.offline_at
            ELSE s.last_seen + make_interval(secs => :offline_after) END
FROM device_state s
WHERE NOT {ONLINE_SQL}
  AND NOT EXISTS (SELECT 1 FROM alarms a
                  WHERE a.device_id = s.device_id AND a.code = :code AND a.cleared_at IS NULL)
ON CONFLICT (device_id, code) WHERE cleared_at IS NULL DO NOTHING
RETURNING device_id
"""  # noqa: S608 (composed of constants; values are bound)

# Heard again: cleared at the message that brought it back (never before it opened).
_CLEAR = f"""
UPDATE alarms a SET cleared_at = GREATEST(a.opened_at, s.last_seen)
FROM device_state s
WHERE a.code = :code AND a.cleared_at IS NULL AND a.device_id = s.device_id AND {ONLINE_SQL}
RETURNING a.device_id
"""  # noqa: S608 (composed of constants; values are bound)


@dataclass(frozen=True)
class OfflineChanges:
    """Devices whose offline alarm one check opened or cleared."""

    opened: list[str]
    cleared: list[str]


async def check(session: AsyncSession, now: datetime, offline_after: int) -> OfflineChanges:
    """Open the offline alarm of devices offline at `now`, clear those of devices online
    (the caller commits)."""
    params = {
        "now": now,
        "offline_after": offline_after,
        "code": OFFLINE_CODE,
        "severity": OFFLINE_SEVERITY,
        "message": OFFLINE_MESSAGE,
    }
    opened = list((await session.scalars(text(_OPEN), params)).all())
    cleared = list((await session.scalars(text(_CLEAR), params)).all())
    return OfflineChanges(opened, cleared)
