"""At least once, counted once: telemetry killed with SIGKILL mid-stream, two ingest replicas
sharing the subscription, duplicate bursts. Every message published is stored exactly once:
the count in the database equals the number of distinct messages published."""

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.support.services import RunningService, run_service, run_telemetry
from tests.telemetry.conftest import (
    Bookings,
    Database,
    Kiosk,
    Registry,
    connected_kiosk,
    telemetry_env,
    unique,
    wait_ready,
    wait_until,
)
from yizhan.devstack.broker import MosquittoBroker

pytestmark = pytest.mark.integration

DEVICES = 5
MESSAGES_PER_DEVICE = 600
PER_SECOND = 4000
# Every this many messages one is sent twice, as a kiosk does when a PUBACK is lost.
RESEND_EVERY = 7


def metric(service: RunningService, name: str) -> float:
    """A counter of the service's /metrics (0 when absent)."""
    for line in httpx.get(f"{service.base_url}/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def stream(station: str, devices: list[str]) -> tuple[list[tuple[str, bytes]], int]:
    """Visit events round-robin over the devices, with resends; and how many are distinct."""
    messages: list[tuple[str, bytes]] = []
    distinct = 0
    now = datetime.now(UTC).isoformat()
    for seq in range(1, MESSAGES_PER_DEVICE + 1):
        for device in devices:
            topic = f"yz/v1/st/{station}/dev/{device}/event"
            body = {"v": 1, "seq": seq, "ts": now, "type": "visit", "count": 1}
            messages.append((topic, json.dumps(body).encode()))
            distinct += 1
            if distinct % RESEND_EVERY == 0:
                messages.append(messages[-1])
    return messages, distinct


class Publisher:
    """Publishes at PER_SECOND from a thread of its own (a kiosk with a full queue)."""

    def __init__(self, kiosk: Kiosk, messages: list[tuple[str, bytes]]) -> None:
        self._kiosk = kiosk
        self._messages = messages
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        """Begin publishing."""
        self._thread.start()

    def join(self) -> None:
        """Wait until everything was accepted by the broker."""
        self._thread.join(60)
        assert not self._thread.is_alive()

    def _run(self) -> None:
        chunk = PER_SECOND // 20
        for start in range(0, len(self._messages), chunk):
            self._kiosk.publish_all(self._messages[start : start + chunk])
            time.sleep(0.05)


def assert_stored_once(database: Database, devices: list[str], distinct: int) -> None:
    """Every distinct message stored, none twice."""

    def stored() -> int:
        return int(
            database.value(
                "SELECT count(*) FROM message_keys WHERE device_id = ANY(%s)", (devices,)
            )
        )

    wait_until(lambda: stored() >= distinct, timeout=60)
    time.sleep(0.5)  # anything still on its way would show up now
    assert stored() == distinct
    events = database.value("SELECT count(*) FROM events WHERE device_id = ANY(%s)", (devices,))
    assert events == distinct


@pytest.fixture
def fresh_db(new_database: Callable[[str], str]) -> tuple[str, Database]:
    """A telemetry database of its own: its URL, and reads of it."""
    url = new_database("telemetry_once")
    return url, Database(url)


def test_sigkill_mid_stream_loses_and_doubles_nothing(
    fresh_db: tuple[str, Database],
    workdir: Path,
    broker: MosquittoBroker,
    stations: RunningService,
    bookings: Bookings,
    registry: Registry,
    operator: httpx.Client,
) -> None:
    env = telemetry_env(broker, stations, bookings.address, unique("yz-telemetry-kill"))
    station = registry.station(unique("ST"))
    devices = [registry.device(station, unique("counter"), "counter") for _ in range(DEVICES)]
    messages, distinct = stream(station, devices)
    url, database = fresh_db
    with (
        connected_kiosk(broker) as kiosk,
        run_service("telemetry", url, workdir, env=env, command="ingest") as first,
    ):
        wait_ready(first)  # subscribed: from now on the broker keeps what we miss
        publisher = Publisher(kiosk, messages)
        publisher.start()
        wait_until(lambda: first_stored(database, devices) > 300)
        first.process.kill()  # SIGKILL: no drain, no DISCONNECT, acks in flight lost
        first.process.wait()
        # Published meanwhile: waits at the broker in our persistent session.
        with run_telemetry(url, workdir, env=env) as second:
            wait_ready(second.ingest)
            publisher.join()
            assert_stored_once(database, devices, distinct)
            # Redelivered messages were recognised, not stored again.
            assert metric(second.ingest, "yz_telemetry_messages_duplicate_total") > 0
            reply = httpx.get(
                f"{second.api.base_url}/api/v1/usage",
                params={
                    "scope": f"station:{station}",
                    "from": "2020-01-01T00:00:00Z",
                    "to": "2100-01-01T00:00:00Z",
                    "bucket": "month",
                },
                headers=operator.headers,
            )
    assert reply.status_code == 200, reply.text
    assert reply.json()["totals"]["visits"] == distinct


def first_stored(database: Database, devices: list[str]) -> int:
    """How many of these devices' messages are stored so far."""
    return int(
        database.value("SELECT count(*) FROM message_keys WHERE device_id = ANY(%s)", (devices,))
    )


def test_two_replicas_share_the_stream_and_survive_a_kill(
    fresh_db: tuple[str, Database],
    workdir: Path,
    broker: MosquittoBroker,
    stations: RunningService,
    bookings: Bookings,
    registry: Registry,
) -> None:
    group = unique("ingest")
    envs = []
    for name in ("a", "b"):
        env = telemetry_env(broker, stations, bookings.address, unique(f"yz-telemetry-{name}"))
        env["YZ_TELEMETRY_MQTT_SHARE_GROUP"] = group
        envs.append(env)
    station = registry.station(unique("ST"))
    devices = [registry.device(station, unique("counter"), "counter") for _ in range(DEVICES)]
    messages, distinct = stream(station, devices)
    url, database = fresh_db
    with (
        connected_kiosk(broker) as kiosk,
        run_service("telemetry", url, workdir, env=envs[1], command="ingest") as replica_b,
    ):
        wait_ready(replica_b)
        with run_service("telemetry", url, workdir, env=envs[0], command="ingest") as replica_a:
            wait_ready(replica_a)
            publisher = Publisher(kiosk, messages)
            publisher.start()
            wait_until(lambda: first_stored(database, devices) > 300)
            replica_a.process.kill()
            replica_a.process.wait()
        # Replica a's share of the stream waits in its session until it is back.
        with run_service("telemetry", url, workdir, env=envs[0], command="ingest") as again:
            wait_ready(again)
            publisher.join()
            assert_stored_once(database, devices, distinct)
        stored_by_b = metric(replica_b, 'yz_telemetry_messages_stored_total{channel="event"}')
    # The broker split the stream: b stored some, not all.
    assert 0 < stored_by_b < distinct


def test_a_duplicate_burst_is_counted_once(
    ingest: RunningService, telemetry_database: Database, registry: Registry, kiosk: Kiosk
) -> None:
    station = registry.station(unique("ST"))
    device = registry.device(station, unique("water"), "water")
    before = metric(ingest, "yz_telemetry_messages_duplicate_total")
    body = {
        "v": 1,
        "seq": 1,
        "ts": datetime.now(UTC).isoformat(),
        "type": "water.dispense",
        "liters": 0.5,
    }
    topic = f"yz/v1/st/{station}/dev/{device}/event"
    kiosk.publish_all([(topic, json.dumps(body).encode())] * 50)
    wait_until(lambda: metric(ingest, "yz_telemetry_messages_duplicate_total") >= before + 49)
    rows = telemetry_database.value("SELECT count(*) FROM events WHERE device_id = %s", (device,))
    assert rows == 1
    assert metric(ingest, "yz_telemetry_messages_duplicate_total") == before + 49
