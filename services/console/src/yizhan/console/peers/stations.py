"""What the console asks stations: which stations and devices exist (the shared directory
client of libs/common), and operator logins. Stations owns them; the console keeps nothing."""

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import grpc

from yizhan.api.stations.v1 import stations_pb2
from yizhan.common.stations_directory import StationsDirectory as Directory
from yizhan.common.stations_directory import StationsUnavailable
from yizhan.console.sources import SourceDown

if TYPE_CHECKING:
    from yizhan.api.stations.v1.stations_pb2_grpc import (
        OperatorLoginAsyncStub,
        StationAdminAsyncStub,
        StationDirectoryAsyncStub,
    )

T = TypeVar("T")
# An import of hundreds of devices hashes each password (argon2) before answering.
IMPORT_DEADLINE_SECONDS = 120.0
Station = stations_pb2.Station
Device = stations_pb2.Device
Login = stations_pb2.LoginResponse
AdminReply = stations_pb2.AdminReply
FieldError = stations_pb2.FieldError


class StationsDirectory:
    """The stations service's directory and login, with one deadline for every call; a
    failed call raises SourceDown, as the console's other sources do."""

    def __init__(
        self,
        directory: "StationDirectoryAsyncStub",
        login: "OperatorLoginAsyncStub",
        admin: "StationAdminAsyncStub",
        deadline_seconds: float,
    ) -> None:
        self._directory = Directory(directory, deadline_seconds=deadline_seconds)
        self._login = login
        self._admin_stub = admin
        self._deadline = deadline_seconds

    async def _ask(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except StationsUnavailable as exc:
            raise SourceDown("stations", str(exc)) from exc

    async def list_stations(self, districts: Sequence[str] | None = None) -> list[Station]:
        """Stations of these districts (None: all), by id."""
        found = await self._ask(self._directory.list_stations(districts=districts))
        return sorted(found, key=lambda s: s.id)

    async def districts(self) -> list[str]:
        """Every district that has a station, sorted."""
        return sorted({s.district for s in await self.list_stations()})

    async def get_station(self, station_id: str) -> Station | None:
        """One station, or None when there is none by that id."""
        return await self._ask(self._directory.get_station(station_id))

    async def devices_of(self, station_ids: Sequence[str]) -> list[Device]:
        """Registered devices of these stations, by station and id."""
        return await self._ask(self._directory.list_devices(station_ids))

    async def login(self, username: str, password: str, client_address: str) -> Login:
        """Stations' verdict on a sign-in from this client, with the operator's token when it
        succeeds."""
        request = stations_pb2.LoginRequest(
            username=username, password=password, client_address=client_address
        )
        try:
            return await self._login.Login(request, timeout=self._deadline)
        except grpc.aio.AioRpcError as exc:
            raise SourceDown("stations", f"{exc.code().name}: {exc.details()}") from exc

    async def _admin(
        self,
        call: Callable[..., Awaitable[AdminReply]],
        deadline: float | None = None,
        **fields: str,
    ) -> AdminReply:
        """One StationAdmin call on the operator's behalf; SourceDown when it fails."""
        try:
            return await call(
                stations_pb2.AdminRequest(**fields), timeout=deadline or self._deadline
            )
        except grpc.aio.AioRpcError as exc:
            raise SourceDown("stations", f"{exc.code().name}: {exc.details()}") from exc

    async def create_station(self, token: str, body_json: str) -> AdminReply:
        """Stations creates the station on the operator's behalf (checks, audit, errors)."""
        return await self._admin(
            self._admin_stub.CreateStation, operator_token=token, body_json=body_json
        )

    async def provision_device(self, token: str, station_id: str, body_json: str) -> AdminReply:
        """Stations provisions the device; the reply carries its password this once."""
        return await self._admin(
            self._admin_stub.ProvisionDevice,
            operator_token=token,
            station_id=station_id,
            body_json=body_json,
        )

    async def read_station(self, token: str, station_id: str) -> AdminReply:
        """The whole station as the API shows it (hours, exceptions), if in scope."""
        return await self._admin(
            self._admin_stub.ReadStation, operator_token=token, station_id=station_id
        )

    async def update_station(self, token: str, station_id: str, body_json: str) -> AdminReply:
        """Stations changes the station (a PATCH body) on the operator's behalf."""
        return await self._admin(
            self._admin_stub.UpdateStation,
            operator_token=token,
            station_id=station_id,
            body_json=body_json,
        )

    async def rotate_device(self, token: str, station_id: str, device_id: str) -> AdminReply:
        """New credentials for the device; the reply carries the password this once."""
        return await self._admin(
            self._admin_stub.RotateDevice,
            operator_token=token,
            station_id=station_id,
            device_id=device_id,
        )

    async def revoke_device(self, token: str, station_id: str, device_id: str) -> AdminReply:
        """Revoke the device for good (the broker drops and refuses it)."""
        return await self._admin(
            self._admin_stub.RevokeDevice,
            operator_token=token,
            station_id=station_id,
            device_id=device_id,
        )

    async def import_registry(self, token: str, body_json: str) -> AdminReply:
        """Check (dry run) or write a bulk import; hashing many passwords takes a while."""
        return await self._admin(
            self._admin_stub.ImportRegistry,
            deadline=IMPORT_DEADLINE_SECONDS,
            operator_token=token,
            body_json=body_json,
        )
