"""The alarm watcher of the API process: alarms no single message can open or close, checked
every `offline_check_seconds` in one transaction: devices offline (offline_alarms.py),
stations dark (dark_stations.py, after the offline alarms so that both open in the same
turn) and kiosk clocks refusing every message (clock_alarms.py). Several replicas may watch
at once: the open-alarm unique indexes let only one alarm open."""

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.telemetry import clock_alarms, dark_stations, offline_alarms

log = logging.getLogger(__name__)


async def check_all(session: AsyncSession, now: datetime, offline_after: int) -> dict[str, int]:
    """One turn of every check, committed together; how many alarms each opened or cleared."""
    offline = await offline_alarms.check(session, now, offline_after)
    dark = await dark_stations.check(session, now, offline_after)
    clock = await clock_alarms.check(session, now)
    await session.commit()
    return {
        "offline_opened": len(offline.opened),
        "offline_cleared": len(offline.cleared),
        "dark_opened": len(dark.went_dark),
        "dark_cleared": len(dark.lit_again),
        "clock_opened": len(clock.opened),
        "clock_cleared": len(clock.cleared),
    }


async def run_watcher(
    sessions: async_sessionmaker[AsyncSession], offline_after: int, period_seconds: float
) -> None:
    """Check every `period_seconds` for the life of the service (first check at once)."""
    while True:
        try:
            async with sessions() as session:
                changes = await check_all(session, datetime.now(UTC), offline_after)
            if any(changes.values()):
                log.info("alarms changed", extra=changes)
        except Exception:  # the database may be away for a while; the next tick tries again
            log.exception("alarm check failed")
        await asyncio.sleep(period_seconds)
