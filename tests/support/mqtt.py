"""MQTT clients for tests: a kiosk that publishes at QoS 1 and listens on its `down`
topics (paho, MQTT 5), and `mosquitto_pub` for one message with credentials."""

import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.waiting import wait_until
from yizhan.devstack.broker import MosquittoBroker


def unique(prefix: str) -> str:
    """An id no other test of this session uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Kiosk:
    """An MQTT client publishing as devices do (QoS 1) and listening on `down` topics."""

    client: mqtt.Client
    received: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, topic: str, payload: Mapping[str, Any] | bytes, retain: bool = False) -> None:
        """Publish at QoS 1 and wait for the broker's acknowledgement."""
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        info = self.client.publish(topic, data, qos=1, retain=retain)
        info.wait_for_publish(10)
        assert info.is_published(), topic

    def publish_all(self, messages: list[tuple[str, bytes]]) -> None:
        """Publish many at QoS 1 without waiting for each, then wait for all of them."""
        infos = [self.client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(30)
            assert info.is_published()

    def listen(self, topic: str) -> None:
        """Subscribe to a topic (a device's `down`)."""
        result, _ = self.client.subscribe(topic, qos=1)
        assert result == mqtt.MQTT_ERR_SUCCESS
        time.sleep(0.2)  # the SUBACK; messages before it would be missed

    def messages(self, topic: str) -> list[dict[str, Any]]:
        """What arrived on a topic so far."""
        with self.lock:
            return list(self.received.get(topic, []))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.received.setdefault(message.topic, []).append(json.loads(message.payload))


@contextmanager
def connected_kiosk(broker: MosquittoBroker) -> Iterator[Kiosk]:
    """A device-side MQTT client, connected for the block."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=unique("kiosk"),
        protocol=mqtt.MQTTv5,
    )
    # Publishing thousands at once: let them all be in flight (the broker allows it).
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    kiosk = Kiosk(client)
    client.on_message = kiosk._on_message
    client.connect(broker.host, broker.port)
    client.loop_start()
    wait_until(client.is_connected, 10)
    yield kiosk
    client.disconnect()
    client.loop_stop()


def mosquitto_pub(port: int, topic: str, payload: str, user: str, password: str) -> None:
    """One QoS 1 message through the broker on 127.0.0.1:`port`, as a device with an account
    (its username is its device id, the only client id the broker lets it use)."""
    subprocess.run(
        [
            *("mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-i", user),
            *("-u", user, "-P", password, "-t", topic, "-m", payload),
        ],
        check=True,
        timeout=10,
    )
