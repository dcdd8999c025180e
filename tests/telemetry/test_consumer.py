"""The ingest MQTT client against the real broker, and its wire format: what is not
acknowledged comes again, a full queue stops the reading (not the connection)."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.telemetry.conftest import Kiosk, unique, wait_until
from yizhan.common.mqtt import make_client
from yizhan.common.settings import CommonSettings
from yizhan.devstack.broker import MosquittoBroker
from yizhan.devstack.processes import free_port
from yizhan.devstack.tls import DevTls
from yizhan.telemetry.ingest import mqtt_wire
from yizhan.telemetry.ingest.channel import Channel
from yizhan.telemetry.ingest.consumer import Consumer
from yizhan.telemetry.ingest.paho_source import PahoSource
from yizhan.telemetry.ingest.source import FATAL_EXIT_CODE, Received, Source


def test_packets_split_anywhere_are_framed_whole() -> None:
    packets = [
        mqtt_wire.publish("yz/v1/st/S/dev/D/event", b"x" * size, qos=1, packet_id=size + 1)
        for size in (0, 1, 127, 128, 20_000)
    ] + [mqtt_wire.puback(7), mqtt_wire.PINGREQ]
    stream = b"".join(packets)
    for step in (1, 3, 128, len(stream)):
        reader = mqtt_wire.Reader()
        seen: list[tuple[int, int, bytes]] = []
        for start in range(0, len(stream), step):
            reader.feed(stream[start : start + step])
            seen.extend(reader.packets())
        assert [kind for kind, _, _ in seen] == [3, 3, 3, 3, 3, 4, 12]
        publish = mqtt_wire.parse_publish(seen[4][1], seen[4][2])
        assert (publish.topic, len(publish.payload), publish.packet_id, publish.qos) == (
            b"yz/v1/st/S/dev/D/event",
            20_000,
            20_001,
            1,
        )


def test_publish_properties_are_skipped() -> None:
    # A broker may add properties (here a message expiry of 60 s) before the payload.
    body = b"\x00\x03a/b" + b"\x00\x05" + b"\x05\x02\x00\x00\x00\x3c" + b"hello"
    publish = mqtt_wire.parse_publish(0b0011, body)
    assert (publish.topic, publish.packet_id, publish.payload, publish.retain) == (
        b"a/b",
        5,
        b"hello",
        True,
    )


def test_lengths_beyond_the_limit_are_refused() -> None:
    reader = mqtt_wire.Reader(max_packet_size=100)
    reader.feed(b"\x30" + mqtt_wire.varint(101))
    with pytest.raises(mqtt_wire.ProtocolError):
        list(reader.packets())
    assert mqtt_wire.varint(268_435_455) == b"\xff\xff\xff\x7f"


SOURCES = [Consumer, PahoSource]


@pytest.fixture(params=SOURCES, ids=["wire", "paho"])
def source_class(request: pytest.FixtureRequest) -> type[Consumer[Received] | PahoSource[Received]]:
    return request.param  # type: ignore[no-any-return]


def consumer(
    broker: MosquittoBroker,
    client_id: str,
    out: Channel[Received],
    source_class: type[Consumer[Received] | PahoSource[Received]] = Consumer,
) -> Source:
    settings = CommonSettings(mqtt_host=broker.host, mqtt_port=broker.port)
    return source_class(
        settings,
        client_id=client_id,
        share_group="",
        receive_maximum=100,
        out=out,
        prepare=lambda item: item,
    )


def drain(out: Channel[Received], count: int) -> list[Received]:
    items: list[Received] = []
    deadline = time.monotonic() + 10
    while len(items) < count and time.monotonic() < deadline:
        items.extend(out.take(count - len(items), 0.1))
    return items


@pytest.mark.integration
def test_unacknowledged_messages_come_again(
    broker: MosquittoBroker, kiosk: Kiosk, source_class: type[Consumer[Received]]
) -> None:
    client_id = unique("ingest")
    topic = f"yz/v1/st/{unique('S')}/dev/{unique('D')}/event"
    out: Channel[Received] = Channel(1000)
    first = consumer(broker, client_id, out, source_class)
    first.start()
    wait_until(lambda: first.connected)
    kiosk.publish_all([(topic, f"m{n}".encode()) for n in range(10)])
    received = drain(out, 10)
    assert [r.payload for r in received] == [f"m{n}".encode() for n in range(10)]
    first.ack(received[:5])  # "committed": only these
    time.sleep(0.3)
    first.close()

    second = consumer(broker, client_id, out, source_class)
    second.start()
    again = drain(out, 5)
    assert [r.payload for r in again] == [f"m{n}".encode() for n in range(5, 10)]
    second.ack(again)
    # A packet id from the first connection means nothing now: acking it is ignored.
    second.ack(received[:5])
    time.sleep(0.3)
    second.close()
    assert out.qsize() == 0


@pytest.mark.integration
def test_a_full_queue_holds_the_stream_without_losing_it(
    broker: MosquittoBroker, kiosk: Kiosk, source_class: type[Consumer[Received]]
) -> None:
    topic = f"yz/v1/st/{unique('S')}/dev/{unique('D')}/event"
    out: Channel[Received] = Channel(5)
    client = consumer(broker, unique("ingest"), out, source_class)
    client.start()
    wait_until(lambda: client.connected)
    kiosk.publish_all([(topic, f"m{n}".encode()) for n in range(300)])
    time.sleep(0.5)
    assert out.full()
    assert client.connected
    taken: list[Received] = []
    while len(taken) < 300:
        batch = drain(out, min(5, 300 - len(taken)))
        assert batch, f"stalled after {len(taken)}"
        client.ack(batch)
        taken.extend(batch)
    assert [r.payload for r in taken] == [f"m{n}".encode() for n in range(300)]
    client.close()


class Books:
    """Plays the writer against a real broker: takes, acknowledges, and counts what was
    lost (never taken) and doubled (taken again after its acknowledgement)."""

    def __init__(self, out: Channel[Received]) -> None:
        self.out = out
        self.acked: set[bytes] = set()
        self.doubled = 0

    def take_and_ack(self, source: Source, expected: set[bytes], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not expected <= self.acked and time.monotonic() < deadline:
            items = self.out.take(500, 0.1)
            self.doubled += sum(1 for item in items if item.payload in self.acked)
            source.ack(items)
            self.acked.update(item.payload for item in items)


def tls_source(
    source_class: type[Consumer[Received]], port: int, out: Channel[Received], **tls: object
) -> Source:
    settings = CommonSettings(mqtt_host="127.0.0.1", mqtt_port=port, **tls)  # type: ignore[arg-type]
    return source_class(
        settings,
        client_id=unique("ingest"),
        share_group="",
        receive_maximum=100,
        out=out,
        prepare=lambda item: item,
    )


@pytest.mark.integration
def test_ingest_and_a_device_over_tls(
    tls_broker: tuple[MosquittoBroker, DevTls], source_class: type[Consumer[Received]]
) -> None:
    broker, dev_tls = tls_broker
    assert broker.tls is not None
    ingest_cert = dev_tls.client("ingest")
    out: Channel[Received] = Channel(1000)
    # Reached by address, checked against the name in the broker's certificate.
    source = tls_source(
        source_class,
        broker.tls.port,
        out,
        mqtt_tls_ca=dev_tls.ca_cert,
        mqtt_tls_cert=ingest_cert.cert,
        mqtt_tls_key=ingest_cert.key,
        mqtt_tls_server_name="localhost",
    )
    source.start()
    device_cert = dev_tls.client("kiosk-1")
    device_settings = CommonSettings(
        mqtt_host="127.0.0.1",
        mqtt_port=broker.tls.port,
        mqtt_tls_ca=dev_tls.ca_cert,
        mqtt_tls_cert=device_cert.cert,
        mqtt_tls_key=device_cert.key,
    )
    device = make_client(unique("kiosk"), device_settings)
    try:
        wait_until(lambda: source.connected)
        device.connect("127.0.0.1", broker.tls.port)
        device.loop_start()
        topic = f"yz/v1/st/{unique('S')}/dev/{unique('D')}/event"
        sent = {f"t{n}".encode() for n in range(50)}
        for payload in sorted(sent):
            device.publish(topic, payload, qos=1)
        books = Books(out)
        books.take_and_ack(source, sent)
        assert (sent - books.acked, books.doubled) == (set(), 0)
    finally:
        device.loop_stop()
        device.disconnect()
        source.close()


@pytest.mark.integration
def test_a_wrong_server_name_is_refused(
    tls_broker: tuple[MosquittoBroker, DevTls], source_class: type[Consumer[Received]]
) -> None:
    broker, dev_tls = tls_broker
    assert broker.tls is not None
    ingest_cert = dev_tls.client("ingest")
    source = tls_source(
        source_class,
        broker.tls.port,
        Channel(10),
        mqtt_tls_ca=dev_tls.ca_cert,
        mqtt_tls_cert=ingest_cert.cert,
        mqtt_tls_key=ingest_cert.key,
        mqtt_tls_server_name="not-the-broker.example",
    )
    source.start()
    time.sleep(1.5)
    assert not source.connected
    source.close()


@pytest.mark.integration
def test_a_broker_restart_loses_and_doubles_nothing(
    workdir: Path, source_class: type[Consumer[Received]]
) -> None:
    own = MosquittoBroker(workdir / unique("mosquitto-restart"), free_port())
    own.start()
    out: Channel[Received] = Channel(10_000)
    source = tls_source(source_class, own.port, out)
    kiosk_settings = CommonSettings(mqtt_host=own.host, mqtt_port=own.port)
    topic = f"yz/v1/st/{unique('S')}/dev/{unique('D')}/event"
    books = Books(out)
    try:
        source.start()
        wait_until(lambda: source.connected)
        before = {f"a{n}".encode() for n in range(200)}
        publish_and_wait(kiosk_settings, topic, before)
        # 100 taken and acknowledged (and given time to reach the broker), the rest still
        # unacknowledged when the broker goes: those must come again, the others not.
        first = drain(out, 100)
        source.ack(first)
        books.acked.update(item.payload for item in first)
        # MQTT never confirms that a PUBACK reached the broker: give the acks time to leave
        # (paho writes them from its own network thread) before the broker goes. A fresh
        # Debian root under load once needed more than half a second.
        time.sleep(2.0)
        own.stop()
        own.start()
        after = {f"b{n}".encode() for n in range(200)}
        publish_and_wait(kiosk_settings, topic, after)
        books.take_and_ack(source, before | after, timeout=30)
        assert ((before | after) - books.acked, books.doubled) == (set(), 0)
        assert source.reconnects >= 1
    finally:
        source.close()
        own.stop()


def publish_and_wait(settings: CommonSettings, topic: str, payloads: set[bytes]) -> None:
    """Publish at QoS 1 from a device and wait until the broker has every message."""
    device = make_client(unique("kiosk"), settings)
    device.connect(settings.mqtt_host, settings.mqtt_port)
    device.loop_start()
    try:
        infos = [device.publish(topic, payload, qos=1) for payload in sorted(payloads)]
        for info in infos:
            info.wait_for_publish(10)
    finally:
        device.loop_stop()
        device.disconnect()


# A source whose network thread meets a bug (here in `prepare`): the process must end,
# non-zero, rather than live on storing nothing.
_DYING_INGEST = """
import sys, time
from yizhan.common.settings import CommonSettings
from yizhan.telemetry.ingest.channel import Channel
from yizhan.telemetry.ingest.{module} import {name}

def prepare(item):
    raise RuntimeError("a bug")

source = {name}(
    CommonSettings(mqtt_host="127.0.0.1", mqtt_port=int(sys.argv[1])),
    client_id=sys.argv[2], share_group="", receive_maximum=10, out=Channel(10), prepare=prepare,
)
source.start()
while not source.connected:
    time.sleep(0.05)
print("connected", flush=True)
time.sleep(30)
"""


@pytest.mark.integration
@pytest.mark.parametrize(
    ("module", "name"), [("consumer", "Consumer"), ("paho_source", "PahoSource")]
)
def test_a_dead_ingest_thread_ends_the_process_non_zero(
    broker: MosquittoBroker, kiosk: Kiosk, module: str, name: str
) -> None:
    code = _DYING_INGEST.format(module=module, name=name)
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(broker.port), unique("dying")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"connected\n"
        kiosk.publish_all([(f"yz/v1/st/{unique('S')}/dev/{unique('D')}/event", b"{}")])
        assert process.wait(15) == FATAL_EXIT_CODE
    finally:
        process.kill()
        process.wait()
