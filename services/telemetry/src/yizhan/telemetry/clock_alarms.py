"""Clock alarms (issue 14): a kiosk whose messages keep arriving dead-lettered as `ts_future`
or `ts_stale` (its clock is wrong, so everything it counts is lost) has an open alarm
`clock`/`warning` until one of its messages is accepted again.

"Keep arriving": at least CLOCK_REFUSALS_TO_OPEN refusals within the last CLOCK_WINDOW, the
latest of them after the device's latest accepted message. One odd message (a kiosk
replaying a backlog older than 30 days, say) opens nothing; a kiosk with a wrong clock
sends something every minute (CONTRACT §2), so it is caught within about three minutes.
"Accepted again": a telemetry or event message of the device stored after its latest
refusal (the device's highest seq in message_keys, which a working kiosk keeps raising;
statuses carry no seq and are never refused for their time, so they do not count).

Only devices telemetry has heard (device_state, at the station the topic names) get the
alarm: a dead letter's station and device come from its topic, unverified. Checked by the
alarm watcher (alarm_watch.py).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

CLOCK_CODE: Final = "clock"
CLOCK_SEVERITY: Final = "warning"
CLOCK_REFUSALS_TO_OPEN: Final = 3
CLOCK_WINDOW: Final = timedelta(minutes=10)

# The received_at of the device's latest accepted message (its highest seq): one step
# backwards along the primary key.
_LAST_ACCEPTED = """
(SELECT k.received_at FROM message_keys k WHERE k.device_id = {device}
 ORDER BY k.seq DESC LIMIT 1)
"""

_OPEN = f"""
WITH refused AS (
    SELECT d.device_id, d.station_id, COUNT(*) AS refusals, MIN(d.received_at) AS first_at,
           MAX(d.received_at) AS last_at,
           (array_agg(d.reason ORDER BY d.received_at DESC))[1] AS reason
    FROM dead_letters d
    WHERE d.reason IN ('ts_future', 'ts_stale') AND d.received_at > :since
      AND d.device_id IS NOT NULL
    GROUP BY d.device_id, d.station_id
    HAVING COUNT(*) >= :refusals
)
INSERT INTO alarms (device_id, station_id, code, severity, message, opened_at)
SELECT r.device_id, r.station_id, :code, :severity,
       'messages refused as ' || r.reason || ' (' || r.refusals || ' in '
           || :window_minutes || ' min): the device clock is wrong',
       r.first_at
FROM refused r JOIN device_state s ON s.device_id = r.device_id AND s.station_id = r.station_id
WHERE r.last_at > COALESCE({_LAST_ACCEPTED.format(device="r.device_id")}, '-infinity')
ON CONFLICT (device_id, code) WHERE cleared_at IS NULL DO NOTHING
RETURNING device_id
"""  # noqa: S608 (composed of constants; values are bound)

_CLEAR = f"""
WITH open_clock AS (
    SELECT a.id, a.device_id, a.opened_at,
           {_LAST_ACCEPTED.format(device="a.device_id")} AS accepted_at,
           (SELECT MAX(d.received_at) FROM dead_letters d
            WHERE d.reason IN ('ts_future', 'ts_stale') AND d.device_id = a.device_id
              AND d.received_at >= a.opened_at) AS refused_at
    FROM alarms a WHERE a.code = :code AND a.cleared_at IS NULL AND a.device_id IS NOT NULL
)
UPDATE alarms a SET cleared_at = GREATEST(o.opened_at, o.accepted_at)
FROM open_clock o
WHERE a.id = o.id AND o.accepted_at > COALESCE(o.refused_at, o.opened_at)
RETURNING a.device_id
"""  # noqa: S608 (composed of constants; values are bound)


@dataclass(frozen=True)
class ClockChanges:
    """Devices whose clock alarm one check opened or cleared."""

    opened: list[str]
    cleared: list[str]


async def check(session: AsyncSession, now: datetime) -> ClockChanges:
    """Open the clock alarm of devices whose messages keep being refused for their time,
    clear it once one is accepted again (the caller commits)."""
    params = {
        "since": now - CLOCK_WINDOW,
        "refusals": CLOCK_REFUSALS_TO_OPEN,
        "window_minutes": str(int(CLOCK_WINDOW.total_seconds() // 60)),
        "code": CLOCK_CODE,
        "severity": CLOCK_SEVERITY,
    }
    cleared = list((await session.scalars(text(_CLEAR), params)).all())
    opened = list((await session.scalars(text(_OPEN), params)).all())
    return ClockChanges(opened, cleared)
