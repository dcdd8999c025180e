"""Open alarms across stations, and operators acknowledging them.

An alarm opens on a device's `fault` and closes on its `fault.clear` (ingest/effects.py). An
acknowledgement only records that an operator has seen it (who, when, a note); the alarm
stays open until the device clears it, and a fault that reopens later is a new alarm.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

MAX_NOTE_LENGTH = 500

_COLUMNS = """
a.id, a.device_id, a.station_id, a.code, a.severity, a.message, a.opened_at,
k.acknowledged_at, k.acknowledged_by, k.note
"""
_OPEN = f"""
SELECT {_COLUMNS}
FROM alarms a LEFT JOIN alarm_acks k ON k.alarm_id = a.id
WHERE a.cleared_at IS NULL {{stations}}
ORDER BY a.opened_at, a.id
LIMIT :limit
"""  # noqa: S608 (composed of constants; values are bound)
_COUNT = "SELECT COUNT(*) FROM alarms a WHERE a.cleared_at IS NULL {stations}"
_ACKNOWLEDGE = """
INSERT INTO alarm_acks (alarm_id, acknowledged_by, acknowledged_at, note)
SELECT a.id, :by, now(), :note FROM alarms a
WHERE a.id = :id AND a.cleared_at IS NULL {stations}
ON CONFLICT (alarm_id) DO UPDATE
    SET acknowledged_by = excluded.acknowledged_by,
        acknowledged_at = excluded.acknowledged_at,
        note = excluded.note
RETURNING alarm_id
"""
_ONE = f"""
SELECT {_COLUMNS}
FROM alarms a LEFT JOIN alarm_acks k ON k.alarm_id = a.id
WHERE a.id = :id
"""  # noqa: S608 (composed of constants; values are bound)


@dataclass(frozen=True)
class OpenAlarm:
    """An alarm not cleared yet, and its acknowledgement if any."""

    id: int
    device_id: str
    station_id: str
    code: str
    severity: str
    message: str | None
    since: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    note: str | None


def _stations_clause(station_ids: Sequence[str] | None, params: dict[str, object]) -> str:
    if station_ids is None:
        return ""
    params["stations"] = list(station_ids)
    return "AND a.station_id = ANY(:stations)"


async def open_alarms(
    session: AsyncSession, station_ids: Sequence[str] | None, limit: int
) -> tuple[list[OpenAlarm], int]:
    """Open alarms oldest first (at most `limit`) and how many are open in all."""
    params: dict[str, object] = {"limit": limit}
    clause = _stations_clause(station_ids, params)
    rows = await session.execute(text(_OPEN.format(stations=clause)), params)
    total = await session.scalar(text(_COUNT.format(stations=clause)), params)
    return [OpenAlarm(*row) for row in rows.all()], int(total or 0)


async def acknowledge(
    session: AsyncSession,
    alarm_id: int,
    station_ids: Sequence[str] | None,
    by: str,
    note: str,
) -> OpenAlarm | None:
    """Record the acknowledgement; None when no open alarm has that id among the stations."""
    params: dict[str, object] = {"id": alarm_id, "by": by, "note": note[:MAX_NOTE_LENGTH]}
    clause = _stations_clause(station_ids, params)
    done = await session.scalar(text(_ACKNOWLEDGE.format(stations=clause)), params)
    if done is None:
        await session.rollback()
        return None
    row = (await session.execute(text(_ONE), {"id": alarm_id})).one()
    await session.commit()
    return OpenAlarm(*row)
