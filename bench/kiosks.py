"""Simulated kiosks for the ingest benchmark: raw MQTT 5 sockets, QoS 1, paced publishing.

Each kiosk is one connection publishing telemetry for its station's devices. Packets are
built by hand (yizhan.telemetry.ingest.mqtt_wire) so that the load generator costs about a
microsecond a message and leaves the machine's two cores to the broker, ingest and
PostgreSQL, which are what is measured.
"""

import select
import selectors
import socket
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

from yizhan.telemetry.ingest import mqtt_wire

# Unacknowledged publishes per connection before it waits for PUBACKs (the broker's
# Receive Maximum is 65,535 with max_inflight_messages 0).
WINDOW = 2000
TICK_SECONDS = 0.002
METRICS_TEMPLATE = '{"power_w":%d.%d,"energy_wh":%d.5,"temp_c":4%d.5}'


@dataclass
class Kiosk:
    """One connection, the devices it publishes for, and its unacknowledged count."""

    sock: socket.socket
    station_id: str
    device_ids: list[str]
    topics: list[bytes]
    reader: mqtt_wire.Reader = field(default_factory=mqtt_wire.Reader)
    unacked: int = 0
    next_packet_id: int = 0
    next_device: int = 0


def station_of(kiosk: int) -> str:
    """The station id of simulated kiosk number `kiosk`."""
    return f"BS-{kiosk:04d}"


def device_of(kiosk: int, device: int) -> str:
    """The device id of a kiosk's device."""
    return f"bd-{kiosk:04d}-{device}"


