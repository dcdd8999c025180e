"""The pipeline's promise: a message is acknowledged only after its batch is committed, in
the order received; outages hold batches, bad content costs only the culprit."""

import json
import time
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import psycopg

from yizhan.telemetry.ingest.channel import Channel
from yizhan.telemetry.ingest.checker import Checked, Prepared, check, validate_safely
from yizhan.telemetry.ingest.devices import DeviceInfo, DeviceResolver, StationsUnavailable
from yizhan.telemetry.ingest.effects import Arrival
from yizhan.telemetry.ingest.protocol import Event
from yizhan.telemetry.ingest.source import Received
from yizhan.telemetry.ingest.store import DeadLetter, Store, Written
from yizhan.telemetry.ingest.writer import Writer

NOW = datetime.now(UTC)


class FakeStore(Store):
    """Records writes into `log`; fails the first `failures` of them."""

    def __init__(self, log: list[str], failures: Sequence[Exception] = ()) -> None:
        super().__init__("")
        self.log = log
        self.failures = list(failures)
        self.batches: list[tuple[list[Arrival], list[DeadLetter]]] = []

    def write(self, arrivals: Sequence[Arrival], dead_letters: Sequence[DeadLetter]) -> Written:
        if self.failures:
            self.log.append("failed")
            raise self.failures.pop(0)
        self.log.append("commit")
        self.batches.append((list(arrivals), list(dead_letters)))
        scans = [
            a.message
            for a in arrivals
            if isinstance(a.message, Event) and a.message.type == "checkin.scan"
        ]
        return Written(["stored"] * len(arrivals), scans)


class FakeResolver(DeviceResolver):
    """Every device D* belongs to station S1; fails first when `down`."""

    def __init__(self, down: int = 0) -> None:
        self.down = down

    def resolve_many(self, device_ids: Iterable[str]) -> dict[str, DeviceInfo | None]:
        if self.down:
            self.down -= 1
            raise StationsUnavailable("down")
        return {
            d: DeviceInfo(d, "S1", "other", "active", "x") if d.startswith("D") else None
            for d in device_ids
        }


def received(mid: int, device: str = "D1", kind: str = "visit", **extra: object) -> Received:
    body = {"v": 1, "seq": mid, "ts": NOW.isoformat(), "type": kind, **extra}
    if kind == "visit":
        body["count"] = 1
    return Received(
        topic=f"yz/v1/st/S1/dev/{device}/event",
        payload=json.dumps(body).encode(),
        mid=mid,
        qos=1,
        retained=False,
        received_at=NOW,
        connection=0,
    )


def checked(*items: Received) -> Checked:
    return check([validate_safely(item) for item in items], FakeResolver())


def make_writer(
    store: FakeStore, log: list[str], resolver: DeviceResolver | None = None, batch_size: int = 100
) -> tuple[Writer, list[list[int]], list[Event], Channel[Prepared]]:
    acked: list[list[int]] = []
    scans: list[Event] = []
    source: Channel[Prepared] = Channel(1000)

    def ack(items: list[Received]) -> None:
        log.append("ack")
        acked.append([item.mid for item in items])

    writer = Writer(
        source,
        store,
        resolver or FakeResolver(),
        ack=ack,
        on_scans=scans.extend,
        batch_size=batch_size,
    )
    return writer, acked, scans, source


def test_acknowledged_after_commit_in_received_order() -> None:
    log: list[str] = []
    store = FakeStore(log)
    writer, acked, scans, _ = make_writer(store, log)
    writer.process(
        checked(
            received(1), received(2, device="nobody"), received(3, "D1", "checkin.scan", code="OK1")
        )
    )
    assert log == ["commit", "ack"]
    assert acked == [[1, 2, 3]]
    arrivals, dead = store.batches[0]
    assert len(arrivals) == 2
    assert [d.reason for d in dead] == ["unknown_device"]
    assert [s.ref for s in scans] == ["OK1"]


def test_an_outage_holds_the_batch_until_it_is_committed() -> None:
    log: list[str] = []
    store = FakeStore(log, failures=[psycopg.OperationalError("gone")])
    writer, acked, _, _ = make_writer(store, log)
    writer.process(checked(received(1)))
    assert log == ["failed", "commit", "ack"]
    assert acked == [[1]]


