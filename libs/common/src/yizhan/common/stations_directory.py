"""The one client of stations' StationDirectory that the other services use: one deadline,
one error (StationsUnavailable for anything but NOT_FOUND), one optional TTL cache, one
metric. Each service maps the messages to what it needs (its own small dataclasses)."""

import logging
from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import grpc
from prometheus_client import Counter

from yizhan.api.stations.v1 import stations_pb2
from yizhan.common.pbtime import from_pb, to_pb
from yizhan.common.ttl_cache import TtlCache

if TYPE_CHECKING:
    from yizhan.api.stations.v1.stations_pb2_grpc import StationDirectoryAsyncStub

log = logging.getLogger(__name__)

# A page or an API answer waits on these calls; past this, tell the caller to retry.
DEADLINE_SECONDS = 3.0

STATIONS_ERRORS = Counter(
    "yz_stations_directory_errors_total", "Calls to stations that failed", ["method"]
)

T = TypeVar("T")
Station = stations_pb2.Station
Device = stations_pb2.Device


class StationsUnavailable(Exception):
    """Stations did not answer (or refused): the caller answers 503 / UNAVAILABLE."""

    def __init__(self, method: str, code: str, details: str) -> None:
        super().__init__(f"stations {method}: {code}: {details}")
        self.method = method


class StationsDirectory:
    """Typed, cached calls to StationDirectory."""

    def __init__(
        self,
        stub: "StationDirectoryAsyncStub",
        *,
        cache_seconds: float = 0,
        deadline_seconds: float = DEADLINE_SECONDS,
    ) -> None:
        self._stub = stub
        self._cache = TtlCache(cache_seconds)
        self._deadline = deadline_seconds

    async def _call(self, method: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except grpc.aio.AioRpcError as exc:
            raise _failure(method, exc) from exc

    async def get_station(self, station_id: str) -> Station | None:
        """One station, or None when stations does not know it."""

        async def load() -> Station | None:
            request = stations_pb2.GetStationRequest(id=station_id)
            try:
                return await self._stub.GetStation(request, timeout=self._deadline)
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.NOT_FOUND:
                    return None
                raise _failure("GetStation", exc) from exc

        return await self._cache.get(("station", station_id), load)

    async def list_stations(
        self, *, ids: Sequence[str] | None = None, districts: Sequence[str] | None = None
    ) -> list[Station]:
        """Stations by ids and/or districts (None: no filter); an empty filter matches none."""
        if (ids is not None and not ids) or (districts is not None and not districts):
            return []
        request = stations_pb2.ListStationsRequest(ids=ids or [], districts=districts or [])

        async def load() -> list[Station]:
            call = self._stub.ListStations(request, timeout=self._deadline)
            return list((await self._call("ListStations", call)).stations)

        return await self._cache.get(("list", tuple(ids or ()), tuple(districts or ())), load)

    async def list_devices(self, station_ids: Sequence[str]) -> list[Device]:
        """Registered devices of these stations, by station and id."""
        if not station_ids:
            return []
        request = stations_pb2.ListDevicesRequest(station_ids=list(station_ids))

        async def load() -> list[Device]:
            call = self._stub.ListDevices(request, timeout=self._deadline)
            return list((await self._call("ListDevices", call)).devices)

        return await self._cache.get(("devices", tuple(station_ids)), load)

    async def opening_hours(
        self, station_id: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        """The intervals the station is open within [start, end) (none for an unknown one)."""
        request = stations_pb2.GetOpeningHoursRequest(station_id=station_id, to=to_pb(end))
        # `from` is a Python keyword, so the field cannot be passed to the constructor.
        getattr(request, "from").CopyFrom(to_pb(start))

        async def load() -> list[tuple[datetime, datetime]]:
            try:
                reply = await self._stub.GetOpeningHours(request, timeout=self._deadline)
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.NOT_FOUND:
                    return []
                raise _failure("GetOpeningHours", exc) from exc
            return [(from_pb(i.start), from_pb(i.end)) for i in reply.intervals]

        return await self._cache.get(("hours", station_id, start, end), load)


def _failure(method: str, exc: grpc.aio.AioRpcError) -> StationsUnavailable:
    """Count and log a failed call; the error to raise for it."""
    STATIONS_ERRORS.labels(method).inc()
    log.warning(
        "stations call failed",
        extra={"method": method, "code": exc.code().name, "details": exc.details()},
    )
    return StationsUnavailable(method, exc.code().name, exc.details() or "")