class Fleet:
    """Many kiosks publishing telemetry at a given total rate.

    One sequence counter is shared by all devices: seq stays strictly increasing per device,
    and seq alone identifies a message, which makes loss, duplicate and latency bookkeeping an
    array lookup.
    """

    def __init__(
        self, host: str, port: int, kiosks: int, devices_per_kiosk: int, root: str = "yz"
    ) -> None:
        self.kiosks: list[Kiosk] = []
        for number in range(kiosks):
            sock = socket.create_connection((host, port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(
                mqtt_wire.connect(
                    f"bench-kiosk-{number}-{root}",
                    keepalive=600,
                    clean_start=True,
                    session_expiry=0,
                )
            )
            reader = mqtt_wire.Reader()
            while True:
                reader.feed(sock.recv(4096))
                packets = list(reader.packets())
                if packets:
                    break
            reason = mqtt_wire.parse_connack(packets[0][2]).reason
            if reason:
                raise RuntimeError(f"kiosk {number} refused: reason {reason:#x}")
            sock.setblocking(False)
            station = station_of(number)
            devices = [device_of(number, d) for d in range(devices_per_kiosk)]
            topics = [f"{root}/v1/st/{station}/dev/{d}/telemetry".encode() for d in devices]
            self.kiosks.append(Kiosk(sock, station, devices, topics, reader))
        self._selector = selectors.DefaultSelector()
        for kiosk in self.kiosks:
            self._selector.register(kiosk.sock, selectors.EVENT_READ, kiosk)
        self.seq = 0
        # Publish time (epoch seconds) of each seq, indexed by seq.
        self.sent_at = array("d")
        self.acked = 0

    def device_count(self) -> int:
        """Devices across all kiosks."""
        return sum(len(k.device_ids) for k in self.kiosks)

    def close(self) -> None:
        """Disconnect every kiosk."""
        self._selector.close()
        for kiosk in self.kiosks:
            try:
                kiosk.sock.setblocking(True)
                kiosk.sock.sendall(mqtt_wire.DISCONNECT)
            except OSError:
                pass
            kiosk.sock.close()

    def replay(
        self,
        backlog: int,
        live_kiosks: int,
        live_rate: float,
        ts_offset_seconds: float,
        drained: Callable[[], bool],
    ) -> tuple[list[int], list[int]]:
        """A city coming back online: every kiosk after the first `live_kiosks` publishes its
        share of `backlog` old messages (`ts` shifted by `ts_offset_seconds`) as fast as the
        broker takes them, while the first `live_kiosks` publish live at `live_rate` in all,
        until `drained()` (asked twice a second once the backlog is out) says the backlog is
        stored. Returns the seqs of the backlog and of the live messages."""
        live, old = self.kiosks[:live_kiosks], self.kiosks[live_kiosks:]
        backlog_seqs: list[int] = []
        live_seqs: list[int] = []
        started = time.time()
        live_turn = old_turn = 0
        asked = 0.0
        while True:
            now = time.time()
            if len(backlog_seqs) >= backlog and now - asked >= 0.5:
                asked = now
                if drained():
                    break
            due_live = int(live_rate * (now - started)) - len(live_seqs)
            batches: dict[int, list[bytes]] = {}
            for _ in range(max(due_live, 0)):
                index = live_turn % len(live)
                live_turn += 1
                live_seqs.append(self.seq)
                batches.setdefault(index, []).append(self._packet(live[index], now))
            due_old = min(500 * len(old), backlog - len(backlog_seqs))
            skipped = 0
            while due_old > 0 and skipped < len(old):
                index = old_turn % len(old)
                old_turn += 1
                kiosk = old[index]
                if kiosk.unacked >= WINDOW:
                    skipped += 1
                    continue
                backlog_seqs.append(self.seq)
                packet = self._packet(kiosk, now, ts_offset_seconds)
                batches.setdefault(live_kiosks + index, []).append(packet)
                due_old -= 1
            for index, packets in batches.items():
                self._send(self.kiosks[index], b"".join(packets))
            self._read_acks(0.0005 if len(backlog_seqs) < backlog else TICK_SECONDS)
        deadline = time.time() + 30
        while self.acked < self.seq and time.time() < deadline:
            self._read_acks(0.01)
        return backlog_seqs, live_seqs

    def run(self, rate: float | None, seconds: float, limit: int | None = None) -> tuple[int, int]:
        """Publish for `seconds` at `rate` messages a second (None: as fast as the broker
        takes them), at most `limit` messages; returns the seq range [first, end) published."""
        first = self.seq
        started = time.time()
        sent = 0
        count = len(self.kiosks)
        turn = 0
        while True:
            now = time.time()
            elapsed = now - started
            if elapsed >= seconds or (limit is not None and sent >= limit):
                break
            due = int(rate * elapsed) - sent if rate else 500 * count
            if limit is not None:
                due = min(due, limit - sent)
            per_kiosk: dict[int, list[bytes]] = {}
            while due > 0:
                index = turn % count
                turn += 1
                kiosk = self.kiosks[index]
                if kiosk.unacked >= WINDOW:
                    if all(k.unacked >= WINDOW for k in self.kiosks):
                        break
                    continue
                per_kiosk.setdefault(index, []).append(self._packet(kiosk, now))
                due -= 1
                sent += 1
            for index, packets in per_kiosk.items():
                self._send(self.kiosks[index], b"".join(packets))
            self._read_acks(TICK_SECONDS if rate else 0.0005)
        end = self.seq
        deadline = time.time() + 30
        while self.acked < end and time.time() < deadline:
            self._read_acks(0.01)
        return first, end

    def _packet(self, kiosk: Kiosk, now: float, ts_offset_seconds: float = 0.0) -> bytes:
        seq = self.seq
        self.seq += 1
        self.sent_at.append(now)
        device = kiosk.next_device
        kiosk.next_device = (device + 1) % len(kiosk.topics)
        kiosk.next_packet_id = kiosk.next_packet_id % 65_535 + 1
        kiosk.unacked += 1
        metrics = METRICS_TEMPLATE % (seq % 900, seq % 10, seq, seq % 10)
        payload = b'{"v":1,"seq":%d,"ts":%d,"metrics":%s}' % (
            seq,
            int((now + ts_offset_seconds) * 1000),
            metrics.encode(),
        )
        return mqtt_wire.publish(
            kiosk.topics[device], payload, qos=1, packet_id=kiosk.next_packet_id
        )

    def _send(self, kiosk: Kiosk, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                sent = kiosk.sock.send(view)
                view = view[sent:]
            except BlockingIOError:
                select.select([], [kiosk.sock], [], 1.0)
                self._read_one(kiosk)

    def _read_acks(self, timeout: float) -> None:
        for key, _ in self._selector.select(timeout):
            self._read_one(key.data)

    def _read_one(self, kiosk: Kiosk) -> None:
        try:
            data = kiosk.sock.recv(65536)
        except BlockingIOError:
            return
        if not data:
            raise RuntimeError(f"the broker closed kiosk {kiosk.station_id}")
        kiosk.reader.feed(data)
        for kind, _, _ in kiosk.reader.packets():
            if kind == mqtt_wire.PUBACK:
                kiosk.unacked -= 1
                self.acked += 1
