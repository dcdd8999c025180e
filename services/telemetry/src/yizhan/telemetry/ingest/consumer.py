"""Where a kiosk message enters: our MQTT 5 subscription (one socket, one thread).

The broker keeps our session (fixed client id, clean_start=False, a session expiry), so what
devices publish while we are down waits for us. Messages are acknowledged only when the
writer says their batch is committed; until then they count against our Receive Maximum,
which is our backpressure: the broker sends no more once that window is used up. This thread
never stops reading the socket (what does not fit in the queue waits in `_held`, at most a
window's worth, kept as read), so pings are answered and the connection holds through any outage.

Anything the broker sends that we cannot parse is a protocol error: we say so (DISCONNECT
0x81/0x82), drop the connection and reconnect; the unacknowledged messages come again.
"""

import contextlib
import logging
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Generic, TypeVar

from yizhan.common.mqtt import (
    KEEPALIVE_SECONDS,
    RECONNECT_MAX_SECONDS,
    RECONNECT_MIN_SECONDS,
    SESSION_EXPIRY_SECONDS,
    tls_context,
    tls_server_name,
)
from yizhan.common.settings import CommonSettings
from yizhan.telemetry.ingest import metrics, mqtt_wire
from yizhan.telemetry.ingest.channel import Channel
from yizhan.telemetry.ingest.mqtt_wire import ProtocolError
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

# Decoding errors a malformed packet can raise; each is a protocol error, never a dead thread.
_MALFORMED = (IndexError, ValueError, struct.error, ProtocolError)
# A read takes whatever the kernel holds, up to this: hundreds of messages per system call.
READ_CHUNK_BYTES = 256 * 1024
# How long the loop sleeps when nothing happens; acks and stop requests wake it at once.
IDLE_WAKEUP_SECONDS = 1.0
# While the queue is full: how often to try again to hand over what was read.
FULL_RETRY_SECONDS = 0.02
CONNECT_TIMEOUT_SECONDS = 10.0
SUBSCRIBE_PACKET_ID = 1


class _Lost(Exception):
    """The connection is gone (or must be dropped); reconnect."""


