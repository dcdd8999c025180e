"""The broker's HTTP auth/ACL hook (what a clustering broker such as EMQX asks stations), over
HTTP against a real stations service and its database: allowed, refused, rotated, revoked."""

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.operators import create_operator, login
from tests.support.services import RunningService, run_service

pytestmark = pytest.mark.integration

HOOK_SECRET = "hook-secret-for-tests-0123456789abcdef"
TELEMETRY = ("yz.telemetry", "telemetry-password-for-hook-tests", "yz.telemetry")
ADMIN_PASSWORD = "admin-password-for-hook-tests"


@pytest.fixture(scope="module")
def hooked(new_database: Callable[[str], str], workdir: Path) -> Iterator[RunningService]:
    """Stations with the hook on (the broker itself is not needed to answer it)."""
    database = new_database("stations")
    env = {
        "YZ_STATIONS_BROKER_HOOK_SECRET": HOOK_SECRET,
        "YZ_STATIONS_TELEMETRY_MQTT_USERNAME": TELEMETRY[0],
        "YZ_STATIONS_TELEMETRY_MQTT_PASSWORD": TELEMETRY[1],
        "YZ_STATIONS_TELEMETRY_MQTT_CLIENT_ID": TELEMETRY[2],
        "YZ_STATIONS_TELEMETRY_MQTT_REPLICAS": "2",
    }
    with run_service("stations", database, workdir, env=env) as service:
        create_operator(database, "admin", ADMIN_PASSWORD, "admin")
        yield service


@pytest.fixture(scope="module")
def admin(hooked: RunningService) -> Iterator[httpx.Client]:
    """An operator client of that service."""
    token = login(hooked, "admin", ADMIN_PASSWORD)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=hooked.base_url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def broker(hooked: RunningService) -> Iterator[httpx.Client]:
    """The broker's side: what EMQX sends, with the shared secret."""
    headers = {"X-Yizhan-Broker-Secret": HOOK_SECRET}
    with httpx.Client(base_url=hooked.base_url, headers=headers, timeout=10) as client:
        yield client


def _station_with_device(admin: httpx.Client) -> tuple[str, str, str]:
    """(station id, device id, its password), fresh."""
    station = f"T-HOOK-{uuid.uuid4().hex[:8]}"
    reply = admin.post(
        "/api/v1/stations",
        json={"id": station, "name": {"zh": "钩", "en": "Hook"}, "district": "南岸区"},
    )
    assert reply.status_code == 201, reply.text
    device = f"dev-{uuid.uuid4().hex[:8]}"
    reply = admin.post(f"/api/v1/stations/{station}/devices", json={"id": device, "kind": "kiosk"})
    assert reply.status_code == 201, reply.text
    return station, device, reply.json()["mqtt"]["password"]


def _connect(broker: httpx.Client, username: str, password: str, clientid: str) -> str:
    reply = broker.post(
        "/internal/broker/authenticate",
        json={"username": username, "password": password, "clientid": clientid},
    )
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    assert body["is_superuser"] is False
    return str(body["result"])


def _may(broker: httpx.Client, username: str, action: str, topic: str, clientid: str = "") -> str:
    reply = broker.post(
        "/internal/broker/authorize",
        json={
            "username": username,
            "clientid": clientid or username,
            "topic": topic,
            "action": action,
            "qos": "1",
            "retain": "false",
        },
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["result"])


def test_a_device_connects_only_as_itself_with_its_password(
    admin: httpx.Client, broker: httpx.Client
) -> None:
    _, device, password = _station_with_device(admin)
    _, other, other_password = _station_with_device(admin)
    assert _connect(broker, device, password, device) == "allow"
    assert _connect(broker, device, password + "x", device) == "deny"
    assert _connect(broker, device, other_password, device) == "deny"
    # Bound to its device id as client id: no taking over another device's session.
    assert _connect(broker, device, password, other) == "deny"
    assert _connect(broker, device, password, f"{device}\n") == "deny"
    assert _connect(broker, "no-such-device", password, "no-such-device") == "deny"
    assert _connect(broker, "", "", "anonymous") == "deny"


