"""One conformance suite for both ingest sources (paho and our wire client).

Against a scripted broker (tests/telemetry/fake_broker.py) each case ends with the same
books: every message the broker delivered is acknowledged exactly once, on the connection
that delivered it, in order of delivery (0 lost, 0 doubled), and no thread of the source
died. The real-Mosquitto half (plain, TLS, restart) is in test_consumer.py.
"""

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.telemetry.fake_broker import Connection, FakeBroker, accepting
from yizhan.common.settings import CommonSettings
from yizhan.telemetry.ingest import mqtt_wire
from yizhan.telemetry.ingest.channel import Channel
from yizhan.telemetry.ingest.consumer import Consumer
from yizhan.telemetry.ingest.paho_source import PahoSource
from yizhan.telemetry.ingest.source import Received, Source

SOURCES: dict[str, type[Consumer[Received]] | type[PahoSource[Received]]] = {
    "wire": Consumer,
    "paho": PahoSource,
}


def messages(prefix: str, count: int) -> list[bytes]:
    return [f"{prefix}{n}".encode() for n in range(count)]


class Taker:
    """Plays the writer: takes what the source queued and acknowledges it (unless paused)."""

    def __init__(self, out: Channel[Received], paused: bool) -> None:
        self.out = out
        self.source: Source | None = None
        self.taken: list[bytes] = []
        self.running = threading.Event()
        if not paused:
            self.running.set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.running.wait(0.05):
                continue
            items = self.out.take(100, 0.05)
            if items and self.source is not None:
                self.taken.extend(item.payload for item in items)
                self.source.ack(items)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


class Harness:
    """A source of the kind under test, connected to a fake broker, and its writer."""

    def __init__(self, kind: str, broker: FakeBroker, queue: int, paused: bool = False) -> None:
        self.fatal: list[str] = []
        self.out: Channel[Received] = Channel(queue)
        self.taker = Taker(self.out, paused)
        common = CommonSettings(mqtt_host="127.0.0.1", mqtt_port=broker.port)
        self.source: Source = SOURCES[kind](
            common,
            client_id="ingest-under-test",
            share_group="",
            receive_maximum=1000,
            out=self.out,
            prepare=lambda item: item,
            on_fatal=self.fatal.append,
        )
        self.taker.source = self.source
        self.broker = broker

    def close(self) -> None:
        self.source.close()
        self.taker.stop()

    def assert_books_balanced(self, sent: list[bytes]) -> None:
        """Every message acknowledged once, all taken, nothing died."""
        self.broker.wait_all_acked(at_least=len(sent))
        assert self.broker.violations == []
        assert sorted(self.broker.acks) == list(range(1, len(sent) + 1))
        assert set(self.taker.taken) == set(sent)
        assert self.fatal == []


@pytest.fixture(params=list(SOURCES))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def run(kind: str) -> Iterator[Callable[..., Harness]]:
    """Start a fake broker with these scripts and a source against it."""
    opened: list[tuple[FakeBroker, Harness]] = []

    def start(
        scripts: list[Callable[[Connection], None]], queue: int = 1000, paused: bool = False
    ) -> Harness:
        broker = FakeBroker(scripts).__enter__()
        harness = Harness(kind, broker, queue, paused)
        opened.append((broker, harness))
        harness.source.start()
        return harness

    yield start
    for broker, harness in opened:
        harness.close()
        broker.__exit__()


def test_messages_are_acknowledged_once_in_order(run: Callable[..., Harness]) -> None:
    sent = messages("m", 50)
    harness = run([accepting(sent)])
    harness.assert_books_balanced(sent)
    assert harness.taker.taken == sent
    assert len(harness.broker.connections) == 1


def test_backpressure_three_times_the_keepalive_keeps_the_connection(
    run: Callable[..., Harness],
) -> None:
    sent = messages("m", 40)
    harness = run([accepting(sent)], queue=5, paused=True)
    connection = harness.broker.wait_connections(1)
    # The queue is full and nothing is acknowledged for 3.5 keep-alive periods (1 s each).
    time.sleep(3.5)
    assert harness.out.full()
    harness.taker.running.set()
    harness.assert_books_balanced(sent)
    assert harness.taker.taken == sent
    assert len(harness.broker.connections) == 1
    assert harness.source.reconnects == 0
    assert connection.pings >= 2
    assert harness.broker.notes == []


def test_a_refused_connack_is_retried(run: Callable[..., Harness]) -> None:
    sent = messages("m", 5)
    # 0x88 Server unavailable.
    harness = run([lambda c: c.refuse(0x88), accepting(sent)])
    harness.assert_books_balanced(sent)
    assert len(harness.broker.connections) == 2


def test_a_server_disconnect_loses_and_doubles_nothing(run: Callable[..., Harness]) -> None:
    first, second = messages("a", 5), messages("b", 5)

    def disconnect_unacknowledged(c: Connection) -> None:
        c.accept()
        c.publish(first)
        time.sleep(0.3)
        c.send(mqtt_wire.disconnect(0x8B))  # Server shutting down
        c.close()

    harness = run(
        [disconnect_unacknowledged, accepting(second, redeliver=True)],
        paused=True,
    )
    harness.broker.wait_connections(2)
    harness.taker.running.set()
    harness.assert_books_balanced(first + second)
    assert harness.source.reconnects >= 1


