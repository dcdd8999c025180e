"""The whole network for security tests: stations, telemetry and bookings as real processes,
each with its own database, and a broker that enforces accounts (dynamic security plugin)
which stations keeps in step."""

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BROKER_ADMIN
from tests.services import RunningService, run_service
from tests.support.operators import create_operator, login
from yizhan.devstack.broker import MosquittoBroker
from yizhan.devstack.processes import free_port

PASSWORD = "security-tests-password"
TELEMETRY_MQTT = ("yz.telemetry", "telemetry-broker-password-for-tests")
# The ingest's client id; stations binds telemetry's account to it (and replica 1's account,
# `yz.telemetry-1`, to `<it>-1`, which the tests use to act as telemetry beside the ingest).
TELEMETRY_CLIENT_ID = "yz.telemetry.sec"
DISTRICT_A = "南岸区"
DISTRICT_B = "渝中区"


def stations_broker_env(broker: MosquittoBroker, resync_seconds: float = 60) -> dict[str, str]:
    """Settings that make stations keep the accounts of a dynsec broker."""
    return {
        "YZ_MQTT_HOST": broker.host,
        "YZ_MQTT_PORT": str(broker.port),
        "YZ_STATIONS_BROKER_SECURITY": "dynsec",
        "YZ_STATIONS_BROKER_ADMIN_USERNAME": BROKER_ADMIN.username,
        "YZ_STATIONS_BROKER_ADMIN_PASSWORD": BROKER_ADMIN.password,
        "YZ_STATIONS_TELEMETRY_MQTT_USERNAME": TELEMETRY_MQTT[0],
        "YZ_STATIONS_TELEMETRY_MQTT_PASSWORD": TELEMETRY_MQTT[1],
        "YZ_STATIONS_TELEMETRY_MQTT_CLIENT_ID": TELEMETRY_CLIENT_ID,
        "YZ_STATIONS_TELEMETRY_MQTT_REPLICAS": "2",
        "YZ_STATIONS_BROKER_RESYNC_SECONDS": str(resync_seconds),
        "YZ_STATIONS_BROKER_RECONNECT_MAX_SECONDS": "1",
    }


def unique(prefix: str) -> str:
    """An id no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Network:
    """The three services and clients for the operators of these tests."""

    stations: RunningService
    telemetry: RunningService
    bookings: RunningService
    console: RunningService
    stations_db: str
    tokens: dict[str, str]

    def client(self, service: RunningService, who: str | None) -> httpx.Client:
        """An HTTP client of a service, as `who` (admin, district, viewer) or anonymous."""
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=service.base_url, headers=headers, timeout=10)

    def admin_post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to stations as admin; the JSON answer (fails unless 2xx)."""
        with self.client(self.stations, "admin") as client:
            reply = client.post(path, json=body)
        assert reply.is_success, reply.text
        result: dict[str, Any] = reply.json()
        return result


def _start_together(
    stack: ExitStack, services: list[AbstractContextManager[RunningService]]
) -> list[RunningService]:
    """Enter service contexts in parallel (each waits for its process to be healthy; the
    services find each other by pre-chosen ports and retry until their peers answer)."""
    with ThreadPoolExecutor(len(services)) as pool:
        futures = [pool.submit(service.__enter__) for service in services]
    started = []
    for service, future in zip(services, futures, strict=True):
        if future.exception() is None:
            stack.push(service.__exit__)
            started.append(future.result())
    if len(started) < len(services):
        raise next(f.exception() for f in futures if f.exception() is not None)  # type: ignore[misc]
    return started


@pytest.fixture(scope="package")
def network(
    secured_broker: MosquittoBroker,
    new_database: Callable[[str], str],
    workdir: Path,
) -> Iterator[Network]:
    """Stations (keeping the broker's accounts), bookings and telemetry (ingesting with its
    own broker account), with an admin, a district operator of DISTRICT_A and a viewer."""
    stations_db = new_database("sec_stations")
    ports = {name: (free_port(), free_port()) for name in ("stations", "telemetry", "bookings")}
    grpc = {name: f"127.0.0.1:{grpc_port}" for name, (_, grpc_port) in ports.items()}
    peers = {
        "YZ_STATIONS_GRPC": grpc["stations"],
        "YZ_TELEMETRY_GRPC": grpc["telemetry"],
        "YZ_BOOKINGS_GRPC": grpc["bookings"],
    }
    telemetry_env = {
        **peers,
        "YZ_MQTT_HOST": secured_broker.host,
        "YZ_MQTT_PORT": str(secured_broker.port),
        "YZ_MQTT_USERNAME": TELEMETRY_MQTT[0],
        "YZ_MQTT_PASSWORD": TELEMETRY_MQTT[1],
        "YZ_TELEMETRY_MQTT_CLIENT_ID": TELEMETRY_CLIENT_ID,
        "YZ_TELEMETRY_FLUSH_INTERVAL_SECONDS": "0.05",
    }

    def service(name: str, database: str, env: dict[str, str]) -> Any:
        http_port, grpc_port = ports[name]
        return run_service(name, database, workdir, env, http_port, grpc_port)

    telemetry_db = new_database("sec_telemetry")
    with ExitStack() as stack:
        stations, telemetry, bookings = _start_together(
            stack,
            [
                service("stations", stations_db, {**peers, **stations_broker_env(secured_broker)}),
                service("telemetry", telemetry_db, telemetry_env),
                service("bookings", new_database("sec_bookings"), peers),
            ],
        )
        # Telemetry's ingest process, connecting with the account stations keeps for it.
        stack.enter_context(
            run_service("telemetry", telemetry_db, workdir, telemetry_env, command="ingest")
        )
        # The console owns no database (an empty URL: nothing to migrate).
        console = stack.enter_context(run_service("console", "", workdir, peers))
        with ThreadPoolExecutor(3) as pool:
            list(
                pool.map(
                    lambda spec: create_operator(stations_db, spec[0], PASSWORD, *spec[1:]),
                    [
                        ("admin", "admin"),
                        ("district", "district", DISTRICT_A),
                        ("viewer", "viewer"),
                    ],
                )
            )
        tokens = {who: login(stations, who, PASSWORD) for who in ("admin", "district", "viewer")}
        yield Network(stations, telemetry, bookings, console, stations_db, tokens)
