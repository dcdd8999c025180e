"""Real parts for the station finder: stations, telemetry (API and ingest, from a real broker)
and bookings asking telemetry's API process, each with its own database."""

import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.mqtt import Kiosk, connected_kiosk, unique
from tests.support.operators import create_operator, login
from tests.support.services import RunningService, RunningTelemetry, run_service, run_telemetry
from tests.support.waiting import wait_until
from yizhan.devstack.broker import MosquittoBroker
from yizhan.devstack.processes import free_port

ADMIN_PASSWORD = "admin-password-for-finder-tests"


@pytest.fixture(scope="session")
def finder_stations(new_database: Callable[[str], str], workdir: Path) -> Iterator[RunningService]:
    """The real stations service, with an admin."""
    database = new_database("fd_stations")
    with run_service("stations", database, workdir) as service:
        create_operator(database, "admin", ADMIN_PASSWORD, "admin")
        yield service


@pytest.fixture(scope="session")
def registry(finder_stations: RunningService) -> Iterator[httpx.Client]:
    """The admin's client of the stations API."""
    token = login(finder_stations, "admin", ADMIN_PASSWORD)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=finder_stations.base_url, headers=headers) as client:
        yield client


@pytest.fixture(scope="session")
def telemetry_grpc_port() -> int:
    """Where telemetry's API process answers gRPC (bookings is told before it starts)."""
    return free_port()


@pytest.fixture(scope="session")
def finder_bookings(
    new_database: Callable[[str], str],
    workdir: Path,
    finder_stations: RunningService,
    telemetry_grpc_port: int,
) -> Iterator[RunningService]:
    """The bookings service, asking stations and telemetry's API process."""
    env = {
        "YZ_STATIONS_GRPC": finder_stations.grpc_address,
        "YZ_TELEMETRY_GRPC": f"127.0.0.1:{telemetry_grpc_port}",
        "YZ_BOOKINGS_PUBLIC_REQUESTS_PER_MINUTE": "100000",
        "YZ_BOOKINGS_PUBLIC_STATIONS_REFRESH_SECONDS": "1",
        # One process: each worker keeps its own snapshot, refreshed on its own clock, so two
        # answers in a row from two workers may differ by up to the 2 s of a refresh (both
        # within the contract's 5 s); these tests read an answer right after another.
        "YZ_BOOKINGS_HTTP_WORKERS": "1",
    }
    with run_service("bookings", new_database("fd_bookings"), workdir, env=env) as service:
        yield service


def is_ready(service: RunningService) -> bool:
    """Whether the service's /readyz says it is ready."""
    return httpx.get(f"{service.base_url}/readyz").status_code == 200


@pytest.fixture(scope="session")
def finder_telemetry_db(new_database: Callable[[str], str]) -> str:
    """Telemetry's database (a test ages device state in it)."""
    return new_database("fd_telemetry")


@pytest.fixture(scope="session")
def finder_telemetry(
    finder_telemetry_db: str,
    workdir: Path,
    broker: MosquittoBroker,
    finder_stations: RunningService,
    finder_bookings: RunningService,
    telemetry_grpc_port: int,
) -> Iterator[RunningTelemetry]:
    """Telemetry's API and ingest; the ingest asks the real bookings for check-ins."""
    env = {
        "YZ_MQTT_HOST": broker.host,
        "YZ_MQTT_PORT": str(broker.port),
        "YZ_STATIONS_GRPC": finder_stations.grpc_address,
        "YZ_BOOKINGS_GRPC": f"127.0.0.1:{finder_bookings.grpc_port}",
        "YZ_TELEMETRY_MQTT_CLIENT_ID": unique("yz-telemetry-finder"),
    }
    with run_telemetry(
        finder_telemetry_db, workdir, env=env, grpc_port=telemetry_grpc_port
    ) as processes:
        for process in (processes.api, processes.ingest):
            wait_until(functools.partial(is_ready, process), 30)
        yield processes


@pytest.fixture
def kiosk(broker: MosquittoBroker) -> Iterator[Kiosk]:
    """A device-side MQTT client."""
    with connected_kiosk(broker) as connected:
        yield connected
