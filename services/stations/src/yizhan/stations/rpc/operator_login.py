"""gRPC OperatorLogin: the console signs operators in through stations, which owns them."""

from yizhan.api.stations.v1 import stations_pb2, stations_pb2_grpc
from yizhan.common.rpc import ServicerContext
from yizhan.stations.context import Deps
from yizhan.stations.sign_in import TooManyAttempts, WrongPassword, sign_in

Response = stations_pb2.LoginResponse


class OperatorLoginServicer(stations_pb2_grpc.OperatorLoginServicer):
    """The same rule as POST /api/v1/auth/token (login limits, then password)."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    async def Login(
        self, request: stations_pb2.LoginRequest, context: ServicerContext
    ) -> stations_pb2.LoginResponse:
        # The console passes its client's address: the per-client limits count the person,
        # not the console.
        client = request.client_address or "console"
        async with self._deps.sessions() as session:
            outcome = await sign_in(self._deps, session, request.username, request.password, client)
        if isinstance(outcome, TooManyAttempts):
            return Response(
                verdict=Response.TOO_MANY_ATTEMPTS,
                retry_after_seconds=outcome.retry_after_seconds,
            )
        if isinstance(outcome, WrongPassword):
            return Response(verdict=Response.WRONG_PASSWORD)
        ttl = int(self._deps.token_ttl.total_seconds())
        return Response(verdict=Response.OK, token=outcome, expires_in_seconds=ttl)
