"""Equipment availability: how long each device was online, as telemetry saw it.

Online is the rule of device_state.py (a message in the last three minutes, nothing since an
offline status or Last Will). That rule only says what is true *now*, so a sampler asks it
every `presence_sample_seconds` and keeps the answers as intervals in `device_presence`: one
row per stretch of the same state, extended while the state holds, a new row when it flips or
when sampling stopped for a while (telemetry down: that time is not observed, neither online
nor offline). Rows grow with state changes, not with time.

Availability over a range = online seconds / observed seconds of the intervals overlapping it.
Working (the district report's second share) = the online seconds during which the device had
no open `critical` alarm (the alarms table's opened_at..cleared_at), over the same observed
seconds.
"""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.telemetry import queries

log = logging.getLogger(__name__)

# One sampler writes per tick even with several telemetry replicas (any constant will do; it
# only has to be distinct from other advisory locks of this database).
_SAMPLER_LOCK_KEY = 0x797A_7072
# A stretch stays one interval while consecutive samples are at most this many sample periods
# apart; a longer silence of the sampler is a gap in observation.
_GAP_PERIODS = 2.5

_ONLINE = (
    "(last_seen > CAST(:now AS timestamptz) - make_interval(secs => :offline_after)"
    " AND (offline_at IS NULL OR last_seen > offline_at))"
)

_EXTEND = f"""
UPDATE device_presence p SET until = :now
FROM device_state s
WHERE p.current AND p.device_id = s.device_id AND p.station_id = s.station_id
  AND p.online = {_ONLINE} AND p.until >= CAST(:now AS timestamptz) - make_interval(secs => :gap)
RETURNING p.device_id
"""  # noqa: S608 (composed of constants; values are bound)

# Devices whose current stretch ended (state flipped, station changed, or a gap): close it...
_CLOSE = """
UPDATE device_presence SET current = false
WHERE current AND NOT (device_id = ANY(:extended))
RETURNING device_id, until
"""
# ... and open the next one, starting at the last sample when there was no gap. (Two
# statements: the partial unique index on current rows must see the old row closed first.)
_OPEN = f"""
WITH closed AS (
    SELECT * FROM unnest(CAST(:closed_ids AS text[]), CAST(:closed_until AS timestamptz[]))
        AS c(device_id, until)
)
INSERT INTO device_presence (device_id, station_id, online, since, until, current)
SELECT s.device_id, s.station_id, {_ONLINE},
       CASE WHEN c.until >= CAST(:now AS timestamptz) - make_interval(secs => :gap)
            THEN c.until ELSE :now END,
       :now, true
FROM device_state s LEFT JOIN closed c ON c.device_id = s.device_id
WHERE NOT (s.device_id = ANY(:extended))
"""  # noqa: S608 (composed of constants; values are bound)


@dataclass(frozen=True)
class Availability:
    """One device over a range: seconds observed, online, and working (online without an
    open critical alarm)."""

    device_id: str
    station_id: str
    observed_seconds: float
    online_seconds: float
    working_seconds: float


async def sample(
    session: AsyncSession, now: datetime, offline_after: int, period_seconds: float
) -> bool:
    """Record every device's state at `now`; False when another replica holds the turn."""
    locked = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _SAMPLER_LOCK_KEY}
    )
    if not locked:
        return False
    params = {"now": now, "offline_after": offline_after, "gap": period_seconds * _GAP_PERIODS}
    extended = list((await session.scalars(text(_EXTEND), params)).all())
    closed = (await session.execute(text(_CLOSE), {"extended": extended})).all()
    await session.execute(
        text(_OPEN),
        {
            **params,
            "extended": extended,
            "closed_ids": [row[0] for row in closed],
            "closed_until": [row[1] for row in closed],
        },
    )
    await session.commit()
    return True


async def availability(
    session: AsyncSession, station_ids: Sequence[str] | None, start: datetime, end: datetime
) -> list[Availability]:
    """Observed, online and working seconds per device over [start, end); None: every
    station."""
    params: dict[str, object] = {"start": start, "end": end}
    stations = ""
    if station_ids is not None:
        stations = "AND station_id = ANY(:stations)"
        params["stations"] = list(station_ids)
    rows = await session.execute(
        text(queries.PRESENCE_AVAILABILITY.format(stations=stations)), params
    )
    return [
        Availability(
            device_id, station_id, float(observed or 0), float(online or 0), float(working or 0)
        )
        for device_id, station_id, observed, online, working in rows.all()
    ]


async def run_sampler(
    sessions: async_sessionmaker[AsyncSession], offline_after: int, period_seconds: float
) -> None:
    """Sample every `period_seconds` for the life of the service (first sample at once)."""
    while True:
        try:
            async with sessions() as session:
                await sample(session, datetime.now(UTC), offline_after, period_seconds)
        except Exception:  # the database may be away for a while; the next tick tries again
            log.exception("presence sample failed")
        await asyncio.sleep(period_seconds)
