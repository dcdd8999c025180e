"""The ingest source on paho-mqtt 2 (MQTT 5, manual acknowledgements, optional TLS).

paho's network thread reads, answers pings, reconnects with backoff and resends our own
publishes; we only queue what arrives and ask it to acknowledge what the writer committed.
Its thread never waits on our queue: messages that do not fit wait in `_held`, as read (at
most our Receive Maximum of them, since the broker sends no more unacknowledged) and a small
hand-over thread moves them on as the writer makes room. So a full queue never silences the
connection, and the broker's window is the backpressure.
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from yizhan.common.mqtt import KEEPALIVE_SECONDS, connect_properties, make_client
from yizhan.common.settings import CommonSettings
from yizhan.telemetry.ingest import metrics
from yizhan.telemetry.ingest.channel import Channel
from yizhan.telemetry.ingest.source import (
    MAX_PACKET_BYTES,
    RETAIN_SEND_IF_NEW_SUB,
    Received,
    Waiting,
    exit_process,
    guarded_thread,
    topic_filter,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# While messages wait for room in the queue: how often the hand-over thread tries again.
FULL_RETRY_SECONDS = 0.02
STOP_TIMEOUT_SECONDS = 10.0
# paho's own default for our unacknowledged publishes.
PAHO_INFLIGHT = 20


class PahoSource(Generic[T]):
    """The `Source` on paho: subscribes, queues messages, acknowledges on request."""

    def __init__(
        self,
        common: CommonSettings,
        *,
        client_id: str,
        share_group: str,
        receive_maximum: int,
        out: Channel[T],
        prepare: Callable[[Received], T],
        on_fatal: Callable[[str], None] = exit_process,
    ) -> None:
        self._common = common
        self._client_id = client_id
        self._receive_maximum = receive_maximum
        self._filter = topic_filter(share_group)
        self._out = out
        self._prepare = prepare
        self._accepting = True
        self._closing = threading.Event()
        # Guards `_connection`: an ack must never cross onto a later connection, where the
        # same packet id may name another message.
        self._lock = threading.Lock()
        self._connection = 0
        self._connected_before = False
        self._reconnects = 0
        self._subscribed = False
        self._last_received = 0.0
        self._held: Waiting[T] = Waiting(out, prepare)
        # Both threads move `_held` into the queue; Channel.offer must not race an append.
        self._held_lock = threading.Lock()
        self._has_held = threading.Event()
        self._client = make_client(client_id, common, manual_ack=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.on_publish = self._on_publish
        # Our own publishes: those paho holds unacknowledged, and those waiting for room.
        self._publish_lock = threading.Lock()
        self._window = PAHO_INFLIGHT
        self._in_flight = 0
        self._waiting: deque[tuple[str, bytes]] = deque()
        self._network = guarded_thread(self._run, "mqtt-ingest", on_fatal)
        self._hand_over = guarded_thread(self._hand_over_loop, "mqtt-handover", on_fatal)

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up and our subscription was granted."""
        return self._subscribed

    @property
    def reconnects(self) -> int:
        """How many times the connection was lost and made again since start."""
        return self._reconnects

    def start(self) -> None:
        """Connect in the background (retrying until the broker answers) and consume."""
        properties = connect_properties(True, self._receive_maximum)
        properties.MaximumPacketSize = MAX_PACKET_BYTES
        self._client.connect_async(
            self._common.mqtt_host,
            self._common.mqtt_port,
            keepalive=KEEPALIVE_SECONDS,
            clean_start=False,
            properties=properties,
        )
        self._hand_over.start()
        self._network.start()
        log.info(
            "MQTT ingest starting (paho)",
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
        self._has_held.set()

    def ack(self, items: list[Received]) -> None:
        """Acknowledge committed messages, in the order given (the order of receipt)."""
        with self._lock:
            current = self._connection
            for item in items:
                if item.qos and item.connection == current:
                    self._client.ack(item.mid, item.qos)

    def publish(self, topic: str, payload: bytes) -> bool:
        """Publish at QoS 1 (paho keeps it until the broker has it, across reconnects);
        beyond the broker's window it waits here for an acknowledgement."""
        with self._publish_lock:
            self._waiting.append((topic, payload))
            self._send_waiting()
        return True

    def _send_waiting(self) -> None:
        """Hand paho what fits in the broker's window (call with `_publish_lock`)."""
        while self._waiting and self._in_flight < self._window:
            topic, payload = self._waiting.popleft()
            info = self._client.publish(topic, payload, qos=1)
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                log.warning("publish refused", extra={"topic": topic, "rc": int(info.rc)})
                continue
            self._in_flight += 1

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._publish_lock:
            self._in_flight = max(self._in_flight - 1, 0)
            self._send_waiting()

    def close(self) -> None:
        """Disconnect cleanly (the broker keeps our session) and stop both threads."""
        self._accepting = False
        self._closing.set()
        self._has_held.set()
        self._client.disconnect()
        self._network.join(STOP_TIMEOUT_SECONDS)
        self._hand_over.join(STOP_TIMEOUT_SECONDS)
        self._subscribed = False
        metrics.MQTT_CONNECTED.set(0)

    def _run(self) -> None:
        # Returns only after disconnect(); every other loss is retried with paho's backoff.
        self._client.loop_forever(retry_first_connection=True)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.warning("MQTT connection refused by the broker", extra={"reason": str(reason)})
            return
        # paho keeps to the broker's keep alive itself, but not to its Receive Maximum for
        # our own publishes (check-in answers): we keep at most that many unacknowledged.
        server_window = getattr(properties, "ReceiveMaximum", None)
        with self._publish_lock:
            self._window = min(PAHO_INFLIGHT, server_window or PAHO_INFLIGHT)
        with self._lock:
            self._connection += 1
        if self._connected_before:
            self._reconnects += 1
            metrics.MQTT_RECONNECTS.inc()
        self._connected_before = True
        log.info("MQTT connected", extra={"session_present": flags.session_present})
        # Subscribe on every connect: a broker that lost our session must learn it again.
        options = SubscribeOptions(qos=1, retainHandling=RETAIN_SEND_IF_NEW_SUB)
        client.subscribe(self._filter, options=options)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._lock:
            # Messages not yet acknowledged are delivered again on the next connection.
            self._connection += 1
        self._subscribed = False
        with self._held_lock:
            self._held.clear()
        metrics.MQTT_CONNECTED.set(0)
        if not self._closing.is_set():
            log.warning("MQTT connection lost", extra={"reason": str(reason)})

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        refused = [str(code) for code in reasons if code.is_failure]
        if refused:
            # Connected but deaf: /readyz reports it, and the next reconnect tries again.
            log.error("MQTT subscription refused", extra={"reasons": refused})
            return
        self._subscribed = True
        metrics.MQTT_CONNECTED.set(1)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if not self._accepting:
            return
        # QoS 2 (which a broker must not send on our QoS 1 subscription) is taken as paho
        # completes its handshake: PUBREC from paho, the message here after PUBREL, and our
        # PUBCOMP once committed. It is never answered with a PUBACK.
        # Strictly increasing, so that an offline status and the next message never tie.
        now = max(time.time(), self._last_received + 1e-6)
        self._last_received = now
        item = Received(
            # Replaced, not refused, when not UTF-8: it becomes a bad_topic letter.
            topic=message._topic.decode("utf-8", "replace"),
            payload=bytes(message.payload),
            mid=message.mid,
            qos=message.qos,
            retained=bool(message.retain),
            received_at=datetime.fromtimestamp(now, UTC),
            connection=self._connection,
        )
        metrics.RECEIVED.inc()
        with self._held_lock:
            self._held.add(item)
            self._held.move()
            if self._held:
                self._has_held.set()

    def _hand_over_loop(self) -> None:
        """Move what waits into the queue as the writer makes room."""
        while not self._closing.is_set():
            self._has_held.wait()
            with self._held_lock:
                if not self._accepting:
                    self._held.clear()
                self._held.move()
                waiting = bool(self._held)
                if not waiting:
                    self._has_held.clear()
            if waiting:
                time.sleep(FULL_RETRY_SECONDS)
