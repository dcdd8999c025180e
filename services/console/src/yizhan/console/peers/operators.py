"""What the console asks stations about operator accounts (gRPC OperatorAdmin): stations owns
them and applies the operators API's rules, field errors and audit; the console only shows."""

import json
from typing import TYPE_CHECKING, Any

import grpc

from yizhan.api.stations.v1 import stations_pb2
from yizhan.console.sources import SourceDown

if TYPE_CHECKING:
    from yizhan.api.stations.v1.stations_pb2_grpc import OperatorAdminAsyncStub

AdminReply = stations_pb2.AdminReply


class OperatorAccounts:
    """OperatorAdmin with one deadline for every call; a failed call raises SourceDown."""

    def __init__(self, stub: "OperatorAdminAsyncStub", deadline_seconds: float) -> None:
        self._stub = stub
        self._deadline = deadline_seconds

    async def _call(self, rpc: str, token: str, username: str = "", body: Any = None) -> AdminReply:
        request = stations_pb2.OperatorAdminRequest(
            operator_token=token,
            username=username,
            body_json="" if body is None else json.dumps(body),
        )
        try:
            reply: AdminReply = await getattr(self._stub, rpc)(request, timeout=self._deadline)
        except grpc.aio.AioRpcError as exc:
            raise SourceDown("stations", f"{exc.code().name}: {exc.details()}") from exc
        return reply

    async def list(self, token: str) -> AdminReply:
        """Every account (admins only); `result_json` as GET /api/v1/operators."""
        return await self._call("ListOperators", token)

    async def get(self, token: str, username: str) -> AdminReply:
        """One account (any for an admin, one's own for everyone)."""
        return await self._call("GetOperator", token, username)

    async def create(self, token: str, body: dict[str, Any]) -> AdminReply:
        """A new account, as POST /api/v1/operators."""
        return await self._call("CreateOperator", token, body=body)

    async def update(self, token: str, username: str, body: dict[str, Any]) -> AdminReply:
        """A change, as PATCH /api/v1/operators/{username}."""
        return await self._call("UpdateOperator", token, username, body)
