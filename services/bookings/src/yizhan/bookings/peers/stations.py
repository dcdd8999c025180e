"""The stations service as bookings uses it: station facts, scope and opening hours, through
the shared directory client (libs/common), as bookings' own small types and errors."""

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from yizhan.api.stations.v1 import stations_pb2
from yizhan.bookings.errors import PeerUnavailable
from yizhan.bookings.metrics import PEER_ERRORS
from yizhan.bookings.slots import Interval
from yizhan.common.stations_directory import StationsDirectory, StationsUnavailable

if TYPE_CHECKING:
    from yizhan.api.stations.v1.stations_pb2_grpc import StationDirectoryAsyncStub

T = TypeVar("T")


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


def stations_unavailable(exc: Exception) -> PeerUnavailable:
    """The error (503, `stations_unavailable`) for a call to stations that got no answer."""
    PEER_ERRORS.labels("stations").inc()
    return PeerUnavailable("stations_unavailable")


class StationsClient:
    """Typed calls to StationDirectory; failures other than NOT_FOUND become PeerUnavailable."""

    def __init__(self, stub: "StationDirectoryAsyncStub", cache_seconds: float = 0) -> None:
        self._directory = StationsDirectory(stub, cache_seconds=cache_seconds)

    async def _ask(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except StationsUnavailable as exc:
            raise stations_unavailable(exc) from exc

    async def get_station(self, station_id: str) -> StationInfo | None:
        """One station, or None when stations does not know it."""
        found = await self._ask(self._directory.get_station(station_id))
        return None if found is None else _station(found)

    async def list_stations(
        self, *, ids: Sequence[str] | None = None, districts: Sequence[str] | None = None
    ) -> list[StationInfo]:
        """Stations by ids and/or districts; an empty (not None) filter matches nothing."""
        found = await self._ask(self._directory.list_stations(ids=ids, districts=districts))
        return [_station(message) for message in found]

    async def opening_hours(
        self, station_id: str, start: datetime, end: datetime
    ) -> list[Interval]:
        """The intervals the station is open within [start, end)."""
        found = await self._ask(self._directory.opening_hours(station_id, start, end))
        return [Interval(a, b) for a, b in found]
