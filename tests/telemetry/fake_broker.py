"""A scripted MQTT 5 broker for the ingest source conformance suite.

It speaks just enough MQTT 5 to hold one subscriber's persistent session: CONNACK (with the
limits it chooses), SUBACK, QoS 1 PUBLISH with redelivery (DUP) of what was not
acknowledged, PINGRESP (unless told to stay silent) and DISCONNECT; and it enforces the
client's keep alive as a real broker does (1.5 times, then the connection is dropped). Each
connection runs a script, so a test can refuse, disconnect, go silent or send garbage.

It keeps the books the suite judges by: every PUBACK must name a message delivered on that
same connection and still unacknowledged, in order of delivery; anything else is recorded
as a violation.
"""

import contextlib
import socket
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from yizhan.telemetry.ingest import mqtt_wire

TOPIC = "yz/v1/st/S1/dev/D1/event"
SERVER_KEEP_ALIVE = 1
WAIT_SECONDS = 15.0


def connack(
    *,
    session_present: bool,
    reason: int = 0,
    keep_alive: int | None = SERVER_KEEP_ALIVE,
    receive_maximum: int | None = None,
) -> bytes:
    """A CONNACK carrying the limits the broker sets."""
    props = b""
    if keep_alive is not None:
        props += b"\x13" + struct.pack("!H", keep_alive)
    if receive_maximum is not None:
        props += b"\x21" + struct.pack("!H", receive_maximum)
    body = bytes((int(session_present), reason)) + mqtt_wire.varint(len(props)) + props
    return b"\x20" + mqtt_wire.varint(len(body)) + body


