"""An MQTT 5 client for security tests that records what the broker answered: the CONNACK,
each PUBACK and SUBACK reason code, the reason of a disconnect, the messages received."""

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from tests.support.waiting import wait_until
from yizhan.devstack.broker import MosquittoBroker

# The name the security tests use.
wait_for = wait_until


@dataclass
class MqttProbe:
    """One connection with some credentials; connect() says whether the broker let it in."""

    broker: MosquittoBroker
    username: str | None
    password: str | None
    client_id: str = field(default_factory=lambda: f"probe-{uuid.uuid4().hex[:8]}")
    connack: str | None = None
    disconnect_reason: str | None = None
    pubacks: dict[int, str] = field(default_factory=dict)
    subacks: dict[int, list[str]] = field(default_factory=dict)
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
        )
        if self.username is not None:
            self.client.username_pw_set(self.username, self.password)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def connect(self) -> bool:
        """Connect and wait for the CONNACK; True when accepted. No automatic reconnect:
        each probe is one connection."""
        self.client.connect(self.broker.host, self.broker.port)
        self.client.loop_start()
        wait_for(lambda: self.connack is not None)
        if self.connack != "Success":
            self.close()
        return self.connack == "Success"

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> str:
        """Publish at QoS 1; the PUBACK's reason ("Success", "Not authorized", ...)."""
        mid = self.client.publish(topic, payload, qos=1, retain=retain).mid
        return str(wait_for(lambda: self.pubacks.get(mid)))

    def subscribe(self, topic: str) -> str:
        """Subscribe at QoS 1; the SUBACK's reason ("Granted QoS 1", "Not authorized")."""
        _, mid = self.client.subscribe(topic, qos=1)
        assert mid is not None
        reasons: list[str] = wait_for(lambda: self.subacks.get(mid))
        return reasons[0]

    def received(self, topic: str) -> list[bytes]:
        """Payloads received on a topic so far."""
        with self.lock:
            return [payload for t, payload in self.messages if t == topic]

    def close(self) -> None:
        """Disconnect (if still connected) and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if self.connack is None:
            self.connack = str(reason)
        if reason.is_failure:
            # One connection per probe: do not let paho retry refused credentials.
            client.disconnect()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if self.disconnect_reason is None:
            self.disconnect_reason = str(reason)

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode, props: Any
    ) -> None:
        self.pubacks[mid] = str(reason)

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[ReasonCode], props: Any
    ) -> None:
        self.subacks[mid] = [str(r) for r in reasons]

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((message.topic, bytes(message.payload)))


def can_log_in(broker: MosquittoBroker, username: str, password: str) -> bool:
    """Whether the broker accepts these credentials now (the connection is closed again)."""
    probe = MqttProbe(broker, username, password)
    accepted = probe.connect()
    if accepted:
        probe.close()
    return accepted
