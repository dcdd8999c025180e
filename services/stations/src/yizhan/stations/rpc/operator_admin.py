"""gRPC OperatorAdmin: the console's operator-account pages, on behalf of the operator whose
token comes with them. Each call runs the operators API's own handler (operator_routes), so
the console and the API share one set of rules, field errors and audit entries."""

import re
from collections.abc import Awaitable, Callable

from fastapi import HTTPException
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.api.stations.v1 import stations_pb2, stations_pb2_grpc
from yizhan.common.auth import InvalidToken, Operator, decode_token
from yizhan.common.http import Problem
from yizhan.common.rpc import ServicerContext
from yizhan.stations.api import operator_routes
from yizhan.stations.context import Deps
from yizhan.stations.operator_schemas import USERNAME_PATTERN, OperatorCreate, OperatorPatch
from yizhan.stations.operators import current_account

Reply = stations_pb2.AdminReply
Request = stations_pb2.OperatorAdminRequest
Act = Callable[[Operator, AsyncSession], Awaitable[BaseModel]]


def _error(field: str, message: str) -> stations_pb2.FieldError:
    # Named as in the JSON body ("password", "districts"), as pydantic names them.
    return stations_pb2.FieldError(field=field.removeprefix("body."), message=message)


def _reply_for(exc: HTTPException) -> stations_pb2.AdminReply:
    if isinstance(exc, Problem):
        return Reply(code=exc.code)
    if exc.status_code == 422 and isinstance(exc.detail, list):
        return Reply(code="invalid", errors=[_error(e["field"], e["message"]) for e in exc.detail])
    return Reply(code=str(exc.status_code))


class OperatorAdminServicer(stations_pb2_grpc.OperatorAdminServicer):
    """List, create, read and change operator accounts, as /api/v1/operators."""

    def __init__(self, deps: Deps, jwt_secret: str) -> None:
        self._deps = deps
        self._jwt_secret = jwt_secret

    async def _run(self, request: Request, act: Act) -> stations_pb2.AdminReply:
        try:
            claimed = decode_token(self._jwt_secret, request.operator_token)
        except InvalidToken:
            return Reply(code="unauthorized")
        if request.username and not re.fullmatch(USERNAME_PATTERN, request.username):
            return Reply(code="operator_not_found")  # as the HTTP path's pattern refuses it
        async with self._deps.sessions() as session:
            # As verify_token: the account as it is now (gone, disabled or a new password
            # since the token was issued: refused).
            operator = await current_account(session, claimed.username)
            if operator is None or operator.version != claimed.version:
                return Reply(code="unauthorized")
            try:
                result = await act(operator, session)
            except ValidationError as exc:
                errors = [
                    _error(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()
                ]
                return Reply(code="invalid", errors=errors)
            except HTTPException as exc:
                return _reply_for(exc)
        return Reply(result_json=result.model_dump_json())

    async def ListOperators(self, request: Request, context: ServicerContext) -> Reply:
        async def act(operator: Operator, session: AsyncSession) -> BaseModel:
            return await operator_routes.list_operators(operator, session)

        return await self._run(request, act)

    async def CreateOperator(self, request: Request, context: ServicerContext) -> Reply:
        async def act(operator: Operator, session: AsyncSession) -> BaseModel:
            operator_routes.admin_operator(operator)  # refused before the body, as over HTTP
            body = OperatorCreate.model_validate_json(request.body_json or "{}")
            return await operator_routes.create_operator(body, operator, session)

        return await self._run(request, act)

    async def GetOperator(self, request: Request, context: ServicerContext) -> Reply:
        async def act(operator: Operator, session: AsyncSession) -> BaseModel:
            return await operator_routes.get_operator(request.username, operator, session)

        return await self._run(request, act)

    async def UpdateOperator(self, request: Request, context: ServicerContext) -> Reply:
        async def act(operator: Operator, session: AsyncSession) -> BaseModel:
            body = OperatorPatch.model_validate_json(request.body_json or "{}")
            return await operator_routes.patch_operator(request.username, body, operator, session)

        return await self._run(request, act)
