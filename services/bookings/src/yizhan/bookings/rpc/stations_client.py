"""The stations service as bookings uses it: station facts, scope and opening hours."""

import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

import grpc

from yizhan.api.stations.v1 import stations_pb2, stations_pb2_grpc
from yizhan.bookings.errors import PeerUnavailable
from yizhan.bookings.metrics import PEER_ERRORS
from yizhan.bookings.slots import Interval
from yizhan.common.pbtime import from_pb, to_pb

log = logging.getLogger(__name__)

# A booking page waits on these calls; past this, tell the worker to retry instead.
CALL_TIMEOUT_SECONDS = 3.0
# Bounds the cache's memory; past this many entries it starts afresh.
CACHE_MAX_ENTRIES = 20_000

T = TypeVar("T")


class _TtlCache:
    """Answers of stations kept for a few seconds: a slot listing and the booking that follows
    ask the same questions, and under a rush hundreds of bookings ask them at once."""

    def __init__(self, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._entries: dict[Hashable, tuple[float, Any]] = {}

    async def get(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        if self._ttl <= 0:
            return await load()
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and now - hit[0] < self._ttl:
            return cast(T, hit[1])
        value = await load()
        if len(self._entries) >= CACHE_MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (now, value)
        return value


@dataclass(frozen=True)
class StationInfo:
    """What bookings needs to know about a station."""

    id: str
    name_zh: str
    name_en: str
    district: str
    timezone: str
    status: str

    @property
    def takes_bookings(self) -> bool:
        """Suspended and closed stations take no new bookings."""
        return self.status == "active"


def _station(message: stations_pb2.Station) -> StationInfo:
    return StationInfo(
        id=message.id,
        name_zh=message.name_zh,
        name_en=message.name_en,
        district=message.district,
        timezone=message.timezone or "Asia/Shanghai",
        status=message.status or "active",
    )


class StationsClient:
    """Typed calls to StationDirectory; failures other than NOT_FOUND become PeerUnavailable."""

    def __init__(
        self, stub: "stations_pb2_grpc.StationDirectoryAsyncStub", cache_seconds: float = 0
    ) -> None:
        self._stub = stub
        self._cache = _TtlCache(cache_seconds)

    async def get_station(self, station_id: str) -> StationInfo | None:
        """One station, or None when stations does not know it."""
        return await self._cache.get(("station", station_id), lambda: self._get(station_id))

    async def _get(self, station_id: str) -> StationInfo | None:
        try:
            reply = await self._stub.GetStation(
                stations_pb2.GetStationRequest(id=station_id), timeout=CALL_TIMEOUT_SECONDS
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise stations_unavailable("GetStation", exc) from exc
        return _station(reply)

    async def list_stations(
        self, *, ids: Sequence[str] | None = None, districts: Sequence[str] | None = None
    ) -> list[StationInfo]:
        """Stations by ids and/or districts; an empty (not None) filter matches nothing."""
        if (ids is not None and not ids) or (districts is not None and not districts):
            return []
        key = ("list", tuple(ids or ()), tuple(districts or ()))
        return await self._cache.get(key, lambda: self._list(ids, districts))

    async def _list(
        self, ids: Sequence[str] | None, districts: Sequence[str] | None
    ) -> list[StationInfo]:
        request = stations_pb2.ListStationsRequest(ids=ids or [], districts=districts or [])
        try:
            reply = await self._stub.ListStations(request, timeout=CALL_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as exc:
            raise stations_unavailable("ListStations", exc) from exc
        return [_station(message) for message in reply.stations]

    async def opening_hours(
        self, station_id: str, start: datetime, end: datetime
    ) -> list[Interval]:
        """The intervals the station is open within [start, end)."""
        key = ("hours", station_id, start, end)
        return await self._cache.get(key, lambda: self._hours(station_id, start, end))

    async def _hours(self, station_id: str, start: datetime, end: datetime) -> list[Interval]:
        request = stations_pb2.GetOpeningHoursRequest(station_id=station_id, to=to_pb(end))
        # `from` is a Python keyword, so the field cannot be passed to the constructor.
        getattr(request, "from").CopyFrom(to_pb(start))
        try:
            reply = await self._stub.GetOpeningHours(request, timeout=CALL_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return []
            raise stations_unavailable("GetOpeningHours", exc) from exc
        return [Interval(from_pb(i.start), from_pb(i.end)) for i in reply.intervals]


def stations_unavailable(method: str, exc: grpc.aio.AioRpcError) -> PeerUnavailable:
    """The error (503) for a failed call to stations, counted and logged."""
    PEER_ERRORS.labels("stations").inc()
    log.warning(
        "stations call failed",
        extra={"method": method, "code": exc.code().name, "details": exc.details()},
    )
    return PeerUnavailable("stations_unavailable")
