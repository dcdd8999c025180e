"""Dark stations (issue 14): a station whose devices are all offline has one open alarm of
the whole station, code `station_dark`, severity `critical`, until any of its devices is
heard again. Its devices' own `offline` alarms (warnings) stay as they are; the dark alarm
is what says "nobody at this station can be served right now".

Which devices: those telemetry has heard (device_state), offline by the same rule as the
`offline` alarm (device_state.py). A station none of whose devices was ever heard is not
dark but unknown. The alarm's `since` is when its last device went offline. Checked by the
alarm watcher (alarm_watch.py) with the offline alarms, in the same transaction.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.telemetry.offline_alarms import ONLINE_SQL

DARK_CODE = "station_dark"
DARK_SEVERITY = "critical"
DARK_MESSAGE = "every device of the station is offline"

# When a device went offline: its Last Will or offline status, or the end of its silence.
_WENT_OFFLINE = (
    "CASE WHEN s.offline_at IS NOT NULL AND s.offline_at >= s.last_seen THEN s.offline_at"
    " ELSE s.last_seen + make_interval(secs => :offline_after) END"
)

_OPEN = f"""
INSERT INTO alarms (device_id, station_id, code, severity, message, opened_at)
SELECT NULL, s.station_id, :code, :severity, :message, MAX({_WENT_OFFLINE})
FROM device_state s
GROUP BY s.station_id
HAVING bool_and(NOT {ONLINE_SQL})
   AND NOT EXISTS (SELECT 1 FROM alarms a WHERE a.station_id = s.station_id
                   AND a.device_id IS NULL AND a.code = :code AND a.cleared_at IS NULL)
ON CONFLICT (station_id, code) WHERE device_id IS NULL AND cleared_at IS NULL DO NOTHING
RETURNING station_id
"""  # noqa: S608 (composed of constants; values are bound)

# Any device heard again: cleared at the message that brought it back.
_CLEAR = f"""
UPDATE alarms a SET cleared_at = GREATEST(a.opened_at, back.at)
FROM (SELECT s.station_id, MAX(s.last_seen) AS at FROM device_state s
      WHERE {ONLINE_SQL} GROUP BY s.station_id) AS back
WHERE a.code = :code AND a.device_id IS NULL AND a.cleared_at IS NULL
  AND a.station_id = back.station_id
RETURNING a.station_id
"""  # noqa: S608 (composed of constants; values are bound)

DARK_STATIONS = f"""
SELECT s.station_id FROM device_state s
WHERE s.station_id = ANY(:stations)
GROUP BY s.station_id HAVING bool_and(NOT {ONLINE_SQL})
"""  # noqa: S608 (composed of constants; values are bound)


@dataclass(frozen=True)
class DarkChanges:
    """Stations that went dark or lit up again in one check."""

    went_dark: list[str]
    lit_again: list[str]


async def check(session: AsyncSession, now: datetime, offline_after: int) -> DarkChanges:
    """Open the dark alarm of stations with every device offline, clear the others' (the
    caller commits)."""
    params = {
        "now": now,
        "offline_after": offline_after,
        "code": DARK_CODE,
        "severity": DARK_SEVERITY,
        "message": DARK_MESSAGE,
    }
    dark = list((await session.scalars(text(_OPEN), params)).all())
    lit = list((await session.scalars(text(_CLEAR), params)).all())
    return DarkChanges(dark, lit)


async def dark_among(
    session: AsyncSession, station_ids: list[str], now: datetime, offline_after: int
) -> set[str]:
    """Which of these stations are dark now (every device it has heard is offline)."""
    rows = await session.scalars(
        text(DARK_STATIONS),
        {"stations": station_ids, "now": now, "offline_after": offline_after},
    )
    return set(rows.all())
