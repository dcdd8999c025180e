"""gRPC StationAdmin: the console's station and device reads and changes, on behalf of the
operator whose token comes with them. Each call runs the HTTP API's own handler (the same scope
checks, validation, audit and broker push), so the console and the API cannot drift."""

from collections.abc import Awaitable, Callable

from fastapi import HTTPException
from pydantic import BaseModel, ValidationError

from yizhan.api.stations.v1 import stations_pb2, stations_pb2_grpc
from yizhan.common import scope
from yizhan.common.auth import InvalidToken, Operator, decode_token
from yizhan.common.http import Problem
from yizhan.common.rpc import ServicerContext
from yizhan.stations import imports
from yizhan.stations.api import device_routes, import_routes, station_routes
from yizhan.stations.context import Deps
from yizhan.stations.operators import current_account
from yizhan.stations.schemas import DeviceCreate, StationCreate, StationPatch

Reply = stations_pb2.AdminReply
# HTTP statuses the handlers raise without a code of their own.
_CODES = {401: "unauthorized", 404: "station_not_found", 409: "conflict"}


def _field_errors(exc: ValidationError) -> list[stations_pb2.FieldError]:
    return [
        stations_pb2.FieldError(
            field=".".join(str(part) for part in error["loc"]),
            message=error["msg"],
            code=error["type"],
        )
        for error in exc.errors()
    ]


class _NoBody(BaseModel):
    """The body of a call that takes none."""


class StationAdminServicer(stations_pb2_grpc.StationAdminServicer):
    """The HTTP API's station, device and import handlers, called for the console."""

    def __init__(self, deps: Deps, jwt_secret: str) -> None:
        self._deps = deps
        self._jwt_secret = jwt_secret

    async def _run(
        self,
        request: stations_pb2.AdminRequest,
        schema: type[BaseModel],
        act: Callable[[Operator, BaseModel], Awaitable[BaseModel]],
        write: bool = True,
    ) -> stations_pb2.AdminReply:
        try:
            claimed = decode_token(self._jwt_secret, request.operator_token)
        except InvalidToken:
            return Reply(code="unauthorized")
        # As the HTTP API (verify_token): the account as it is now, refused once it is gone
        # or its password changed since the token was issued.
        async with self._deps.sessions() as session:
            current = await current_account(session, claimed.username)
        if current is None or current.version != claimed.version:
            return Reply(code="unauthorized")
        operator = current
        try:
            if write:
                scope.check_write(operator)
            body = schema.model_validate_json(request.body_json or "{}")
            result = await act(operator, body)
        except ValidationError as exc:
            return Reply(code="invalid", errors=_field_errors(exc))
        except Problem as exc:
            return Reply(code=exc.code)
        except HTTPException as exc:
            return Reply(code=_CODES.get(exc.status_code, str(exc.status_code)))
        return Reply(result_json=result.model_dump_json())

    async def CreateStation(
        self, request: stations_pb2.AdminRequest, context: ServicerContext
    ) -> stations_pb2.AdminReply:
        async def create(operator: Operator, body: BaseModel) -> BaseModel:
            assert isinstance(body, StationCreate)
            async with self._deps.sessions() as session:
                return await station_routes.create_station(body, operator, session)

        return await self._run(request, StationCreate, create)

    async def ProvisionDevice(
        self, request: stations_pb2.AdminRequest, context: ServicerContext
    ) -> stations_pb2.AdminReply:
        async def provision(operator: Operator, body: BaseModel) -> BaseModel:
            assert isinstance(body, DeviceCreate)
            async with self._deps.sessions() as session:
                return await device_routes.provision_device(
                    request.station_id, body, operator, self._deps, session
                )

        return await self._run(request, DeviceCreate, provision)

    async def ReadStation(
        self, request: stations_pb2.AdminRequest, context: ServicerContext
    ) -> stations_pb2.AdminReply:
        async def read(operator: Operator, body: BaseModel) -> BaseModel:
            async with self._deps.sessions() as session:
                return await station_routes.get_station(request.station_id, operator, session)

        return await self._run(request, _NoBody, read, write=False)

    async def UpdateStation(
        self, request: stations_pb2.AdminRequest, context: ServicerContext
    ) -> stations_pb2.AdminReply:
        async def update(operator: Operator, body: BaseModel) -> BaseModel:
            assert isinstance(body, StationPatch)
            async with self._deps.sessions() as session:
                return await station_routes.patch_station(
                    request.station_id, body, operator, session
                )

        return await self._run(request, StationPatch, update)

    async def RotateDevice(
        self, request: stations_pb2.AdminRequest, context: ServicerContext
    ) -> stations_pb2.AdminReply:
        async def rotate(operator: Operator, body: BaseModel) -> BaseModel:
            async with self._deps.sessions() as session:
                return await device_routes.rotate_credentials(
                    request.station_id, request.device_id, operator, self._deps, session
                )

        return await self._run(request, _NoBody, rotate)

    async def RevokeDevice(
        self, request: stations_pb2.AdminRequest, context: ServicerContext
    ) -> stations_pb2.AdminReply:
        async def revoke(operator: Operator, body: BaseModel) -> BaseModel:
            async with self._deps.sessions() as session:
                return await device_routes.revoke_device(
                    request.station_id, request.device_id, operator, self._deps, session
                )

        return await self._run(request, _NoBody, revoke)

    async def ImportRegistry(
        self, request: stations_pb2.AdminRequest, context: ServicerContext
    ) -> stations_pb2.AdminReply:
        async def run_import(operator: Operator, body: BaseModel) -> BaseModel:
            assert isinstance(body, imports.ImportBody)
            async with self._deps.sessions() as session:
                return await import_routes.import_registry(body, operator, self._deps, session)

        return await self._run(request, imports.ImportBody, run_import)