def test_a_device_publishes_its_own_uplink_and_reads_only_its_down(
    admin: httpx.Client, broker: httpx.Client
) -> None:
    station, device, _ = _station_with_device(admin)
    other_station, other, _ = _station_with_device(admin)
    own = f"yz/v1/st/{station}/dev/{device}"
    for channel in ("telemetry", "event", "status"):
        assert _may(broker, device, "publish", f"{own}/{channel}") == "allow"
    assert _may(broker, device, "subscribe", f"{own}/down") == "allow"
    refused = [
        ("publish", f"{own}/down"),  # only telemetry answers on down
        ("publish", f"{own}/other"),
        ("publish", f"yz/v1/st/{other_station}/dev/{other}/event"),  # another device
        ("publish", f"yz/v1/st/{other_station}/dev/{device}/event"),  # another station
        ("subscribe", f"yz/v1/st/{station}/dev/+/down"),
        ("subscribe", f"{own}/#"),
        ("subscribe", f"{own}/telemetry"),
        ("subscribe", f"yz/v1/st/{other_station}/dev/{other}/down"),
        ("subscribe", "#"),
    ]
    for action, topic in refused:
        assert _may(broker, device, action, topic) == "deny", (action, topic)
    # The same account under a client id that is not its own may do nothing.
    assert _may(broker, device, "publish", f"{own}/event", clientid=other) == "deny"


def test_rotated_and_revoked_credentials_are_refused_at_once(
    admin: httpx.Client, broker: httpx.Client
) -> None:
    station, device, first = _station_with_device(admin)
    own = f"yz/v1/st/{station}/dev/{device}"
    reply = admin.post(f"/api/v1/stations/{station}/devices/{device}/rotate")
    assert reply.status_code == 200, reply.text
    second = reply.json()["mqtt"]["password"]
    assert _connect(broker, device, first, device) == "deny"
    assert _connect(broker, device, second, device) == "allow"
    assert _may(broker, device, "publish", f"{own}/event") == "allow"
    reply = admin.post(f"/api/v1/stations/{station}/devices/{device}/revoke")
    assert reply.status_code == 200, reply.text
    assert _connect(broker, device, second, device) == "deny"
    assert _may(broker, device, "publish", f"{own}/event") == "deny"
    assert _may(broker, device, "subscribe", f"{own}/down") == "deny"


def test_the_ingest_account_reads_every_device_and_answers_only_on_down(
    broker: httpx.Client,
) -> None:
    user, password, client = TELEMETRY
    assert _connect(broker, user, password, client) == "allow"
    assert _connect(broker, user, password, f"{client}.ingest-7c9f") == "allow"  # a replica
    assert _connect(broker, user, password, "dev-1") == "deny"  # a device's session
    assert _connect(broker, user, password, f"{client}x") == "deny"
    assert _connect(broker, user, "wrong", client) == "deny"
    # A second replica's account (as dynsec makes them) is bound to its own client id.
    assert _connect(broker, f"{user}-1", password, f"{client}-1") == "allow"
    assert _connect(broker, f"{user}-1", password, client) == "deny"
    assert _connect(broker, f"{user}-2", password, f"{client}-2") == "deny"  # only 2 replicas
    allowed = [
        ("subscribe", "yz/v1/st/+/dev/+/+"),
        ("subscribe", "$share/yz-ingest/yz/v1/st/+/dev/+/+"),
        ("publish", "yz/v1/st/S-1/dev/dev-1/down"),
    ]
    for action, topic in allowed:
        assert _may(broker, user, action, topic, clientid=client) == "allow", topic
    refused = [
        ("subscribe", "#"),
        ("subscribe", "$share/g/#"),
        ("subscribe", "$SYS/#"),
        ("publish", "yz/v1/st/S-1/dev/dev-1/event"),  # no forging device messages
        ("publish", "yz/v1/st/+/dev/+/down"),
    ]
    for action, topic in refused:
        assert _may(broker, user, action, topic, clientid=client) == "deny", topic
    # Its rights stay with its own client ids.
    assert _may(broker, user, "subscribe", "yz/v1/st/+/dev/+/+", clientid="dev-1") == "deny"


def test_the_hook_answers_only_the_broker(hooked: RunningService) -> None:
    body = {"username": "x", "password": "y", "clientid": "x"}
    for headers in ({}, {"X-Yizhan-Broker-Secret": "not-the-secret"}):
        reply = httpx.post(
            f"{hooked.base_url}/internal/broker/authenticate", json=body, headers=headers
        )
        assert reply.status_code == 401
    # Not an operator API: absent from the published document.
    paths = httpx.get(f"{hooked.base_url}/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/internal/")]


def test_without_a_secret_the_hook_is_off(stations: RunningService) -> None:
    reply = httpx.post(
        f"{stations.base_url}/internal/broker/authenticate",
        json={"username": "x", "password": "y", "clientid": "x"},
        headers={"X-Yizhan-Broker-Secret": ""},
    )
    assert reply.status_code == 404
