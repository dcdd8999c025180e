"""The broker keeps our session: what devices publish while telemetry is down is stored
once it is back, and a stop drains what was already received."""

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.services import RunningService, run_service
from tests.telemetry.conftest import (
    Bookings,
    Database,
    Kiosk,
    Registry,
    telemetry_env,
    unique,
    wait_ready,
    wait_until,
)
from yizhan.devstack.broker import MosquittoBroker

pytestmark = pytest.mark.integration


def test_messages_published_while_stopped_are_stored_after_restart(
    new_database: Callable[[str], str],
    workdir: Path,
    broker: MosquittoBroker,
    stations: RunningService,
    bookings: Bookings,
    registry: Registry,
    kiosk: Kiosk,
) -> None:
    database_url = new_database("telemetry_restart")
    database = Database(database_url)
    # Its own client id: its own persistent session at the broker.
    env = telemetry_env(broker, stations, bookings.address, unique("yz-telemetry-restart"))
    station = registry.station(unique("ST"))
    counter = registry.device(station, unique("counter"), "counter")
    topic = f"yz/v1/st/{station}/dev/{counter}/event"

    def visit(seq: int) -> dict[str, object]:
        return {
            "v": 1,
            "seq": seq,
            "ts": datetime.now(UTC).isoformat(),
            "type": "visit",
            "count": 1,
        }

    with run_service("telemetry", database_url, workdir, env=env, command="ingest") as first:
        wait_ready(first)
        kiosk.publish(topic, visit(1))
        wait_until(lambda: database.has_key(counter, 1))
    # Stopped (SIGTERM): these wait at the broker in our session.
    for seq in range(2, 7):
        kiosk.publish(topic, visit(seq))
    with run_service("telemetry", database_url, workdir, env=env, command="ingest") as second:
        wait_until(lambda: database.has_key(counter, 6))
        assert second.process.poll() is None
    stored = database.rows("SELECT seq FROM events WHERE device_id = %s ORDER BY seq", (counter,))
    assert stored == [(seq,) for seq in range(1, 7)]
