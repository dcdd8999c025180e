"""The writer thread: batches from the queue, checks them, stores each batch in one
transaction, and only then acknowledges its messages to the broker.

A batch whose device lookups or commit fail is retried (nothing acknowledged meanwhile);
the broker redelivers whatever we never acknowledged, and (device, seq) makes that safe.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import psycopg

from yizhan.telemetry.ingest import metrics
from yizhan.telemetry.ingest.consumer import Received
from yizhan.telemetry.ingest.devices import DeviceResolver, StationsUnavailable, check_device
from yizhan.telemetry.ingest.effects import Arrival
from yizhan.telemetry.ingest.protocol import (
    Event,
    Message,
    Rejection,
    parse_topic,
    validate,
)
from yizhan.telemetry.ingest.store import DeadLetter, Store, Written

log = logging.getLogger(__name__)

RETRY_MIN_SECONDS = 0.5
RETRY_MAX_SECONDS = 10.0
# Errors caused by a message's content (SQLSTATE classes 22 and 23): retrying cannot help, so
# the batch is written message by message and the culprit becomes a dead letter.
_CONTENT_ERRORS = (psycopg.errors.DataError, psycopg.errors.IntegrityError)
# Anything else from the database or stations is taken as an outage: retry.
_OUTAGES = (psycopg.Error, StationsUnavailable)

T = TypeVar("T")


@dataclass
class Checked:
    """A batch after validation and device lookup, ready to store."""

    arrivals: list[Arrival] = field(default_factory=list)
    sources: list[Received] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    ignored: int = 0


def dead_letter(item: Received, rejection: Rejection) -> DeadLetter:
    """The dead letter of a refused message (station and device from its topic, if any)."""
    topic = parse_topic(item.topic)
    return DeadLetter(
        received_at=item.received_at,
        topic=item.topic,
        station_id=topic.station_id if topic else None,
        device_id=topic.device_id if topic else None,
        reason=rejection.reason,
        detail=rejection.detail,
        payload=item.payload,
    )


class Writer:
    """Consumes the queue on its own thread until stopped, then drains it."""

    def __init__(
        self,
        source: "queue.Queue[Received]",
        store: Store,
        resolver: DeviceResolver,
        *,
        ack: Callable[[list[Received]], None],
        on_scans: Callable[[list[Event]], None],
        batch_size: int,
        flush_interval: float,
    ) -> None:
        self._queue = source
        self._store = store
        self._resolver = resolver
        self._ack = ack
        self._on_scans = on_scans
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._stopping = threading.Event()
        # Set when an outage is met while stopping: what is left stays unacknowledged.
        self._abandoned = False
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Write what is queued, then end the thread (waits at most `timeout` seconds)."""
        self._stopping.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("writer did not finish in time; unacknowledged messages will come again")

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch:
                self._process_safely(batch)
            elif self._stopping.is_set():
                return

    def _process_safely(self, batch: list[Received]) -> None:
        # A bug met by some odd message must not stop ingest: the batch is retried message
        # by message, and a message that still fails is kept as a dead letter.
        try:
            self.process(batch)
            return
        except Exception:
            metrics.UNEXPECTED_ERRORS.inc()
            log.exception("batch failed unexpectedly; retrying message by message")
        for item in batch:
            try:
                self.process([item])
            except Exception as exc:
                log.exception("message failed unexpectedly", extra={"topic": item.topic})
                rejection = Rejection("invalid", f"could not be processed ({type(exc).__name__})")
                try:
                    self._store.write([], [dead_letter(item, rejection)])
                except Exception:
                    # Unacknowledged: the broker delivers it again after a reconnect.
                    log.exception("could not keep it as a dead letter either")
                    continue
                self._ack([item])

    def _take(self) -> list[Received]:
        """Up to batch_size messages, waiting at most flush_interval after the first."""
        try:
            batch = [self._queue.get(timeout=self._flush_interval)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self._flush_interval
        while len(batch) < self._batch_size:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except queue.Empty:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._stopping.is_set():
                break
            try:
                batch.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def process(self, batch: list[Received]) -> None:
        """Check, store, commit, acknowledge, then trigger after-commit effects."""
        if self._abandoned:
            return
        started = time.perf_counter()
        checked = self._retrying(lambda: self._check(batch), "stations")
        if checked is None:
            return
        written = self._retrying(lambda: self._write(checked), "database")
        if written is None:
            return
        # The batch is committed: only now may the broker forget these messages.
        self._ack(batch)
        try:
            self._on_scans(written.scans)
            _count(checked, written)
        except Exception:  # acknowledged already: it must not be processed again
            log.exception("after-commit work failed")
        metrics.BATCH_SIZE.observe(len(batch))
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)

    def _check(self, batch: list[Received]) -> Checked:
        results = [validate(item.topic, item.payload, item.received_at) for item in batch]
        devices = self._resolver.resolve_many(
            result.device_id for result in results if isinstance(result, Message)
        )
        checked = Checked()
        # In arrival order, so that dead letters are numbered as they came.
        for item, result in zip(batch, results, strict=True):
            if result is None:
                checked.ignored += 1
                continue
            if not isinstance(result, Rejection):
                refusal = check_device(result.station_id, devices.get(result.device_id))
                if refusal is None:
                    checked.arrivals.append(Arrival(result, item.received_at, item.retained))
                    checked.sources.append(item)
                    continue
                result = refusal
            checked.dead_letters.append(dead_letter(item, result))
        return checked

    def _write(self, checked: Checked) -> Written:
        try:
            return self._store.write(checked.arrivals, checked.dead_letters)
        except _CONTENT_ERRORS as exc:
            log.error("batch refused by the database; writing it message by message: %s", exc)
            metrics.WRITE_FAILURES.labels("content").inc()
            return self._write_one_by_one(checked)

    def _write_one_by_one(self, checked: Checked) -> Written:
        written = Written([], [])
        kept: list[tuple[Arrival, Received]] = []
        for arrival, source in zip(checked.arrivals, checked.sources, strict=True):
            try:
                one = self._store.write([arrival], [])
            except _CONTENT_ERRORS as exc:
                detail = f"could not be stored: {exc.diag.message_primary or type(exc).__name__}"
                log.error("message refused by the database", extra={"topic": source.topic})
                checked.dead_letters.append(dead_letter(source, Rejection("invalid", detail)))
                continue
            kept.append((arrival, source))
            written.outcomes.extend(one.outcomes)
            written.scans.extend(one.scans)
        checked.arrivals = [arrival for arrival, _ in kept]
        checked.sources = [source for _, source in kept]
        for dead in checked.dead_letters:
            try:
                self._store.write([], [dead])
            except _CONTENT_ERRORS:
                log.exception("dead letter refused by the database; dropped")
        return written

    def _retrying(self, attempt: Callable[[], T], peer: str) -> T | None:
        """`attempt()` until it succeeds; None when stopping meets an outage."""
        delay = RETRY_MIN_SECONDS
        while True:
            try:
                return attempt()
            except _OUTAGES as exc:
                metrics.WRITE_FAILURES.labels(peer).inc()
                log.error("%s unavailable; batch held unacknowledged: %s", peer, exc)
                if self._stopping.is_set():
                    self._abandoned = True
                    return None
                self._stopping.wait(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)


def _count(checked: Checked, written: Written) -> None:
    for arrival, outcome in zip(checked.arrivals, written.outcomes, strict=False):
        if outcome == "duplicate":
            metrics.DUPLICATES.inc()
        else:
            metrics.STORED.labels(type(arrival.message).__name__.lower()).inc()
    for dead in checked.dead_letters:
        metrics.DEAD_LETTERS.labels(dead.reason).inc()
    if checked.ignored:
        metrics.IGNORED.inc(checked.ignored)