def test_redelivery_with_dup_is_acknowledged_once(run: Callable[..., Harness]) -> None:
    sent = messages("m", 8)

    def drop_before_acks(c: Connection) -> None:
        c.accept()
        c.publish(sent)
        time.sleep(0.3)
        c.close()

    harness = run([drop_before_acks, accepting([], redeliver=True)], paused=True)
    harness.broker.wait_connections(2)
    harness.taker.running.set()
    harness.assert_books_balanced(sent)
    # Taken twice (the first copies could not be acknowledged): the store's (device, seq)
    # key makes that harmless; the broker saw each acknowledged once.
    assert sorted(harness.taker.taken) == sorted(sent + sent)


def test_a_session_not_present_is_subscribed_again(run: Callable[..., Harness]) -> None:
    first, second = messages("a", 3), messages("b", 3)

    def then_drop(c: Connection) -> None:
        c.accept()
        c.publish(first)
        c.broker.wait_all_acked()
        c.close()

    # accept() waits for the SUBSCRIBE: a client that trusted its old session would hang.
    harness = run([then_drop, accepting(second, session_present=False)])
    harness.assert_books_balanced(first + second)
    assert len(harness.broker.connections) == 2


def test_a_silent_broker_is_left_after_the_ping_timeout(run: Callable[..., Harness]) -> None:
    sent = messages("m", 3)

    def no_pings(c: Connection) -> None:
        c.answer_pings = False
        c.accept()

    harness = run([no_pings, accepting(sent)])
    started = time.monotonic()
    harness.broker.wait_connections(2, timeout=10)
    # Keep alive 1 s: a PINGREQ after at most 1 s, its answer awaited at most about 1 s more.
    assert time.monotonic() - started < 6
    harness.assert_books_balanced(sent)


def test_qos2_is_never_taken_as_qos1(kind: str, run: Callable[..., Harness]) -> None:
    sent = messages("m", 3)

    def qos2_first(c: Connection) -> None:
        c.accept()
        c.send(mqtt_wire.publish("yz/v1/st/S1/dev/D1/event", b"two", qos=2, packet_id=900))
        c.publish(sent)

    harness = run([qos2_first])
    harness.assert_books_balanced(sent)
    assert b"two" not in harness.taker.taken
    # Never a PUBACK (a violation above). The wire client refuses it with a PUBREC error;
    # paho runs the QoS 2 handshake itself (PUBREC, then the message only after a PUBREL,
    # which this broker never sends).
    expected = 0x83 if kind == "wire" else 0x00
    assert [reason for _, reason in harness.broker.pubrecs] == [expected]


def test_our_publishes_respect_the_brokers_receive_maximum(run: Callable[..., Harness]) -> None:
    def window_of_one(c: Connection) -> None:
        c.ack_client_publishes = False
        c.accept(receive_maximum=1)

    harness = run([window_of_one])
    harness.broker.wait_connections(1)
    deadline = time.monotonic() + 10
    while not harness.source.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    harness.source.publish("yz/v1/st/S1/dev/D1/down", b"first")
    harness.source.publish("yz/v1/st/S1/dev/D1/down", b"second")
    time.sleep(0.5)
    # The broker's CONNACK allows one unacknowledged publish of ours at a time.
    assert harness.broker.from_client == [b"first"]
    assert harness.fatal == []


# Packets no MQTT 5 client may take: a PUBLISH cut short, a remaining length of five bytes,
# packets a server never sends, a PUBLISH with QoS 3.
_malformed = st.one_of(
    st.builds(
        lambda topic_length, rest: b"\x32" + mqtt_wire.varint(2 + len(rest)) + topic_length + rest,
        st.integers(1, 0xFFFF).map(lambda n: n.to_bytes(2, "big")),
        st.binary(max_size=0),
    ),
    st.builds(
        lambda length, rest: (
            b"\x32"
            + mqtt_wire.varint(2 + length + len(rest))
            + length.to_bytes(2, "big")
            + b"t" * length
            + rest
        ),
        st.integers(0, 20),
        st.binary(max_size=1),
    ),
    st.just(b"\x30\xff\xff\xff\xff\x7f"),
    st.builds(
        lambda kind, body: bytes((kind << 4,)) + mqtt_wire.varint(len(body)) + body,
        st.sampled_from([0, 1, 2, 8, 10, 12]),
        st.binary(max_size=8),
    ),
    st.builds(lambda body: b"\x36" + mqtt_wire.varint(len(body)) + body, st.binary(max_size=12)),
)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(garbage=_malformed)
def test_a_malformed_packet_loses_and_doubles_nothing(kind: str, garbage: bytes) -> None:
    before, after = messages("a", 3), messages("b", 3)

    def garbage_midway(c: Connection) -> None:
        c.accept()
        c.publish(before)
        c.broker.wait_all_acked()
        c.send(garbage)
        c.publish(after)

    with FakeBroker([garbage_midway, accepting([], redeliver=True)]) as broker:
        harness = Harness(kind, broker, 1000)
        harness.source.start()
        try:
            harness.assert_books_balanced(before + after)
        finally:
            harness.close()


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=64))
def test_the_wire_decoder_raises_only_protocol_errors(data: bytes) -> None:
    reader = mqtt_wire.Reader(1024)
    reader.feed(data)
    parsers = [
        lambda body: mqtt_wire.parse_publish(2, body),
        lambda body: mqtt_wire.parse_publish(0, body),
        mqtt_wire.parse_connack,
        mqtt_wire.parse_suback,
        mqtt_wire.parse_puback,
    ]
    with contextlib.suppress(mqtt_wire.ProtocolError):
        for _, _, body in reader.packets():
            for parse in parsers:
                with contextlib.suppress(mqtt_wire.ProtocolError):
                    parse(body)
    for parse in parsers:
        with contextlib.suppress(mqtt_wire.ProtocolError):
            parse(data)
