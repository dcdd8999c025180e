"""Purges: keys no message can need any more, old dead letters, and (without TimescaleDB)
raw rows past their retention; the usage rollups stay."""

import asyncio
import subprocess
from collections.abc import Callable

import pytest

from tests.support.services import service_env
from tests.telemetry.conftest import Database
from yizhan.common.db import create_engine, session_factory
from yizhan.telemetry import maintenance

pytestmark = pytest.mark.integration


def purge(url: str, raw_retention_days: int = 400) -> dict[str, int]:
    async def run() -> dict[str, int]:
        engine = create_engine(url, pool_size=1)
        try:
            return await maintenance.purge_once(
                session_factory(engine),
                raw_retention_days=raw_retention_days,
                dead_letter_retention_days=90,
            )
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_old_rows_are_purged_and_rollups_kept(new_database: Callable[[str], str]) -> None:
    url = new_database("telemetry_purge")
    env = service_env("telemetry", url, {"YZ_TELEMETRY_TIMESCALEDB": "off"})
    subprocess.run(["yz-telemetry", "migrate"], env=env, check=True, capture_output=True)
    database = Database(url)
    database.execute(
        "INSERT INTO message_keys (device_id, seq, ts, received_at) VALUES"
        " ('D', 1, now() - interval '40 days', now()), ('D', 2, now() - interval '29 days', now())",
        (),
    )
    database.execute(
        "INSERT INTO dead_letters (received_at, topic, reason, detail, payload) VALUES"
        " (now() - interval '100 days', 't', 'invalid', '', ''), (now(), 't', 'invalid', '', '')",
        (),
    )
    database.execute(
        "INSERT INTO events (time, received_at, station_id, device_id, seq, type, count)"
        " VALUES (now() - interval '20 days', now(), 'S', 'D', 2, 'visit', 1),"
        " (now() - interval '2 days', now(), 'S', 'D', 3, 'visit', 1)",
        (),
    )
    database.execute(
        "INSERT INTO usage_15m VALUES ('S', now() - interval '20 days', 1, 0, 0, 0, 0, 0, 0)", ()
    )
    deleted = purge(url, raw_retention_days=10)
    assert deleted == {"message_keys": 1, "dead_letters": 1, "events": 1, "metrics": 0}
    assert database.value("SELECT count(*) FROM message_keys") == 1
    assert database.value("SELECT count(*) FROM events") == 1
    assert database.value("SELECT count(*) FROM usage_15m") == 1
    # Nothing left to do: a second round deletes nothing.
    assert sum(purge(url, raw_retention_days=10).values()) == 0
