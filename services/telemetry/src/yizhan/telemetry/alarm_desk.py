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

from yizhan.telemetry import queries

MAX_NOTE_LENGTH = 500


@dataclass(frozen=True)
class OpenAlarm:
    """An alarm not cleared yet, and its acknowledgement if any."""

    id: int
    # None for an alarm of the whole station (a dark station).
    device_id: str | None
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
    rows = await session.execute(text(queries.ALARM_OPEN.format(stations=clause)), params)
    total = await session.scalar(text(queries.ALARM_COUNT.format(stations=clause)), params)
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
    done = await session.scalar(text(queries.ALARM_ACKNOWLEDGE.format(stations=clause)), params)
    if done is None:
        await session.rollback()
        return None
    row = (await session.execute(text(queries.ALARM_ONE), {"id": alarm_id})).one()
    await session.commit()
    return OpenAlarm(*row)
