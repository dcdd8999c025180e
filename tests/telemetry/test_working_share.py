"""Equipment availability as the district report defines it (issue 14): of the time telemetry
observed a device, how long it was online, and how long it was working (online with no open
critical alarm), over a range that cuts the stretches and alarms at its edges."""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

import yizhan.telemetry
from yizhan.common.db import run_migrations
from yizhan.telemetry import presence

pytestmark = pytest.mark.integration
MIGRATIONS = Path(yizhan.telemetry.__file__).parent / "migrations"
T0 = datetime(2026, 10, 1, tzinfo=UTC)


def _at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


async def _availability(url: str) -> list[presence.Availability]:
    engine = create_async_engine(url)
    try:
        async with async_sessionmaker(engine)() as session:
            # Observed 0h-10h: online 0-6, offline 6-8, online 8-10 (the range cuts at 1h).
            for online, since, until in ((True, 0, 6), (False, 6, 8), (True, 8, 10)):
                await session.execute(
                    text(
                        "INSERT INTO device_presence (device_id, station_id, online, since,"
                        " until, current) VALUES ('D1', 'S1', :online, :since, :until, false)"
                    ),
                    {"online": online, "since": _at(since), "until": _at(until)},
                )
            # Critical 2h-4h and 3h-5h (overlapping: 3 h in all, not 4), one still open from
            # 9h, and a warning 0h-10h that does not stop the device working.
            for severity, opened, cleared in (
                ("critical", 2, 4),
                ("critical", 3, 5),
                ("critical", 9, None),
                ("warning", 0, 10),
                ("critical", 6.5, 7),  # while offline: changes nothing
            ):
                await session.execute(
                    text(
                        "INSERT INTO alarms (device_id, station_id, code, severity, opened_at,"
                        " cleared_at) VALUES ('D1', 'S1', :code, :severity, :opened, :cleared)"
                    ),
                    {
                        "code": f"C{opened}",
                        "severity": severity,
                        "opened": _at(opened),
                        "cleared": None if cleared is None else _at(cleared),
                    },
                )
            await session.commit()
            return await presence.availability(session, ["S1"], _at(1), _at(12))
    finally:
        await engine.dispose()


def test_working_is_online_without_an_open_critical_alarm(
    new_database: Callable[[str], str],
) -> None:
    url = new_database("tm_working")
    run_migrations(url, MIGRATIONS)
    (row,) = asyncio.run(_availability(url))
    assert row.observed_seconds == 9 * 3600  # 1h-10h
    assert row.online_seconds == 7 * 3600  # 1h-6h and 8h-10h
    # Online 1-6 minus critical 2-5 (2 h) and 8-10 minus critical 9-10 (1 h).
    assert row.working_seconds == 3 * 3600
