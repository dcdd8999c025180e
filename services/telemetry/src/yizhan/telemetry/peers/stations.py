"""What the query side asks of stations (gRPC StationDirectory): stations and districts,
through the shared directory client (libs/common)."""

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from yizhan.common.stations_directory import StationsDirectory, StationsUnavailable
from yizhan.telemetry.scope import Scope

if TYPE_CHECKING:
    from yizhan.api.stations.v1.stations_pb2_grpc import StationDirectoryAsyncStub

# The operator API waits on these calls (a district scope, a station's zone).
DEADLINE_SECONDS = 2.0

T = TypeVar("T")


class StationsUnreachable(Exception):
    """Stations did not answer; the caller reports 503 / UNAVAILABLE."""


@dataclass(frozen=True)
class StationRef:
    """A station as telemetry needs it: to check scope and time zone, and to name it in
    alarm notifications."""

    id: str
    district: str
    timezone: str
    name_zh: str = ""
    name_en: str = ""


class StationsClient:
    """The stations a question of the telemetry API covers."""

    def __init__(self, stub: "StationDirectoryAsyncStub") -> None:
        self._directory = StationsDirectory(stub, deadline_seconds=DEADLINE_SECONDS)

    async def _ask(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except StationsUnavailable as exc:
            raise StationsUnreachable(str(exc)) from exc

    async def get_station(self, station_id: str) -> StationRef | None:
        """The station, or None when stations does not know it."""
        found = await self._ask(self._directory.get_station(station_id))
        if found is None:
            return None
        return StationRef(found.id, found.district, found.timezone, found.name_zh, found.name_en)

    async def station_ids(self, districts: Sequence[str]) -> list[str]:
        """Ids of the stations of these districts (at least one district)."""
        if not districts:
            raise ValueError("no districts: ListStations would answer every station")
        found = await self._ask(self._directory.list_stations(districts=districts))
        return [station.id for station in found]

    async def scope_station_ids(self, scope: Scope) -> list[str] | None:
        """The stations a scope covers; None for the whole network."""
        if scope.kind == "network":
            return None
        if scope.kind == "district":
            return await self.station_ids([scope.name])
        return [scope.name]
