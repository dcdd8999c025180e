"""Device credentials are enforced by the broker itself (Mosquitto's dynamic security plugin,
kept in step by stations): a device publishes and subscribes only under its own topics, a
revoked device is disconnected and refused at once, a rotation retires the old password."""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BROKER_ADMIN
from tests.security.conftest import (
    DISTRICT_A,
    DISTRICT_B,
    PASSWORD,
    TELEMETRY_CLIENT_ID,
    TELEMETRY_MQTT,
    Network,
    stations_broker_env,
    unique,
)
from tests.security.mqtt_probe import MqttProbe, can_log_in, wait_for
from tests.services import run_service
from tests.support.operators import create_operator, login
from yizhan.common.mqtt import device_topic
from yizhan.devstack.broker import MosquittoBroker
from yizhan.devstack.processes import free_port

pytestmark = pytest.mark.integration
GRANTED = "Granted QoS 1"
REFUSED = "Not authorized"
KICKED = "Administrative action"


def _station(network: Network, district: str) -> str:
    station_id = unique("SEC")
    network.admin_post(
        "/api/v1/stations",
        {"id": station_id, "name": {"zh": "驿站", "en": "Station"}, "district": district},
    )
    return station_id


def _device(network: Network, station_id: str) -> dict[str, Any]:
    device = network.admin_post(
        f"/api/v1/stations/{station_id}/devices", {"id": unique("dev"), "kind": "kiosk"}
    )
    assert device["broker"] == "synced", device
    return device


def _payload(marker: str) -> bytes:
    return json.dumps({"v": 1, "seq": 1, "ts": int(time.time() * 1000), "marker": marker}).encode()


@pytest.fixture
def watcher(secured_broker: MosquittoBroker) -> Iterator[MqttProbe]:
    """The broker admin, subscribed to every device topic: sees whatever the broker let in."""
    probe = MqttProbe(secured_broker, BROKER_ADMIN.username, BROKER_ADMIN.password)
    assert probe.connect()
    assert probe.subscribe("yz/v1/st/#") == GRANTED
    yield probe
    probe.close()


def _connected(broker: MosquittoBroker, device: dict[str, Any]) -> MqttProbe:
    probe = MqttProbe(
        broker, device["mqtt"]["username"], device["mqtt"]["password"], client_id=device["id"]
    )
    assert probe.connect(), probe.connack
    return probe


def test_a_device_publishes_only_under_its_own_topics(
    network: Network, secured_broker: MosquittoBroker, watcher: MqttProbe
) -> None:
    home, other = _station(network, DISTRICT_A), _station(network, DISTRICT_B)
    device, neighbour = _device(network, home), _device(network, other)
    probe = _connected(secured_broker, device)
    own = device_topic(home, device["id"], "telemetry")
    foreign = [
        device_topic(other, device["id"], "telemetry"),  # its own id, another station
        device_topic(other, neighbour["id"], "event"),  # posing as another device
        device_topic(home, neighbour["id"], "status"),
        f"yz/v1/st/{home}/dev/{device['id']}/down",  # only telemetry answers on down
    ]
    allowed = _payload("allowed")
    assert probe.publish(own, allowed) == "Success"
    for topic in foreign:
        assert probe.publish(topic, _payload("refused")) == REFUSED, topic
    assert probe.subscribe(device_topic(home, device["id"], "down")) == GRANTED
    assert probe.subscribe(device_topic(other, neighbour["id"], "down")) == REFUSED
    assert probe.subscribe("yz/v1/st/#") == REFUSED

    wait_for(lambda: watcher.received(own))
    # The allowed message was delivered before the refused ones were even sent; give the
    # broker a moment anyway, then check that none of the refused ones got through.
    time.sleep(0.3)
    seen = [topic for topic, payload in watcher.messages if b"refused" in payload]
    assert watcher.received(own) == [allowed]
    assert seen == []
    probe.close()


def test_strangers_and_wrong_passwords_are_refused(
    network: Network, secured_broker: MosquittoBroker
) -> None:
    device = _device(network, _station(network, DISTRICT_A))
    assert not MqttProbe(secured_broker, None, None).connect()
    assert not MqttProbe(
        secured_broker, device["id"], "not-the-password", client_id=device["id"]
    ).connect()
    assert not MqttProbe(secured_broker, "nobody", device["mqtt"]["password"]).connect()


def test_a_revoked_device_is_kicked_and_refused_at_once(
    network: Network, secured_broker: MosquittoBroker
) -> None:
    station_id = _station(network, DISTRICT_A)
    device = _device(network, station_id)
    probe = _connected(secured_broker, device)
    with network.client(network.stations, "admin") as admin:
        revoked = admin.post(f"/api/v1/stations/{station_id}/devices/{device['id']}/revoke")
    assert revoked.status_code == 200, revoked.text
    assert (revoked.json()["status"], revoked.json()["broker"]) == ("revoked", "synced")
    assert wait_for(lambda: probe.disconnect_reason) == KICKED
    probe.close()
    again = MqttProbe(
        secured_broker, device["mqtt"]["username"], device["mqtt"]["password"], device["id"]
    )
    assert not again.connect()
    assert again.connack == REFUSED


