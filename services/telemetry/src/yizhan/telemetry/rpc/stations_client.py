"""What the query side asks of stations (gRPC StationDirectory): stations and districts."""

from collections.abc import Sequence
from dataclasses import dataclass

import grpc

from yizhan.api.stations.v1 import stations_pb2, stations_pb2_grpc
from yizhan.telemetry.scope import Scope

DEADLINE_SECONDS = 2.0


class StationsUnreachable(Exception):
    """Stations did not answer; the caller reports 503 / UNAVAILABLE."""


@dataclass(frozen=True)
class StationRef:
    """A station as telemetry needs it: to check scope and time zone."""

    id: str
    district: str
    timezone: str


class StationsClient:
    """A thin async client of StationDirectory."""

    def __init__(self, stub: "stations_pb2_grpc.StationDirectoryAsyncStub") -> None:
        # Quoted: the async stub type exists only in the generated .pyi.
        self._stub = stub

    async def get_station(self, station_id: str) -> StationRef | None:
        """The station, or None when stations does not know it."""
        try:
            reply = await self._stub.GetStation(
                stations_pb2.GetStationRequest(id=station_id), timeout=DEADLINE_SECONDS
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise StationsUnreachable(exc.details() or str(exc.code())) from exc
        return StationRef(reply.id, reply.district, reply.timezone)

    async def station_ids(self, districts: Sequence[str]) -> list[str]:
        """Ids of the stations of these districts (at least one district)."""
        if not districts:
            raise ValueError("no districts: ListStations would answer every station")
        try:
            reply = await self._stub.ListStations(
                stations_pb2.ListStationsRequest(districts=list(districts)),
                timeout=DEADLINE_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            raise StationsUnreachable(exc.details() or str(exc.code())) from exc
        return [station.id for station in reply.stations]

    async def scope_station_ids(self, scope: Scope) -> list[str] | None:
        """The stations a scope covers; None for the whole network."""
        if scope.kind == "network":
            return None
        if scope.kind == "district":
            return await self.station_ids([scope.name])
        return [scope.name]
