"""Ingest session takeover (issue 9, hole 2): broker accounts are bound to their client ids,
so a kiosk's credentials cannot connect as the ingest, and the ingest keeps its session (and
the messages the broker holds for it); an ingest whose session is not protected refuses to
start in production."""

import json
import time
from typing import Any

import pytest

from tests.conftest import BROKER_ADMIN
from tests.security.conftest import (
    DISTRICT_A,
    TELEMETRY_CLIENT_ID,
    TELEMETRY_MQTT,
    Network,
    unique,
)
from tests.security.mqtt_probe import MqttProbe, wait_for
from yizhan.common.mqtt import device_topic
from yizhan.common.settings import CommonSettings
from yizhan.devstack.broker import MosquittoBroker
from yizhan.telemetry.ingest.session_guard import SessionNotProtected, guard_session
from yizhan.telemetry.settings import Settings as TelemetrySettings


def _kiosk(network: Network) -> tuple[str, dict[str, Any]]:
    station_id = unique("TAKE")
    network.admin_post(
        "/api/v1/stations",
        {"id": station_id, "name": {"zh": "驿站", "en": "Station"}, "district": DISTRICT_A},
    )
    device = network.admin_post(
        f"/api/v1/stations/{station_id}/devices", {"id": unique("kiosk"), "kind": "kiosk"}
    )
    assert device["broker"] == "synced", device
    return station_id, device


def _state_of(network: Network, station_id: str, device_id: str) -> bool:
    with network.client(network.telemetry, "admin") as client:
        reply = client.get(f"/api/v1/stations/{station_id}/devices/state")
    return any(item["device_id"] == device_id for item in reply.json().get("items", []))


def test_a_kiosk_cannot_connect_as_the_ingest_and_the_ingest_keeps_its_session(
    network: Network, secured_broker: MosquittoBroker
) -> None:
    station_id, device = _kiosk(network)
    username, password = device["mqtt"]["username"], device["mqtt"]["password"]
    for client_id in (TELEMETRY_CLIENT_ID, f"{TELEMETRY_CLIENT_ID}-1", "anything-else"):
        thief = MqttProbe(secured_broker, username, password, client_id=client_id)
        assert not thief.connect(), client_id
        assert thief.connack == "Not authorized"
        thief.close()
    # The kiosk itself connects with its own id, and the ingest, never kicked, stores it.
    own = MqttProbe(secured_broker, username, password, client_id=device["id"])
    assert own.connect()
    status = {"v": 1, "state": "online", "ts": int(time.time() * 1000), "fw": "1.0"}
    topic = device_topic(station_id, device["id"], "status")
    assert own.publish(topic, json.dumps(status).encode(), retain=True) == "Success"
    own.close()
    wait_for(lambda: _state_of(network, station_id, device["id"]))


def test_the_ingest_refuses_to_start_on_an_unbound_account(
    network: Network, secured_broker: MosquittoBroker
) -> None:
    def settings(username: str, client_id: str, password: str) -> TelemetrySettings:
        common = CommonSettings(
            env="prod",
            jwt_secret="a-real-secret-for-this-test-0123456789",
            service_token="a-real-service-token-for-this-test",
            mqtt_host=secured_broker.host,
            mqtt_port=secured_broker.port,
            mqtt_username=username,
            mqtt_password=password,
        )
        return TelemetrySettings(common=common, mqtt_client_id=client_id)

    # Telemetry's own, bound account passes.
    guard_session(settings(TELEMETRY_MQTT[0], TELEMETRY_CLIENT_ID, TELEMETRY_MQTT[1]))
    # A client id a device could have, or an account usable with any client id, do not.
    with pytest.raises(SessionNotProtected, match="could be a device id"):
        guard_session(settings(TELEMETRY_MQTT[0], "yz-telemetry", TELEMETRY_MQTT[1]))
    with pytest.raises(SessionNotProtected, match="not bound"):
        guard_session(settings(BROKER_ADMIN.username, "yz.ingest", BROKER_ADMIN.password))