def test_rotation_retires_the_old_password(
    network: Network, secured_broker: MosquittoBroker
) -> None:
    station_id = _station(network, DISTRICT_A)
    device = _device(network, station_id)
    probe = _connected(secured_broker, device)
    with network.client(network.stations, "admin") as admin:
        rotated = admin.post(f"/api/v1/stations/{station_id}/devices/{device['id']}/rotate")
    assert rotated.status_code == 200, rotated.text
    fresh = rotated.json()
    assert fresh["mqtt"]["password"] != device["mqtt"]["password"]
    assert fresh["broker"] == "synced"
    assert wait_for(lambda: probe.disconnect_reason) == KICKED
    probe.close()
    old = MqttProbe(secured_broker, device["id"], device["mqtt"]["password"], device["id"])
    assert not old.connect()
    renewed = _connected(secured_broker, fresh)
    topic = device_topic(station_id, device["id"], "event")
    assert renewed.publish(topic, _payload("after rotation")) == "Success"
    renewed.close()


def test_telemetry_ingests_with_its_own_account(
    network: Network, secured_broker: MosquittoBroker
) -> None:
    station_id = _station(network, DISTRICT_A)
    device = _device(network, station_id)
    probe = _connected(secured_broker, device)
    status = {"v": 1, "state": "online", "ts": int(time.time() * 1000), "fw": "1.0"}
    topic = device_topic(station_id, device["id"], "status")
    assert probe.publish(topic, json.dumps(status).encode(), retain=True) == "Success"
    probe.close()

    def online() -> bool:
        with network.client(network.telemetry, "admin") as client:
            reply = client.get(f"/api/v1/stations/{station_id}/devices/state")
        return any(item["device_id"] == device["id"] for item in reply.json().get("items", []))

    wait_for(online)
    # Telemetry's account answers on `down` and cannot pose as a device.
    service = MqttProbe(
        secured_broker,
        f"{TELEMETRY_MQTT[0]}-1",
        TELEMETRY_MQTT[1],
        client_id=f"{TELEMETRY_CLIENT_ID}-1",
    )
    assert service.connect()
    assert service.publish(device_topic(station_id, device["id"], "down"), b"{}") == "Success"
    assert service.publish(topic, b"{}") == REFUSED
    service.close()


def _accounts_made_by_hand(broker: MosquittoBroker) -> None:
    admin = MqttProbe(broker, BROKER_ADMIN.username, BROKER_ADMIN.password)
    assert admin.connect()
    commands = [
        {"command": "createRole", "rolename": "device.ghost"},
        {"command": "createClient", "username": "ghost", "password": "ghost-password"},
        {"command": "addClientRole", "username": "ghost", "rolename": "device.ghost"},
        {"command": "createClient", "username": "monitor", "password": "monitor-password"},
    ]
    control = json.dumps({"commands": commands}).encode()
    assert admin.publish("$CONTROL/dynamic-security/v1", control) == "Success"
    admin.close()


def test_provisioning_while_the_broker_is_down_catches_up(new_database: Any, workdir: Path) -> None:
    """The database is the source of truth: a device provisioned (or revoked) while the
    broker is unreachable is `pending`, and the resync pushes it once the broker is back."""
    broker = MosquittoBroker(workdir / unique("mosquitto-late"), free_port(), dynsec=BROKER_ADMIN)
    stations_db = new_database("sec_late")
    env = stations_broker_env(broker, resync_seconds=0.5)
    with run_service("stations", stations_db, workdir, env=env) as stations:
        create_operator(stations_db, "admin", PASSWORD, "admin")
        headers = {"Authorization": f"Bearer {login(stations, 'admin', PASSWORD)}"}
        with httpx.Client(base_url=stations.base_url, headers=headers) as admin:
            admin.post(
                "/api/v1/stations",
                json={"id": "LATE-1", "name": {"zh": "驿站", "en": "Late"}, "district": "x"},
            ).raise_for_status()
            made = admin.post(
                "/api/v1/stations/LATE-1/devices", json={"id": "late-1", "kind": "water"}
            )
            assert made.status_code == 201, made.text
            assert made.json()["broker"] == "pending"
            path = "/api/v1/stations/LATE-1/devices/late-1"
            broker.start(log_path=workdir / "mosquitto-late.log")
            try:
                wait_for(lambda: admin.get(path).json()["broker"] == "synced", timeout=20)
                probe = _connected(broker, made.json())
                probe.close()
                _accounts_made_by_hand(broker)
                # The resync removes a device account the database does not know, and
                # leaves alone an account it did not make.
                wait_for(lambda: not can_log_in(broker, "ghost", "ghost-password"))
                assert can_log_in(broker, "monitor", "monitor-password")
                broker.stop()
                assert admin.post(f"{path}/revoke").json()["broker"] == "pending"
                broker.start(log_path=workdir / "mosquitto-late.log")
                wait_for(lambda: admin.get(path).json()["broker"] == "synced", timeout=20)
                assert not can_log_in(broker, "late-1", made.json()["mqtt"]["password"])
            finally:
                broker.stop()
