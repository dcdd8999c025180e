"""The writer thread: takes validated messages off the queue in batches, resolves their
devices, stores each batch in one transaction, and only then acknowledges its messages.

Batches set their own size: the writer takes everything that waits (up to `batch_size`) as
soon as it is free (after a few milliseconds' linger when that is little), so a quiet minute
costs a transaction per message and under load each transaction carries what arrived while
the previous one was written.

A batch whose devices cannot be resolved or whose commit fails is retried (nothing
acknowledged meanwhile); the broker redelivers whatever we never acknowledged, and
(device, seq) makes that safe.
"""

import functools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

import psycopg

from yizhan.telemetry.ingest import metrics
from yizhan.telemetry.ingest.channel import Channel
from yizhan.telemetry.ingest.checker import Checked, Prepared, check, dead_letter
from yizhan.telemetry.ingest.devices import DeviceResolver, StationsUnavailable
from yizhan.telemetry.ingest.protocol import Event, Rejection
from yizhan.telemetry.ingest.source import Received, exit_process, guarded_thread
from yizhan.telemetry.ingest.store import Store, Written

log = logging.getLogger(__name__)

RETRY_MIN_SECONDS = 0.5
RETRY_MAX_SECONDS = 10.0
# Errors caused by a message's content (SQLSTATE classes 22 and 23): retrying cannot help, so
# the batch is written message by message and the culprit becomes a dead letter.
_CONTENT_ERRORS = (psycopg.errors.DataError, psycopg.errors.IntegrityError)
# Anything else from the database is taken as an outage: retry.
_OUTAGES = (psycopg.Error,)
# How often an idle writer looks whether it should stop.
STOP_CHECK_SECONDS = 0.1
# A batch that is not full waits this long once for more: a few milliseconds of latency make
# each transaction carry several messages instead of one at moderate rates (every commit is
# a WAL flush, and each statement costs about as much as fifty messages in it).
LINGER_SECONDS = 0.004

T = TypeVar("T")