def test_stopping_during_an_outage_leaves_messages_unacknowledged() -> None:
    log: list[str] = []
    store = FakeStore(log, failures=[psycopg.OperationalError("gone")] * 5)
    writer, acked, _, _ = make_writer(store, log)
    writer._stopping.set()
    writer.process(checked(received(1)))
    writer.process(checked(received(2)))
    assert acked == []
    assert log == ["failed"]


def test_content_errors_isolate_the_culprit() -> None:
    log: list[str] = []
    store = FakeStore(
        log, failures=[psycopg.errors.DataError("bad"), psycopg.errors.DataError("bad")]
    )
    writer, acked, _, _ = make_writer(store, log)
    writer.process(checked(received(1), received(2)))
    # The batch failed, then message 1 alone failed: it becomes a dead letter; 2 is stored.
    assert acked == [[1, 2]]
    stored = [a.message for arrivals, _ in store.batches for a in arrivals]
    dead = [d for _, letters in store.batches for d in letters]
    assert [m.seq for m in stored] == [2]  # type: ignore[union-attr]
    assert [(d.reason, d.detail.startswith("could not be stored")) for d in dead] == [
        ("invalid", True)
    ]


class BuggyStore(FakeStore):
    """Raises an unexpected error whenever message seq 1 is among the arrivals."""

    def write(self, arrivals: Sequence[Arrival], dead_letters: Sequence[DeadLetter]) -> Written:
        if any(getattr(a.message, "seq", None) == 1 for a in arrivals):
            raise RuntimeError("a bug")
        return super().write(arrivals, dead_letters)


def test_an_unexpected_error_costs_one_message_not_the_pipeline() -> None:
    log: list[str] = []
    store = BuggyStore(log)
    writer, acked, _, _ = make_writer(store, log)
    writer._process_safely(checked(received(3, device="nobody"), received(1), received(2)))
    # All three acknowledged at once, in order of receipt (MQTT 5, 4.6), the culprit too.
    assert acked == [[3, 1, 2]]
    dead = [d for _, letters in store.batches for d in letters]
    assert sorted((d.reason, d.detail) for d in dead) == [
        ("invalid", "could not be processed (RuntimeError)"),
        ("unknown_device", "no such device is registered"),
    ]


def run_pipeline(
    items: list[Received],
    resolver: DeviceResolver,
    batch_size: int,
    store: FakeStore,
    wait_for_acks: bool = False,
) -> list[list[int]]:
    """The writer thread over `items`, stopped once all are queued (or acked)."""
    writer, acked, _, source = make_writer(store, [], resolver, batch_size)
    source.offer(deque(validate_safely(item) for item in items))
    writer.start()
    deadline = time.monotonic() + 10
    while wait_for_acks and sum(map(len, acked)) < len(items) and time.monotonic() < deadline:
        time.sleep(0.01)
    writer.stop(timeout=10)
    return acked


def test_the_thread_batches_by_size_and_drains_on_stop() -> None:
    acked = run_pipeline([received(m) for m in range(1, 8)], FakeResolver(), 2, FakeStore([]))
    assert [mid for batch in acked for mid in batch] == [1, 2, 3, 4, 5, 6, 7]
    assert all(len(batch) <= 2 for batch in acked)


def test_a_stations_outage_holds_the_batch_then_it_goes_through() -> None:
    started = time.monotonic()
    acked = run_pipeline([received(1)], FakeResolver(down=1), 10, FakeStore([]), True)
    assert acked == [[1]]
    assert time.monotonic() - started >= 0.5  # held for the retry delay, not dropped


def test_an_idle_writer_takes_a_message_at_once() -> None:
    writer, acked, _, source = make_writer(FakeStore([]), [], batch_size=1000)
    writer.start()
    started = time.monotonic()
    source.offer(deque([validate_safely(received(1))]))
    while not acked and time.monotonic() - started < 2:
        time.sleep(0.001)
    assert acked == [[1]]
    assert time.monotonic() - started < 0.5
    writer.stop(timeout=5)
