"""CheckOperatorScope: may this operator token act on that station or district? Judged on
the account as it is now, so a peer that asks gets revocation and role changes at once."""

from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.api.stations.v1 import stations_pb2
from yizhan.common import scope
from yizhan.common.auth import InvalidToken, Operator, Role, decode_token
from yizhan.stations import repository

Response = stations_pb2.CheckOperatorScopeResponse


async def check_scope(
    session: AsyncSession, jwt_secret: str, request: stations_pb2.CheckOperatorScopeRequest
) -> Response:
    """The verdict for one request (never raises for a bad token: that is a verdict)."""
    try:
        claimed = decode_token(jwt_secret, request.token)
    except InvalidToken as exc:
        return Response(verdict=Response.UNAUTHENTICATED, reason=f"invalid token: {exc}")
    account = await repository.get_operator(session, claimed.username)
    if account is None:
        return Response(verdict=Response.UNAUTHENTICATED, reason="the account no longer exists")
    if account.disabled:
        return Response(verdict=Response.UNAUTHENTICATED, reason="the account is disabled")
    if account.version != claimed.version:
        return Response(
            verdict=Response.UNAUTHENTICATED,
            reason="the password changed since the token was issued",
        )
    operator = Operator(account.username, cast(Role, account.role), tuple(account.districts))

    def verdict(
        value: stations_pb2.CheckOperatorScopeResponse.Verdict.ValueType, reason: str = ""
    ) -> Response:
        return Response(
            verdict=value,
            username=operator.username,
            role=operator.role,
            districts=list(operator.districts),
            reason=reason,
        )

    # The rules are yizhan.common.scope's, as on every HTTP route.
    try:
        if request.write:
            scope.check_write(operator)
        if request.station_id:
            scope.visible_station(
                await repository.get_station(session, request.station_id), operator
            )
        elif request.district:
            scope.check_district(operator, request.district)
    except scope.ReadOnly:
        return verdict(Response.FORBIDDEN, "read-only operator")
    except scope.StationHidden:
        return verdict(Response.NOT_FOUND, "no such station in scope")
    except scope.DistrictForbidden:
        return verdict(Response.FORBIDDEN, "district outside the operator's scope")
    return verdict(Response.ALLOWED)
