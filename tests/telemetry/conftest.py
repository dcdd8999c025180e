"""Real parts for the telemetry tests: the stations service (which station a device belongs
to), a stand-in BookingDesk over real gRPC, the telemetry service itself, and kiosks that
publish through the real broker."""

from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import psycopg
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

# Re-exported (`as`): the tests of this folder import them from here; they live in tests/support.
from tests.support.mqtt import Kiosk as Kiosk
from tests.support.mqtt import connected_kiosk as connected_kiosk
from tests.support.mqtt import unique as unique
from tests.support.operators import create_operator, login
from tests.support.services import RunningService, RunningTelemetry, run_service, run_telemetry
from tests.support.waiting import wait_until as wait_until
from yizhan.api.bookings.v1 import bookings_pb2, bookings_pb2_grpc
from yizhan.common.db import libpq_dsn
from yizhan.devstack.broker import BrokerTls, MosquittoBroker
from yizhan.devstack.processes import free_port
from yizhan.devstack.tls import DevTls, ensure_dev_tls

ADMIN_PASSWORD = "admin-password-for-telemetry-tests"
WAIT_SECONDS = 20.0


@pytest.fixture(scope="session")
def stations_db(new_database: Callable[[str], str]) -> str:
    """The database of the stations service of these tests."""
    return new_database("tm_stations")


@pytest.fixture(scope="session")
def stations(stations_db: str, workdir: Path) -> Iterator[RunningService]:
    """The real stations service, with an admin."""
    with run_service("stations", stations_db, workdir) as service:
        create_operator(stations_db, "admin", ADMIN_PASSWORD, "admin")
        yield service


@dataclass
class Registry:
    """Registers stations and devices through the stations API, as an operator would."""

    client: httpx.Client

    def station(self, station_id: str, district: str = "Nan'an") -> str:
        """A new station."""
        body = {"id": station_id, "name": {"zh": "驿站", "en": "Station"}, "district": district}
        reply = self.client.post("/api/v1/stations", json=body)
        assert reply.status_code == 201, reply.text
        return station_id

    def device(self, station_id: str, device_id: str, kind: str = "other") -> str:
        """A new device of a station."""
        reply = self.client.post(
            f"/api/v1/stations/{station_id}/devices", json={"id": device_id, "kind": kind}
        )
        assert reply.status_code == 201, reply.text
        return device_id


@pytest.fixture(scope="session")
def admin_token(stations: RunningService) -> str:
    """The admin's bearer token."""
    return login(stations, "admin", ADMIN_PASSWORD)


@pytest.fixture(scope="session")
def registry(stations: RunningService, admin_token: str) -> Iterator[Registry]:
    """The admin's client of the stations API."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=stations.base_url, headers=headers) as client:
        yield Registry(client)


class FakeBookingDesk(bookings_pb2_grpc.BookingDeskServicer):
    """Stands in for the bookings service: codes starting with OK check in, LATE is too
    late, anything else is not found. Remembers what it was asked."""

    def __init__(self) -> None:
        self.requests: list[bookings_pb2.CheckInRequest] = []

    def CheckIn(
        self, request: bookings_pb2.CheckInRequest, context: grpc.ServicerContext
    ) -> bookings_pb2.CheckInResponse:
        self.requests.append(request)
        if request.code.startswith("OK"):
            return bookings_pb2.CheckInResponse(
                ok=True, message_zh="签到成功", message_en="Checked in"
            )
        reason = "too_late" if request.code.startswith("LATE") else "not_found"
        return bookings_pb2.CheckInResponse(ok=False, reason=reason)


@dataclass
class Bookings:
    """The stand-in bookings gRPC server."""

    address: str
    desk: FakeBookingDesk


@pytest.fixture(scope="session")
def bookings() -> Iterator[Bookings]:
    """A BookingDesk over real gRPC, with the standard health service."""
    server = grpc.server(ThreadPoolExecutor(max_workers=4))
    desk = FakeBookingDesk()
    bookings_pb2_grpc.add_BookingDeskServicer_to_server(desk, server)
    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    yield Bookings(f"127.0.0.1:{port}", desk)
    server.stop(grace=None)


def telemetry_env(
    broker: MosquittoBroker, stations: RunningService, bookings_address: str, client_id: str
) -> dict[str, str]:
    """What a telemetry process of these tests needs: the broker, its peers and a client id
    of its own."""
    return {
        "YZ_MQTT_HOST": broker.host,
        "YZ_MQTT_PORT": str(broker.port),
        "YZ_STATIONS_GRPC": stations.grpc_address,
        "YZ_BOOKINGS_GRPC": bookings_address,
        "YZ_TELEMETRY_MQTT_CLIENT_ID": client_id,
        # The webhook receivers of the notification tests listen on 127.0.0.1.
        "YZ_TELEMETRY_NOTIFY_ALLOW_PRIVATE_TARGETS": "true",
    }


def wait_ready(service: RunningService) -> None:
    """Wait until /readyz says everything is up."""

    def ready() -> bool:
        return httpx.get(f"{service.base_url}/readyz").status_code == 200

    wait_until(ready)


@pytest.fixture(scope="session")
def telemetry_db(new_database: Callable[[str], str]) -> str:
    """The database of the shared telemetry service."""
    return new_database("telemetry")


@pytest.fixture(scope="session")
def telemetry_processes(
    telemetry_db: str,
    workdir: Path,
    broker: MosquittoBroker,
    stations: RunningService,
    bookings: Bookings,
) -> Iterator[RunningTelemetry]:
    """The telemetry service's API and its ingest, ingesting from the broker."""
    env = telemetry_env(broker, stations, bookings.address, unique("yz-telemetry-test"))
    with run_telemetry(telemetry_db, workdir, env=env) as processes:
        wait_ready(processes.api)
        wait_ready(processes.ingest)
        yield processes


