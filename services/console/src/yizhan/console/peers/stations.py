"""What the console asks stations: which stations and devices exist, and operator logins.
Stations owns them; the console keeps nothing (each page asks again)."""

from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, TypeVar

import grpc

from yizhan.api.stations.v1 import stations_pb2
from yizhan.console.sources import SourceDown

if TYPE_CHECKING:
    from yizhan.api.stations.v1.stations_pb2_grpc import (
        OperatorLoginAsyncStub,
        StationDirectoryAsyncStub,
    )

T = TypeVar("T")
Station = stations_pb2.Station
Device = stations_pb2.Device
Login = stations_pb2.LoginResponse


class StationsDirectory:
    """The stations service's directory and login, with one deadline for every call."""

    def __init__(
        self,
        directory: "StationDirectoryAsyncStub",
        login: "OperatorLoginAsyncStub",
        deadline_seconds: float,
    ) -> None:
        self._directory = directory
        self._login = login
        self._deadline = deadline_seconds

    async def _call(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except grpc.aio.AioRpcError as exc:
            raise SourceDown("stations", f"{exc.code().name}: {exc.details()}") from exc

    async def list_stations(self, districts: Sequence[str] | None = None) -> list[Station]:
        """Stations of these districts (None: all), by id."""
        if districts is not None and not districts:
            return []
        request = stations_pb2.ListStationsRequest(districts=list(districts or []))
        reply = await self._call(self._directory.ListStations(request, timeout=self._deadline))
        return sorted(reply.stations, key=lambda s: s.id)

    async def districts(self) -> list[str]:
        """Every district that has a station, sorted."""
        return sorted({s.district for s in await self.list_stations()})

    async def get_station(self, station_id: str) -> Station | None:
        """One station, or None when there is none by that id."""
        request = stations_pb2.GetStationRequest(id=station_id)
        try:
            return await self._directory.GetStation(request, timeout=self._deadline)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise SourceDown("stations", f"{exc.code().name}: {exc.details()}") from exc

    async def devices_of(self, station_ids: Sequence[str]) -> list[Device]:
        """Registered devices of these stations, by station and id."""
        if not station_ids:
            return []
        request = stations_pb2.ListDevicesRequest(station_ids=list(station_ids))
        reply = await self._call(self._directory.ListDevices(request, timeout=self._deadline))
        return list(reply.devices)

    async def login(self, username: str, password: str) -> Login:
        """Stations' verdict on a sign-in, with the operator's token when it succeeds."""
        request = stations_pb2.LoginRequest(username=username, password=password)
        return await self._call(self._login.Login(request, timeout=self._deadline))
