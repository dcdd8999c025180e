"""The ingest pipeline assembled:

MQTT socket -> consumer thread -> queue -> checker thread -> queue -> writer thread -> PostgreSQL
               (read, frame)              (validate, resolve)         (COPY, commit)
broker <-- PUBACKs (consumer thread) <-- acknowledged after commit ---------'
scan answers (check-in threads) and late-usage refreshes (refresher thread) after that.
"""

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from yizhan.api.bookings.v1 import bookings_pb2_grpc
from yizhan.api.stations.v1 import stations_pb2_grpc
from yizhan.common import rpc
from yizhan.common.db import libpq_dsn
from yizhan.telemetry.ingest import metrics
from yizhan.telemetry.ingest.channel import Channel
from yizhan.telemetry.ingest.checker import Prepared, validate_safely
from yizhan.telemetry.ingest.checkin import CheckinResponder
from yizhan.telemetry.ingest.consumer import Consumer
from yizhan.telemetry.ingest.devices import DeviceResolver
from yizhan.telemetry.ingest.paho_source import PahoSource
from yizhan.telemetry.ingest.refresher import Refresher
from yizhan.telemetry.ingest.session_guard import guard_session
from yizhan.telemetry.ingest.source import Source
from yizhan.telemetry.ingest.store import Store, Written
from yizhan.telemetry.ingest.writer import Writer
from yizhan.telemetry.settings import Settings

log = logging.getLogger(__name__)

# Within the 20 s a supervisor usually allows after SIGTERM: drain, commit, acknowledge.
STOP_TIMEOUT_SECONDS = 15.0
# Ingest allocates a few short-lived, acyclic objects per message; with the cyclic garbage
# collector's default (a pass every 700 allocations, and whole-heap passes) collecting took
# a tenth of the process's time. What exists at start is frozen out of its passes, and young
# objects are collected a hundred times less often.
GC_YOUNG_THRESHOLD = 70_000


class Ingest:
    """Owns the threads and connections of ingest; start() once, stop() once."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        token = settings.common.service_token.get_secret_value()
        tls = settings.common.grpc_tls()
        dsn = libpq_dsn(settings.database_url)
        self._queue: Channel[Prepared] = Channel(settings.queue_bound)
        self._stations = rpc.sync_channel(settings.common.stations_grpc, token, tls)
        self._bookings = rpc.sync_channel(settings.common.bookings_grpc, token, tls)
        self._store = Store(dsn)
        self._refresher = Refresher(dsn, settings.rollup_refresh_seconds)
        source_class = PahoSource if settings.mqtt_source == "paho" else Consumer
        self.source: Source = source_class(
            settings.common,
            client_id=settings.mqtt_client_id,
            share_group=settings.mqtt_share_group,
            receive_maximum=settings.mqtt_receive_maximum,
            out=self._queue,
            prepare=validate_safely,
        )
        self._responder = CheckinResponder(
            bookings_pb2_grpc.BookingDeskStub(self._bookings),
            self.source.publish,
            workers=settings.checkin_workers,
            timeout_seconds=settings.checkin_timeout_seconds,
        )
        resolver = DeviceResolver(
            stations_pb2_grpc.StationDirectoryStub(self._stations),
            ttl_seconds=settings.device_cache_seconds,
            unknown_ttl_seconds=settings.unknown_device_cache_seconds,
        )
        self._writer = Writer(
            self._queue,
            self._store,
            resolver,
            ack=self.source.ack,
            on_scans=self._responder.submit,
            on_committed=self._committed,
            batch_size=settings.batch_size,
        )

    def _committed(self, written: Written) -> None:
        self._refresher.note(written.usage_range)

    def start(self) -> None:
        """Check that no other account can take our session, start writing, then consuming."""
        guard_session(self._settings)
        gc.freeze()
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)
        metrics.QUEUE_DEPTH.set_function(self._queue.qsize)
        self._refresher.start()
        self._writer.start()
        self.source.start()

    def stop(self) -> None:
        """Stop consuming, write and acknowledge what is queued, answer pending scans,
        disconnect. Blocking: call it from a thread."""
        log.info("ingest stopping", extra={"queued": self._queue.qsize()})
        self.source.stop_accepting()
        self._writer.stop(STOP_TIMEOUT_SECONDS)
        self._responder.close()
        self._refresher.stop(STOP_TIMEOUT_SECONDS / 3)
        self.source.close()
        self._store.close()
        self._stations.close()
        self._bookings.close()
        log.info("ingest stopped", extra={"left_unacknowledged": self._queue.qsize()})


@contextlib.asynccontextmanager
async def running(ingest: Ingest) -> AsyncIterator[None]:
    """Ingest as a component of the service's runtime."""
    ingest.start()
    try:
        yield
    finally:
        await asyncio.to_thread(ingest.stop)
