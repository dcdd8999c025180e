"""Where a kiosk message enters: the MQTT subscription (paho-mqtt 2, MQTT 5).

The broker keeps our session (fixed client id, clean_start=False, a session expiry), so
what devices publish while we are down waits for us. Messages are acknowledged manually,
by the writer, only after their batch is committed; until then they count against the
broker's in-flight window (Receive Maximum), which is the far end of our backpressure.
"""

import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from yizhan.common.mqtt import KEEPALIVE_SECONDS, TOPIC_PREFIX, connect_properties, make_client
from yizhan.common.settings import CommonSettings
from yizhan.telemetry.ingest import metrics

log = logging.getLogger(__name__)

# Every channel of every device; `down` (our own answers) is skipped by the writer.
SUBSCRIPTION = f"{TOPIC_PREFIX}/+/dev/+/+"
# How often a blocked put re-checks whether we are stopping.
PUT_RECHECK_SECONDS = 0.5


@dataclass(frozen=True)
class Received:
    """One message as it came off the wire, with what is needed to acknowledge it."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    # A retained message replayed on subscribe is old news, not a sign of life.
    retained: bool
    received_at: datetime
    # Which connection delivered it: a packet id means nothing on a later connection.
    connection: int


class Consumer:
    """The MQTT client of ingest: subscribes, queues messages, acknowledges on request."""

    def __init__(
        self,
        common: CommonSettings,
        *,
        client_id: str,
        share_group: str,
        receive_maximum: int,
        out: "queue.Queue[Received]",
    ) -> None:
        self._common = common
        self._client_id = client_id
        self._receive_maximum = receive_maximum
        self._filter = f"$share/{share_group}/{SUBSCRIPTION}" if share_group else SUBSCRIPTION
        self._out = out
        self._accepting = True
        self._last_received = 0.0
        # Guards `_connection` against a reconnect between the check and the ack.
        self._ack_lock = threading.Lock()
        self._connection = 0
        self._client = make_client(client_id, common, manual_ack=True)
        paho_log = logging.getLogger(f"paho.{client_id}")
        paho_log.addFilter(self._quiet_when_stopping)
        self._client.enable_logger(paho_log)
        self._subscribed = False
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up and our subscription was granted."""
        return bool(self._client.is_connected()) and self._subscribed

    def start(self) -> None:
        """Connect in the background (retrying until the broker answers) and consume."""
        properties = connect_properties(True, receive_maximum=self._receive_maximum)
        self._client.connect_async(
            self._common.mqtt_host,
            self._common.mqtt_port,
            keepalive=KEEPALIVE_SECONDS,
            clean_start=False,
            properties=properties,
        )
        self._client.loop_start()
        log.info(
            "MQTT ingest starting",
            extra={
                "broker": f"{self._common.mqtt_host}:{self._common.mqtt_port}",
                "client_id": self._client_id,
                "subscription": self._filter,
            },
        )

    def stop_accepting(self) -> None:
        """Take no more messages: anything delivered from now on is left unacknowledged,
        and the broker delivers it again when we come back."""
        self._accepting = False

    def ack(self, items: list[Received]) -> None:
        """Acknowledge committed messages, in the order they were received."""
        with self._ack_lock:
            for item in items:
                if item.qos > 0 and item.connection == self._connection:
                    self._client.ack(item.mid, item.qos)

    def publish(self, topic: str, payload: bytes) -> bool:
        """Publish at QoS 1; False when paho refused it outright."""
        info = self._client.publish(topic, payload, qos=1)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.warning("publish refused", extra={"topic": topic, "rc": int(info.rc)})
            return False
        # NO_CONN: paho keeps QoS 1 messages and sends them once reconnected.
        return True

    def close(self) -> None:
        """Disconnect cleanly (the broker keeps our session) and stop the network thread."""
        self._client.disconnect()
        self._client.loop_stop()
        metrics.MQTT_CONNECTED.set(0)

    def _quiet_when_stopping(self, record: logging.LogRecord) -> bool:
        # paho's network thread may run once more after our clean DISCONNECT and log an
        # error about the closed socket; it is expected then, and only then.
        return self._accepting or "not connected" not in record.getMessage()

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        if reason_code.is_failure:
            log.error("MQTT connection refused", extra={"reason": str(reason_code)})
            return
        # Subscribe on every connect: a broker that lost our session must learn it again.
        # Retained messages only for a new subscription, not again on each reconnect.
        options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        client.subscribe(self._filter, options=options)
        log.info("MQTT connected", extra={"session_present": bool(flags.session_present)})

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Any,
    ) -> None:
        refused = [str(code) for code in reason_codes if code.is_failure]
        if refused:
            # Connected but deaf: /readyz reports it, and the next reconnect tries again.
            log.error(
                "MQTT subscription refused", extra={"reasons": refused, "filter": self._filter}
            )
            return
        self._subscribed = True
        metrics.MQTT_CONNECTED.set(1)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        with self._ack_lock:
            # Messages not yet acknowledged are delivered again on the next connection.
            self._connection += 1
        self._subscribed = False
        metrics.MQTT_CONNECTED.set(0)
        if self._accepting:
            log.warning("MQTT disconnected", extra={"reason": str(reason_code)})

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if not self._accepting:
            return
        # Strictly increasing, so that an offline status and the next message never tie.
        now = max(time.time(), self._last_received + 1e-6)
        self._last_received = now
        item = Received(
            # Not message.topic: that raises on a topic that is not UTF-8.
            topic=bytes(message._topic).decode("utf-8", "replace"),
            payload=bytes(message.payload),
            mid=message.mid,
            qos=message.qos,
            retained=bool(message.retain),
            received_at=datetime.fromtimestamp(now, UTC),
            connection=self._connection,
        )
        metrics.RECEIVED.inc()
        # Blocks while the queue is full: this thread then stops reading the socket, and
        # the broker stops sending once our unacknowledged window is used up.
        while True:
            try:
                self._out.put(item, timeout=PUT_RECHECK_SECONDS)
                return
            except queue.Full:
                if not self._accepting:
                    return