@pytest.fixture(scope="session")
def telemetry(telemetry_processes: RunningTelemetry) -> RunningService:
    """The telemetry API process (its ingest runs beside it)."""
    return telemetry_processes.api


@pytest.fixture(scope="session")
def ingest(telemetry_processes: RunningTelemetry) -> RunningService:
    """The telemetry ingest process (its /metrics counts messages)."""
    return telemetry_processes.ingest


@pytest.fixture(scope="session")
def operator(telemetry: RunningService, admin_token: str) -> Iterator[httpx.Client]:
    """The admin's client of the telemetry API."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=telemetry.base_url, headers=headers) as client:
        yield client


class Database:
    """Direct reads of a telemetry database, to see what ingest stored."""

    def __init__(self, database_url: str) -> None:
        self.dsn = libpq_dsn(database_url)

    def rows(
        self, sql: str, params: Mapping[str, Any] | tuple[Any, ...] = ()
    ) -> list[tuple[Any, ...]]:
        """All rows of a query."""
        with psycopg.connect(self.dsn) as conn:
            return conn.execute(sql, params or None).fetchall()

    def value(self, sql: str, params: Mapping[str, Any] | tuple[Any, ...] = ()) -> Any:
        """The first column of the first row."""
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    def execute(self, sql: str, params: tuple[Any, ...]) -> None:
        """Change something (to set up a case ingest would take minutes to produce)."""
        with psycopg.connect(self.dsn) as conn:
            conn.execute(sql, params)

    def has_key(self, device_id: str, seq: int) -> bool:
        """Whether (device, seq) was stored."""
        found = self.value(
            "SELECT count(*) FROM message_keys WHERE device_id = %s AND seq = %s", (device_id, seq)
        )
        return bool(found)


@pytest.fixture(scope="session")
def telemetry_database(telemetry_db: str) -> Database:
    """Reads of the shared telemetry service's database."""
    return Database(telemetry_db)


@pytest.fixture
def kiosk(broker: MosquittoBroker) -> Iterator[Kiosk]:
    """A connected device-side MQTT client."""
    with connected_kiosk(broker) as connected:
        yield connected


@pytest.fixture(scope="session")
def tls_broker(workdir: Path) -> Iterator[tuple[MosquittoBroker, DevTls]]:
    """A Mosquitto with a TLS listener that wants client certificates from our test CA."""
    dev_tls = ensure_dev_tls(workdir / "tls-ingest", ("localhost", "127.0.0.1"))
    tls = BrokerTls(
        free_port(),
        dev_tls.ca_cert,
        dev_tls.server.cert,
        dev_tls.server.key,
        require_client_cert=True,
    )
    mosquitto = MosquittoBroker(workdir / "mosquitto-tls", free_port(), tls=tls)
    mosquitto.start(log_path=workdir / "mosquitto-tls.log")
    yield mosquitto, dev_tls
    mosquitto.stop()
