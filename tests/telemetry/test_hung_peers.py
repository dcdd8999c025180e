"""Readiness with hung peers (SIGSTOP: the process lives, its sockets accept, nothing
answers). A service is ready when what it cannot work without answers (its database, the
broker for the ingest); a hung peer is reported as degraded and does not take it out of
rotation (CONTRACT §1)."""

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.support.mqtt import connected_kiosk, unique
from tests.support.operators import create_operator, login
from tests.support.services import RunningService, run_service, run_telemetry
from tests.support.waiting import wait_until
from tests.telemetry.conftest import (
    ADMIN_PASSWORD,
    Database,
    telemetry_env,
    wait_ready,
)
from yizhan.devstack.broker import MosquittoBroker
from yizhan.devstack.processes import free_port

pytestmark = pytest.mark.integration

# Well under the peer probe's deadline times a few: a hung peer must not make /readyz slow.
PROBE_TIMEOUT_SECONDS = 5.0


@dataclass
class Trio:
    """Stations, bookings and telemetry of their own, to hang one at a time."""

    stations: RunningService
    bookings: RunningService
    telemetry: RunningService
    ingest: RunningService
    telemetry_database: Database
    token: str


@pytest.fixture(scope="module")
def trio(
    new_database: Callable[[str], str], workdir: Path, broker: MosquittoBroker
) -> Iterator[Trio]:
    """Three real service processes wired to each other."""
    stations_db = new_database("hung_stations")
    telemetry_db = new_database("hung_telemetry")
    with ExitStack() as stack:
        stations = stack.enter_context(run_service("stations", stations_db, workdir))
        create_operator(stations_db, "admin", ADMIN_PASSWORD, "admin")
        # Bookings asks telemetry's API for the station finder: it learns its port up front.
        telemetry_grpc_port = free_port()
        bookings = stack.enter_context(
            run_service(
                "bookings",
                new_database("hung_bookings"),
                workdir,
                env={
                    "YZ_STATIONS_GRPC": stations.grpc_address,
                    "YZ_TELEMETRY_GRPC": f"127.0.0.1:{telemetry_grpc_port}",
                },
            )
        )
        env = telemetry_env(broker, stations, bookings.grpc_address, unique("yz-hung"))
        telemetry = stack.enter_context(
            run_telemetry(telemetry_db, workdir, env=env, grpc_port=telemetry_grpc_port)
        )
        wait_ready(telemetry.ingest)  # subscribed: nothing published from now on is missed
        yield Trio(
            stations,
            bookings,
            telemetry.api,
            telemetry.ingest,
            Database(telemetry_db),
            login(stations, "admin", ADMIN_PASSWORD),
        )


@contextmanager
def hung(*services: RunningService) -> Iterator[None]:
    """SIGSTOP the processes for the block, SIGCONT them after (whatever happens)."""
    for service in services:
        os.kill(service.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for service in services:
            os.kill(service.process.pid, signal.SIGCONT)


def _ready(service: RunningService) -> httpx.Response:
    return httpx.get(f"{service.base_url}/readyz", timeout=PROBE_TIMEOUT_SECONDS)


def test_stations_serves_with_telemetry_and_bookings_hung(trio: Trio) -> None:
    headers = {"Authorization": f"Bearer {trio.token}"}
    with hung(trio.telemetry, trio.ingest, trio.bookings):
        ready = _ready(trio.stations)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok"}
        listed = httpx.get(f"{trio.stations.base_url}/api/v1/stations", headers=headers, timeout=5)
        assert listed.status_code == 200, listed.text


def test_telemetry_and_bookings_stay_ready_and_ingest_with_stations_hung(
    trio: Trio, broker: MosquittoBroker
) -> None:
    headers = {"Authorization": f"Bearer {trio.token}"}
    station, device = unique("HUNG"), unique("HUNG-dev")
    body = {"id": station, "name": {"zh": "驿站", "en": "Station"}, "district": "南川区"}
    stations_api = trio.stations.base_url
    assert httpx.post(f"{stations_api}/api/v1/stations", json=body, headers=headers).is_success
    made = httpx.post(
        f"{stations_api}/api/v1/stations/{station}/devices",
        json={"id": device, "kind": "counter"},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    topic = f"yz/v1/st/{station}/dev/{device}/event"

    def visit(seq: int) -> dict[str, object]:
        return {"v": 1, "seq": seq, "ts": datetime.now(UTC).isoformat(), "type": "visit"}

    with connected_kiosk(broker) as kiosk:
        # Telemetry learns the device while stations answers.
        kiosk.publish(topic, {**visit(1), "count": 1})
        wait_until(lambda: trio.telemetry_database.has_key(device, 1))
        with hung(trio.stations):
            for service in (trio.telemetry, trio.ingest, trio.bookings):
                ready = _ready(service)
                assert ready.status_code == 200, (service.name, ready.text)
                assert ready.json()["degraded"] == ["stations"], ready.text
                metrics = httpx.get(f"{service.base_url}/metrics", timeout=5).text
                assert 'yz_peer_up{peer="stations"} 0.0' in metrics
            # A device it already knows keeps being stored.
            kiosk.publish(topic, {**visit(2), "count": 3})
            wait_until(lambda: trio.telemetry_database.has_key(device, 2))

    # The peer is back: nobody restarts anything, the degradation clears by itself.
    def recovered() -> bool:
        services = (trio.telemetry, trio.ingest, trio.bookings)
        return all(_ready(s).json()["degraded"] == [] for s in services)

    wait_until(recovered)