class Consumer(Generic[T]):
    """The MQTT client of ingest: subscribes, queues messages, acknowledges on request.

    Each message is passed through `prepare` on this thread before it is queued (ingest
    validates it there): work done here overlaps the writer's waits on PostgreSQL, and one
    thread fewer competes for the interpreter lock.
    """

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
        self._last_received = 0.0
        # Guards the outgoing lists and `_connection` (acks must not cross connections).
        self._lock = threading.Lock()
        self._connection = 0
        self._pending_acks: list[int] = []
        self._pending_out: list[bytes] = []
        # Our own QoS 1 publishes not yet acknowledged by the broker, resent after a reconnect.
        self._inflight: dict[int, bytes] = {}
        self._next_packet_id = 0
        self._held: Waiting[T] = Waiting(out, prepare)
        self._reader = mqtt_wire.Reader(MAX_PACKET_BYTES)
        self._subscribed = False
        # Set when a PINGRESP arrives; the loop then stops waiting for one.
        self._pong = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._reconnects = 0
        # Limits the broker set in its CONNACK (MQTT 5): keep alive, its window for our
        # publishes, and the largest packet it takes.
        self._keepalive = float(KEEPALIVE_SECONDS)
        self._server_receive_maximum = 65_535
        self._server_maximum_packet = mqtt_wire.MAX_REMAINING_LENGTH
        self._tls = tls_context(common)
        self._thread = guarded_thread(self._run, "mqtt-ingest", on_fatal)

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
        self._thread.start()
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
        self._wake()

    def ack(self, items: list[Received]) -> None:
        """Acknowledge committed messages, in the order they were received."""
        with self._lock:
            current = self._connection
            self._pending_acks.extend(
                item.mid for item in items if item.qos > 0 and item.connection == current
            )
        self._wake()

    def publish(self, topic: str, payload: bytes) -> bool:
        """Publish at QoS 1 (sent by the network thread, kept until the broker has it)."""
        with self._lock:
            packet = mqtt_wire.publish(topic, payload, qos=1, packet_id=1)
            if len(packet) > self._server_maximum_packet:
                log.warning("publish refused: larger than the broker takes", extra={"topic": topic})
                return False
            packet_id = self._new_packet_id()
            if packet_id is None:
                log.warning("publish refused: too many unacknowledged", extra={"topic": topic})
                return False
            packet = mqtt_wire.publish(topic, payload, qos=1, packet_id=packet_id)
            self._inflight[packet_id] = packet
            self._pending_out.append(packet)
        self._wake()
        return True

    def close(self) -> None:
        """Send what is pending, disconnect cleanly (the broker keeps our session), stop."""
        self._accepting = False
        self._closing.set()
        self._wake()
        self._thread.join(CONNECT_TIMEOUT_SECONDS)
        self._wake_r.close()
        self._wake_w.close()
        metrics.MQTT_CONNECTED.set(0)

    def _new_packet_id(self) -> int | None:
        # The broker's Receive Maximum bounds how many of ours may be unacknowledged.
        if len(self._inflight) >= min(self._server_receive_maximum, 65_000):
            return None
        while True:
            self._next_packet_id = self._next_packet_id % 65_535 + 1
            if self._next_packet_id not in self._inflight:
                return self._next_packet_id

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"\x00")

    def _run(self) -> None:
        delay = float(RECONNECT_MIN_SECONDS)
        connected_before = False
        while not self._closing.is_set():
            sock: socket.socket | None = None
            try:
                sock = self._connect()
                if connected_before:
                    self._reconnects += 1
                    metrics.MQTT_RECONNECTS.inc()
                connected_before = True
                delay = float(RECONNECT_MIN_SECONDS)
                self._serve(sock)
            except (OSError, _Lost) as exc:
                if not self._closing.is_set():
                    log.warning("MQTT connection lost", extra={"error": str(exc) or repr(exc)})
            except ProtocolError as exc:
                log.error("MQTT protocol error; reconnecting", extra={"error": str(exc)})
                self._say_goodbye(sock, exc.reason)
            finally:
                self._disconnected(sock)
            if not self._closing.is_set():
                self._closing.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    def _say_goodbye(self, sock: socket.socket | None, reason: int) -> None:
        """Tell the broker why we drop the connection (best effort)."""
        if sock is not None:
            with contextlib.suppress(OSError, _Lost):
                self._send(sock, mqtt_wire.disconnect(reason))

    def _connect(self) -> socket.socket:
        common = self._common
        sock = socket.create_connection(
            (common.mqtt_host, common.mqtt_port), timeout=CONNECT_TIMEOUT_SECONDS
        )
        if self._tls is not None:
            try:
                sock = self._tls.wrap_socket(sock, server_hostname=tls_server_name(common))
            except BaseException:
                sock.close()
                raise
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            password = common.mqtt_password.get_secret_value() if common.mqtt_password else None
            sock.sendall(
                mqtt_wire.connect(
                    self._client_id,
                    keepalive=KEEPALIVE_SECONDS,
                    clean_start=False,
                    session_expiry=SESSION_EXPIRY_SECONDS,
                    receive_maximum=self._receive_maximum,
                    maximum_packet_size=MAX_PACKET_BYTES,
                    username=common.mqtt_username or None,
                    password=password if common.mqtt_username else None,
                )
            )
            reader = mqtt_wire.Reader(MAX_PACKET_BYTES)
            connack = self._await_connack(sock, reader)
            if connack.reason >= 0x80:
                raise _Lost(f"connection refused by the broker (reason {connack.reason:#x})")
            self._honour(connack)
            self._reader = reader
            if connack.session_present:
                log.info("MQTT connected, session resumed")
            else:
                # Nothing was kept for us (first start, or the broker lost its state):
                # what devices published while we were away and not queued is gone.
                log.warning("MQTT connected with a new session")
            # Subscribe on every connect: a broker that lost our session must learn it again.
            packets = [
                mqtt_wire.subscribe(
                    SUBSCRIBE_PACKET_ID,
                    self._filter,
                    qos=1,
                    retain_handling=RETAIN_SEND_IF_NEW_SUB,
                )
            ]
            with self._lock:
                # Our unacknowledged publishes go again, marked as retransmissions; what was
                # only waiting to be sent is among them.
                packets += [mqtt_wire.set_dup(p) for p in self._inflight.values()]
                self._pending_out = []
            sock.sendall(b"".join(packets))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    def _honour(self, connack: mqtt_wire.Connack) -> None:
        """Adopt the limits the broker set in its CONNACK."""
        if connack.server_keep_alive is not None:
            # 0 means no keep alive; we still ping, at our own pace, to notice a dead peer.
            self._keepalive = float(connack.server_keep_alive or KEEPALIVE_SECONDS)
        else:
            self._keepalive = float(KEEPALIVE_SECONDS)
        self._server_receive_maximum = connack.receive_maximum or 65_535
        self._server_maximum_packet = connack.maximum_packet_size or mqtt_wire.MAX_REMAINING_LENGTH

    def _await_connack(self, sock: socket.socket, reader: mqtt_wire.Reader) -> mqtt_wire.Connack:
        deadline = time.monotonic() + CONNECT_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            data = sock.recv(READ_CHUNK_BYTES)
            if not data:
                raise _Lost("closed before CONNACK")
            reader.feed(data)
            for kind, _, body in reader.packets():
                if kind != mqtt_wire.CONNACK:
                    raise ProtocolError(f"expected CONNACK, got packet type {kind}")
                try:
                    return mqtt_wire.parse_connack(body)
                except _MALFORMED as exc:
                    raise ProtocolError(f"malformed CONNACK: {exc!r}") from exc
        raise _Lost("no CONNACK in time")

    def _serve(self, sock: socket.socket) -> None:
        """Read, hand over, acknowledge and ping until the connection ends or we close."""
        keepalive = self._keepalive
        last_sent = time.monotonic()
        ping_sent_at: float | None = None
        # What came in the same read as the CONNACK (a resumed session's messages).
        self._handle_packets()
        while True:
            if self._closing.is_set():
                self._flush(sock)
                with contextlib.suppress(OSError, _Lost):
                    self._send(sock, mqtt_wire.DISCONNECT)
                return
            self._hand_over()
            # Always read: the broker sends at most a window's worth of unacknowledged
            # messages, and its PINGRESPs and DISCONNECTs must be seen even when full.
            timeout = FULL_RETRY_SECONDS if self._held else IDLE_WAKEUP_SECONDS
            ready, _, _ = select.select([sock, self._wake_r], [], [], timeout)
            if self._wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    self._wake_r.recv(4096)
            if sock in ready:
                self._read(sock)
            if self._flush(sock):
                last_sent = time.monotonic()
            if self._pong:
                self._pong = False
                ping_sent_at = None
            now = time.monotonic()
            if ping_sent_at is not None and now - ping_sent_at > keepalive:
                raise _Lost("no PINGRESP from the broker")
            if now - last_sent > keepalive / 2 and ping_sent_at is None:
                self._send(sock, mqtt_wire.PINGREQ)
                last_sent = ping_sent_at = now

    def _read(self, sock: socket.socket) -> None:
        while True:
            try:
                data = sock.recv(READ_CHUNK_BYTES)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return
            if not data:
                raise _Lost("closed by the broker")
            self._reader.feed(data)
            self._handle_packets()
            # TLS hands over one record per read; what it has decrypted already is not
            # seen by select(), so take it now.
            if not isinstance(sock, ssl.SSLSocket) or not sock.pending():
                return

    def _handle_packets(self) -> None:
        """Act on every complete packet read so far; anything malformed is a protocol error."""
        try:
            self._act_on_packets()
        except _MALFORMED as exc:
            if isinstance(exc, ProtocolError):
                raise
            raise ProtocolError(f"malformed packet: {exc!r}", mqtt_wire.MALFORMED_PACKET) from exc

    def _act_on_packets(self) -> None:
        connection = self._connection
        received = 0
        for kind, flags, body in self._reader.packets():
            if kind == mqtt_wire.PUBLISH:
                message = mqtt_wire.parse_publish(flags, body)
                if message.qos == 2:
                    # We subscribed at QoS 1; a QoS 2 delivery is refused, not taken as QoS 1.
                    log.error("QoS 2 delivery refused", extra={"packet_id": message.packet_id})
                    with self._lock:
                        self._pending_out.append(
                            mqtt_wire.pubrec(
                                message.packet_id, mqtt_wire.IMPLEMENTATION_SPECIFIC_ERROR
                            )
                        )
                    continue
                if not self._accepting:
                    # Never queued, never acknowledged: the broker delivers it again.
                    continue
                # Strictly increasing, so that an offline status and the next message never tie.
                now = max(time.time(), self._last_received + 1e-6)
                self._last_received = now
                item = Received(
                    # Replaced, not refused, when not UTF-8: it becomes a bad_topic letter.
                    topic=message.topic.decode("utf-8", "replace"),
                    payload=message.payload,
                    mid=message.packet_id,
                    qos=message.qos,
                    retained=message.retain,
                    received_at=datetime.fromtimestamp(now, UTC),
                    connection=connection,
                )
                self._held.add(item)
                received += 1
            elif kind == mqtt_wire.PUBACK:
                packet_id, _ = mqtt_wire.parse_puback(body)
                with self._lock:
                    self._inflight.pop(packet_id, None)
            elif kind == mqtt_wire.PINGRESP:
                self._pong = True
            elif kind == mqtt_wire.SUBACK:
                self._subacked(body)
            elif kind == mqtt_wire.DISCONNECT_TYPE:
                raise _Lost(f"disconnected by the broker (reason {mqtt_wire.reason_of(body):#x})")
            else:
                raise ProtocolError(f"unexpected packet type {kind}", mqtt_wire.PROTOCOL_ERROR)
        if received:
            metrics.RECEIVED.inc(received)

    def _subacked(self, body: bytes) -> None:
        _, reasons = mqtt_wire.parse_suback(body)
        refused = [code for code in reasons if code >= 0x80]
        if refused:
            # Connected but deaf: /readyz reports it, and the next reconnect tries again.
            log.error(
                "MQTT subscription refused",
                extra={"reasons": [f"{c:#x}" for c in refused], "filter": self._filter},
            )
            return
        self._subscribed = True
        metrics.MQTT_CONNECTED.set(1)

    def _hand_over(self) -> None:
        """Move what was read into the queue, as far as it has room."""
        if not self._accepting:
            # Never handed over, never acknowledged: the broker delivers them again.
            self._held.clear()
            return
        self._held.move()

    def _flush(self, sock: socket.socket) -> bool:
        """Send pending acknowledgements and publishes; whether anything was sent."""
        with self._lock:
            acks, self._pending_acks = self._pending_acks, []
            out, self._pending_out = self._pending_out, []
        if not acks and not out:
            return False
        self._send(sock, b"".join([*map(mqtt_wire.puback, acks), *out]))
        return True

    def _send(self, sock: socket.socket, data: bytes) -> None:
        # Blocking (with a timeout) for this write: acks are small and the broker reads
        # them promptly; one that stops reading for that long is treated as gone.
        sock.settimeout(CONNECT_TIMEOUT_SECONDS)
        try:
            sock.sendall(data)
        except TimeoutError as exc:
            raise _Lost("the broker does not read what we send") from exc
        finally:
            sock.setblocking(False)

    def _disconnected(self, sock: socket.socket | None) -> None:
        with self._lock:
            # Messages not yet acknowledged are delivered again on the next connection.
            self._connection += 1
            self._pending_acks = []
        self._held.clear()
        self._subscribed = False
        metrics.MQTT_CONNECTED.set(0)
        if sock is not None:
            sock.close()