@dataclass
class Connection:
    """One client connection, driven by a script."""

    broker: "FakeBroker"
    sock: socket.socket
    number: int
    answer_pings: bool = True
    # Whether the client's own publishes get their PUBACK (off: they stay in flight).
    ack_client_publishes: bool = True
    keep_alive: float = SERVER_KEEP_ALIVE
    # Packet ids delivered on this connection and not yet acknowledged, in delivery order.
    delivered: list[int] = field(default_factory=list)
    closed: threading.Event = field(default_factory=threading.Event)
    subscribed: threading.Event = field(default_factory=threading.Event)
    connected: threading.Event = field(default_factory=threading.Event)
    pings: int = 0

    def accept(self, *, session_present: bool = True, receive_maximum: int | None = None) -> None:
        """Answer the CONNECT and (once it comes) the SUBSCRIBE."""
        assert self.connected.wait(WAIT_SECONDS), "no CONNECT"
        self.send(connack(session_present=session_present, receive_maximum=receive_maximum))
        assert self.subscribed.wait(WAIT_SECONDS), "no SUBSCRIBE"

    def refuse(self, reason: int) -> None:
        """Answer the CONNECT with a refusal and close."""
        assert self.connected.wait(WAIT_SECONDS), "no CONNECT"
        self.send(connack(session_present=False, reason=reason))
        self.close()

    def publish(self, payloads: list[bytes]) -> None:
        """Deliver new messages (QoS 1); they join the session until acknowledged."""
        packets = []
        for payload in payloads:
            mid = self.broker.new_message(payload)
            packets.append(self._deliver(mid, dup=False))
        self.send(b"".join(packets))

    def redeliver(self) -> None:
        """Send again, marked DUP, everything of the session not yet acknowledged."""
        with self.broker.lock:
            mids = list(self.broker.unacked)
        self.send(b"".join(self._deliver(mid, dup=True) for mid in mids))

    def _deliver(self, mid: int, *, dup: bool) -> bytes:
        with self.broker.lock:
            self.delivered.append(mid)
            payload = self.broker.unacked[mid]
        return mqtt_wire.publish(TOPIC, payload, qos=1, packet_id=mid, dup=dup)

    def send(self, data: bytes) -> None:
        """Write raw bytes (ignored once the client is gone)."""
        with contextlib.suppress(OSError):
            self.sock.sendall(data)

    def close(self) -> None:
        """Drop the connection."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.closed.set()

    def serve(self) -> None:
        """Read what the client sends until it or we close."""
        reader = mqtt_wire.Reader()
        self.sock.settimeout(self.keep_alive * 1.5)
        try:
            while True:
                try:
                    data = self.sock.recv(65536)
                except TimeoutError:
                    if self.connected.is_set():
                        self.broker.note(f"connection {self.number}: keep alive expired")
                        return
                    continue
                if not data:
                    return
                reader.feed(data)
                for kind, flags, body in reader.packets():
                    self._handle(kind, flags, body)
        except OSError:
            return
        finally:
            self.close()

    def _handle(self, kind: int, flags: int, body: bytes) -> None:
        if kind == mqtt_wire.CONNECT:
            self.connected.set()
        elif kind == mqtt_wire.SUBSCRIBE:
            packet_id = body[:2]
            self.send(b"\x90\x04" + packet_id + b"\x00\x01")
            self.subscribed.set()
        elif kind == mqtt_wire.PINGREQ_TYPE:
            self.pings += 1
            if self.answer_pings:
                self.send(b"\xd0\x00")
        elif kind == mqtt_wire.PUBACK:
            self.broker.acknowledged(self, mqtt_wire.parse_puback(body)[0])
        elif kind == mqtt_wire.PUBREC:
            self.broker.pubrecs.append(mqtt_wire.parse_puback(body))
        elif kind == mqtt_wire.PUBLISH:
            message = mqtt_wire.parse_publish(flags, body)
            self.broker.from_client.append(message.payload)
            if message.qos and self.ack_client_publishes:
                self.send(mqtt_wire.puback(message.packet_id))
        elif kind == mqtt_wire.DISCONNECT_TYPE:
            self.broker.disconnect_reasons.append(mqtt_wire.reason_of(body))


Script = Callable[[Connection], None]


def accepting(
    payloads: list[bytes], *, redeliver: bool = False, session_present: bool = True
) -> Script:
    """A script: accept, send again what is unacknowledged (if asked), deliver `payloads`."""

    def script(connection: Connection) -> None:
        connection.accept(session_present=session_present)
        if redeliver:
            connection.redeliver()
        connection.publish(payloads)

    return script


class FakeBroker:
    """Listens on a free port; connection n runs scripts[n] (the last one repeats)."""

    def __init__(self, scripts: list[Script]) -> None:
        self.scripts = scripts
        self.lock = threading.Lock()
        self.unacked: OrderedDict[int, bytes] = OrderedDict()
        self.acks: list[int] = []
        self.violations: list[str] = []
        self.notes: list[str] = []
        self.pubrecs: list[tuple[int, int]] = []
        self.disconnect_reasons: list[int] = []
        self.from_client: list[bytes] = []
        self.connections: list[Connection] = []
        self._next_mid = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stopped = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> "FakeBroker":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped = True
        self._listener.close()
        for connection in self.connections:
            connection.close()

    def new_message(self, payload: bytes) -> int:
        """A packet id for a new message of the session."""
        with self.lock:
            self._next_mid += 1
            self.unacked[self._next_mid] = payload
            return self._next_mid

    def acknowledged(self, connection: Connection, mid: int) -> None:
        """Book a PUBACK, checking it is due: delivered here, unacknowledged, in order."""
        with self.lock:
            if mid not in connection.delivered:
                self.violations.append(
                    f"PUBACK {mid} not delivered on connection {connection.number}"
                )
                return
            if connection.delivered[0] != mid:
                self.violations.append(
                    f"PUBACK {mid} out of order on connection {connection.number}"
                )
            connection.delivered.remove(mid)
            if mid not in self.unacked:
                self.violations.append(f"PUBACK {mid} twice")
                return
            del self.unacked[mid]
            self.acks.append(mid)

    def note(self, text: str) -> None:
        """Record something that happened (not a violation by itself)."""
        with self.lock:
            self.notes.append(text)

    def wait_connections(self, count: int, timeout: float = WAIT_SECONDS) -> Connection:
        """The count-th connection, once it exists."""
        deadline = time.monotonic() + timeout
        while len(self.connections) < count:
            assert time.monotonic() < deadline, f"only {len(self.connections)} connections"
            time.sleep(0.02)
        return self.connections[count - 1]

    def wait_all_acked(self, at_least: int = 0, timeout: float = WAIT_SECONDS) -> None:
        """Until every message of the session (and at least this many) is acknowledged."""
        deadline = time.monotonic() + timeout
        while self.unacked or len(self.acks) < at_least:
            assert time.monotonic() < deadline, f"never acknowledged: {list(self.unacked)}"
            time.sleep(0.02)

    def _accept(self) -> None:
        while not self._stopped:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            connection = Connection(self, sock, len(self.connections) + 1)
            self.connections.append(connection)
            script = self.scripts[min(len(self.connections), len(self.scripts)) - 1]
            threading.Thread(target=connection.serve, daemon=True).start()
            threading.Thread(
                target=self._run_script, args=(script, connection), daemon=True
            ).start()

    def _run_script(self, script: Script, connection: Connection) -> None:
        try:
            script(connection)
        except AssertionError as exc:
            self.note(f"connection {connection.number}: script stopped: {exc}")
