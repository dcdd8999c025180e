"""The whole network started as `make run` starts it (demo network, simulator, one day of
history), shared by the console's API and browser tests, plus what they add to it: a district
operator, and a station of their district whose device raises an alarm and sends a message
that becomes a dead letter."""

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import waiting
from tests.support.mqtt import mosquitto_pub
from yizhan.devstack.postgres import SUPERUSER
from yizhan.devstack.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "console-admin-password"
DISTRICT_PASSWORD = "console-district-password"
DISTRICT = "南川区"
OTHER_DISTRICT_STATION = "CQ-YZ-0001"
# A whole network on a shared 2-core machine: its services alone took 90 s under load.
READY_TIMEOUT_SECONDS = 240
WAIT_SECONDS = 30.0


def wait_until(condition: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
    """Poll (four times a second: pages and the stack move slowly) until `condition()`."""
    return waiting.wait_until(condition, timeout, interval=0.25)


@dataclass
class Stack:
    """A running `yz-dev run` and where it listens."""

    process: subprocess.Popen[str]
    ports: dict[str, int]
    output: Path

    def url(self, service: str) -> str:
        """Base URL of a service."""
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def console(self) -> str:
        """The console's root."""
        return f"{self.url('console')}/console/"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`make run` on free ports, with fast presence sampling and live polling."""
    data_dir = tmp_path_factory.mktemp("console-stack")
    names = ("stations", "telemetry", "bookings", "console", "mqtt", "pg")
    ports = {name: free_port() for name in names}
    env = dict(os.environ)
    env.update(
        {
            "YZ_DATA_DIR": str(data_dir),
            "YZ_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "YZ_PG_PORT": str(ports["pg"]),
            "YZ_MQTT_PORT": str(ports["mqtt"]),
            "YZ_MQTT_TLS_PORT": str(free_port()),
            "YZ_TELEMETRY_INGEST_HTTP_PORT": str(free_port()),
            # A week of history for the documentation's screenshots, a day otherwise.
            "YZ_DEMO_BACKFILL_DAYS": "7" if os.environ.get("YZ_CONSOLE_SCREENSHOTS") else "1",
            # Availability needs two samples; live pages should move within the test.
            "YZ_TELEMETRY_PRESENCE_SAMPLE_SECONDS": "1",
            "YZ_CONSOLE_LIVE_POLL_SECONDS": "1",
        }
    )
    for name in ("stations", "telemetry", "bookings"):
        env[f"YZ_{name.upper()}_HTTP_PORT"] = str(ports[name])
        env[f"YZ_{name.upper()}_GRPC_PORT"] = str(free_port())
    env["YZ_CONSOLE_HTTP_PORT"] = str(ports["console"])
    env["YZ_TELEMETRY_INGEST_HTTP_PORT"] = str(free_port())
    output = data_dir / "run-output.txt"
    with output.open("w") as out:
        process = subprocess.Popen(
            ["yz-dev", "run"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True
        )
    running = Stack(process, ports, output)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while "Yizhan is running" not in output.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"make run did not come up:\n{output.read_text()}")
            time.sleep(0.5)
        if os.environ.get("YZ_CONSOLE_SCREENSHOTS"):
            _settle_history(running)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(60)


def _settle_history(stack: Stack) -> None:
    """Wait until the replayed week is stored (the screenshots should show all of it): the
    figures of the past week, up to an hour ago, stop changing."""
    headers = token(stack, "admin", ADMIN_PASSWORD)
    end = datetime.now(UTC) - timedelta(hours=1)
    params = {
        "scope": "network",
        "from": (end - timedelta(days=7)).isoformat(),
        "to": end.isoformat(),
        "bucket": "day",
    }
    url = f"{stack.url('telemetry')}/api/v1/usage"
    last: Any = None
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        totals = httpx.get(url, params=params, headers=headers).json()["totals"]
        if totals == last:
            return
        last = totals
        time.sleep(5)


def token(stack: Stack, username: str, password: str) -> dict[str, str]:
    """Bearer headers of an operator."""
    reply = httpx.post(
        f"{stack.url('stations')}/api/v1/auth/token",
        data={"username": username, "password": password},
    )
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


@pytest.fixture(scope="session")
def admin(stack: Stack) -> dict[str, str]:
    """The admin's bearer headers."""
    return token(stack, "admin", ADMIN_PASSWORD)


@pytest.fixture(scope="session")
def district_operator(stack: Stack) -> dict[str, str]:
    """A district operator of 南川区 (made with the stations CLI, as an admin would)."""
    env = dict(os.environ)
    env.update(
        {
            "YZ_STATIONS_DATABASE_URL": (
                f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{stack.ports['pg']}/yz_stations"
            ),
            "YZ_TEST_PASSWORD": DISTRICT_PASSWORD,
        }
    )
    subprocess.run(
        [
            "yz-stations",
            "create-operator",
            "--username",
            "nanchuan",
            "--role",
            "district",
            "--districts",
            DISTRICT,
            "--password-env",
            "YZ_TEST_PASSWORD",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    return token(stack, "nanchuan", DISTRICT_PASSWORD)


def publish(stack: Stack, topic: str, payload: str, user: str, password: str) -> None:
    """One QoS 1 message through the stack's broker."""
    mosquitto_pub(stack.ports["mqtt"], topic, payload, user, password)


@dataclass(frozen=True)
class Faulty:
    """A station of 南川区 whose device has an open alarm and a dead letter."""

    station_id: str
    device_id: str
    alarm_code: str


@pytest.fixture(scope="session")
def faulty(stack: Stack, admin: dict[str, str]) -> Faulty:
    """Register it through the API, then let its device speak MQTT."""
    stations = stack.url("stations")
    body = {
        "id": "CON-0001",
        "name": {"zh": "测试驿站", "en": "Test station"},
        "district": DISTRICT,
    }
    assert httpx.post(f"{stations}/api/v1/stations", json=body, headers=admin).status_code == 201
    reply = httpx.post(
        f"{stations}/api/v1/stations/CON-0001/devices",
        json={"id": "CON-0001-water", "kind": "water"},
        headers=admin,
    )
    assert reply.status_code == 201, reply.text
    mqtt = reply.json()["mqtt"]
    base = "yz/v1/st/CON-0001/dev/CON-0001-water"
    now = datetime.now(UTC).isoformat()
    fault = {
        "v": 1,
        "seq": 1,
        "ts": now,
        "type": "fault",
        "code": "OVERHEAT",
        "severity": "critical",
    }
    publish(stack, f"{base}/event", json.dumps(fault), mqtt["username"], mqtt["password"])
    publish(stack, f"{base}/event", "not json at all", mqtt["username"], mqtt["password"])
    return Faulty("CON-0001", "CON-0001-water", "OVERHEAT")
