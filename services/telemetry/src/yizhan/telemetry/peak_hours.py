"""The peak-hours heatmap: usage folded by local weekday and hour of day.

It is computed from the hourly usage series (usage.py), so it counts exactly what the usage
figures count and is as fast as they are; the fold happens here, in the requested zone.
"""

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.telemetry import usage
from yizhan.telemetry.usage import Figures

# (ISO weekday 1..7, hour 0..23) -> figures
Heatmap = dict[tuple[int, int], Figures]


def fold(series: Sequence[tuple[datetime, Figures]], tz: str) -> Heatmap:
    """Sum hourly buckets into the 7 × 24 cells of their local weekday and hour."""
    zone = ZoneInfo(tz)
    cells: Heatmap = {(day, hour): Figures() for day in range(1, 8) for hour in range(24)}
    for start, figures in series:
        local = start.astimezone(zone)
        key = (local.isoweekday(), local.hour)
        cells[key] = cells[key] + figures
    return cells


async def peak_hours(
    session: AsyncSession,
    station_ids: Sequence[str] | None,
    start: datetime,
    end: datetime,
    tz: str,
) -> Heatmap:
    """The heatmap over [start, end) in `tz`; None: every station."""
    result = await usage.usage_series(
        session, station_ids=station_ids, start=start, end=end, bucket="hour", tz=tz
    )
    return fold(result.series, tz)