class Writer:
    """Writes what the MQTT thread queued until stopped, then drains the queue."""

    def __init__(
        self,
        source: Channel[Prepared],
        store: Store,
        resolver: DeviceResolver,
        *,
        ack: Callable[[list[Received]], None],
        on_scans: Callable[[list[Event]], None],
        on_committed: Callable[[Written], None] = lambda written: None,
        batch_size: int,
        on_fatal: Callable[[str], None] = exit_process,
    ) -> None:
        self._source = source
        self._store = store
        self._resolver = resolver
        self._ack = ack
        self._on_scans = on_scans
        self._on_committed = on_committed
        self._batch_size = batch_size
        self._stopping = threading.Event()
        # Set when an outage is met while stopping: what is left stays unacknowledged.
        self._abandoned = False
        self._thread = guarded_thread(self._run, "ingest-writer", on_fatal)

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Write what is queued (the MQTT thread takes no more by now), then end."""
        self._stopping.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("writer did not finish in time; unacknowledged messages will come again")

    def _run(self) -> None:
        while not self._abandoned:
            items = self._source.take(self._batch_size, STOP_CHECK_SECONDS)
            if not items:
                if self._stopping.is_set():
                    return
                continue
            if len(items) < self._batch_size and not self._stopping.is_set():
                time.sleep(LINGER_SECONDS)
                items += self._source.take(self._batch_size - len(items), 0)
            checked = self._retrying(
                functools.partial(check, items, self._resolver), StationsUnavailable, "stations"
            )
            if checked is not None:
                self._process_safely(checked)

    def _process_safely(self, checked: Checked) -> None:
        # A bug met by some odd message must not stop ingest: the batch is retried message
        # by message, and a message that still fails is kept as a dead letter.
        try:
            self.process(checked)
            return
        except Exception:
            metrics.UNEXPECTED_ERRORS.inc()
            log.exception("batch failed unexpectedly; retrying message by message")
        # Acknowledged together at the end, in order of receipt (MQTT 5, 4.6).
        done: list[Received] = []
        for arrival, item in zip(checked.arrivals, checked.arrival_sources, strict=True):
            one = Checked(sources=[item], arrivals=[arrival], arrival_sources=[item])
            try:
                if self.process(one, acknowledge=False):
                    done.append(item)
            except Exception as exc:
                log.exception("message failed unexpectedly", extra={"topic": item.topic})
                rejection = Rejection("invalid", f"could not be processed ({type(exc).__name__})")
                if self._keep_as_dead_letter(item, rejection):
                    done.append(item)
        accepted = {id(item) for item in checked.arrival_sources}
        rest = [item for item in checked.sources if id(item) not in accepted]
        if checked.dead_letters:
            try:
                self._store.write([], checked.dead_letters)
            except Exception:
                log.exception("could not keep the dead letters; they will come again")
                rest = []
            else:
                for dead in checked.dead_letters:
                    metrics.DEAD_LETTERS.labels(dead.reason).inc()
        finished = {id(item) for item in done + rest}
        self._ack([item for item in checked.sources if id(item) in finished])

    def _keep_as_dead_letter(self, item: Received, rejection: Rejection) -> bool:
        try:
            self._store.write([], [dead_letter(item, rejection)])
        except Exception:
            # Unacknowledged: the broker delivers it again after a reconnect.
            log.exception("could not keep it as a dead letter either")
            return False
        metrics.DEAD_LETTERS.labels(rejection.reason).inc()
        return True

    def process(self, checked: Checked, *, acknowledge: bool = True) -> bool:
        """Store, commit, acknowledge, then trigger after-commit effects; whether committed."""
        if self._abandoned:
            return False
        started = time.perf_counter()
        written = self._retrying(lambda: self._write(checked), _OUTAGES, "database")
        if written is None:
            return False
        # The batch is committed: only now may the broker forget these messages.
        if acknowledge:
            self._ack(checked.sources)
        try:
            self._on_scans(written.scans)
            self._on_committed(written)
            _count(checked, written)
        except Exception:  # acknowledged already: it must not be processed again
            log.exception("after-commit work failed")
        metrics.BATCH_SIZE.observe(len(checked.sources))
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        return True

    def _write(self, checked: Checked) -> Written:
        try:
            return self._store.write(checked.arrivals, checked.dead_letters)
        except _CONTENT_ERRORS as exc:
            log.error("batch refused by the database; writing it message by message: %s", exc)
            metrics.WRITE_FAILURES.labels("content").inc()
            return self._write_one_by_one(checked)

    def _write_one_by_one(self, checked: Checked) -> Written:
        written = Written([], [])
        kept = []
        for arrival, source in zip(checked.arrivals, checked.arrival_sources, strict=True):
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
        checked.arrival_sources = [source for _, source in kept]
        for dead in checked.dead_letters:
            try:
                self._store.write([], [dead])
            except _CONTENT_ERRORS:
                log.exception("dead letter refused by the database; dropped")
        return written

    def _retrying(
        self,
        attempt: Callable[[], T],
        outages: type[Exception] | tuple[type[Exception], ...],
        peer: str,
    ) -> T | None:
        """`attempt()` until `peer` answers; None when stopping meets an outage."""
        delay = RETRY_MIN_SECONDS
        while True:
            try:
                return attempt()
            except outages as exc:
                metrics.WRITE_FAILURES.labels(peer).inc()
                log.error("%s unavailable; batch held unacknowledged: %s", peer, exc)
                if self._stopping.is_set():
                    self._abandoned = True
                    return None
                self._stopping.wait(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)


def _count(checked: Checked, written: Written) -> None:
    stored: Counter[str] = Counter()
    duplicates = 0
    for arrival, outcome in zip(checked.arrivals, written.outcomes, strict=False):
        if outcome == "duplicate":
            duplicates += 1
        else:
            stored[type(arrival.message).__name__.lower()] += 1
    for channel, count in stored.items():
        metrics.STORED.labels(channel).inc(count)
    if duplicates:
        metrics.DUPLICATES.inc(duplicates)
    reasons = Counter(dead.reason for dead in checked.dead_letters)
    for reason, count in reasons.items():
        metrics.DEAD_LETTERS.labels(reason).inc(count)
    if checked.ignored:
        metrics.IGNORED.inc(checked.ignored)
