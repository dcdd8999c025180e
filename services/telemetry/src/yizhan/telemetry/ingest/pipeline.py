"""The ingest pipeline assembled: MQTT consumer -> bounded queue -> writer -> PostgreSQL,
acknowledgements after commit, scan answers after that."""

import asyncio
import contextlib
import logging
import queue
from collections.abc import AsyncIterator

from yizhan.api.bookings.v1 import bookings_pb2_grpc
from yizhan.api.stations.v1 import stations_pb2_grpc
from yizhan.common import rpc
from yizhan.common.db import libpq_dsn
from yizhan.telemetry.ingest import metrics
from yizhan.telemetry.ingest.checkin import CheckinResponder
from yizhan.telemetry.ingest.consumer import Consumer, Received
from yizhan.telemetry.ingest.devices import DeviceResolver
from yizhan.telemetry.ingest.store import Store
from yizhan.telemetry.ingest.writer import Writer
from yizhan.telemetry.settings import Settings

log = logging.getLogger(__name__)

# Within the 20 s a supervisor usually allows after SIGTERM: drain, commit, acknowledge.
STOP_TIMEOUT_SECONDS = 15.0


class Ingest:
    """Owns the threads and connections of ingest; start() once, stop() once."""

    def __init__(self, settings: Settings) -> None:
        token = settings.common.service_token.get_secret_value()
        self._queue: queue.Queue[Received] = queue.Queue(maxsize=settings.queue_bound)
        self._stations = rpc.sync_channel(settings.common.stations_grpc, token)
        self._bookings = rpc.sync_channel(settings.common.bookings_grpc, token)
        self._store = Store(libpq_dsn(settings.database_url))
        self.consumer = Consumer(
            settings.common,
            client_id=settings.mqtt_client_id,
            share_group=settings.mqtt_share_group,
            receive_maximum=settings.mqtt_receive_maximum,
            out=self._queue,
        )
        self._responder = CheckinResponder(
            bookings_pb2_grpc.BookingDeskStub(self._bookings),
            self.consumer.publish,
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
            ack=self.consumer.ack,
            on_scans=self._responder.submit,
            batch_size=settings.batch_size,
            flush_interval=settings.flush_interval_seconds,
        )

    def start(self) -> None:
        """Start writing, then start consuming."""
        metrics.QUEUE_DEPTH.set_function(self._queue.qsize)
        self._writer.start()
        self.consumer.start()

    def stop(self) -> None:
        """Stop consuming, write and acknowledge what is queued, answer pending scans,
        disconnect. Blocking: call it from a thread."""
        log.info("ingest stopping", extra={"queued": self._queue.qsize()})
        self.consumer.stop_accepting()
        self._writer.stop(STOP_TIMEOUT_SECONDS)
        self._responder.close()
        self.consumer.close()
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
