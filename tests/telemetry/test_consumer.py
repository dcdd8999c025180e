"""The ingest MQTT client against the real broker, and its wire format: what is not
acknowledged comes again, a full queue stops the reading (not the connection)."""

import time

import pytest

from tests.telemetry.conftest import Kiosk, unique, wait_until
from yizhan.common.settings import CommonSettings
from yizhan.devstack.broker import MosquittoBroker
from yizhan.telemetry.ingest import mqtt_wire
from yizhan.telemetry.ingest.channel import Channel
from yizhan.telemetry.ingest.consumer import Consumer
from yizhan.telemetry.ingest.paho_source import PahoSource
from yizhan.telemetry.ingest.source import Received, Source


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
