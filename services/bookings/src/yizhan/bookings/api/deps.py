"""Typed FastAPI dependencies of the bookings API."""

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer

from yizhan.bookings.audit import Stamp
from yizhan.bookings.context import Deps
from yizhan.bookings.errors import NotFound
from yizhan.bookings.peers.stations import StationInfo
from yizhan.common import scope
from yizhan.common.auth import InvalidToken, Operator, verify_token
from yizhan.common.deps import SessionDep as SessionDep  # re-exported for the routes
from yizhan.common.deps import deps_getter

get_deps = deps_getter(Deps)
DepsDep = Annotated[Deps, Depends(get_deps)]

_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def optional_operator(
    request: Request, token: Annotated[str | None, Depends(_bearer)]
) -> Operator | None:
    """The operator behind a bearer token, None without one; 401 for a bad token."""
    if token is None:
        return None
    try:
        return await verify_token(request, token)
    except InvalidToken as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="a valid operator token is required",
            headers={"WWW-Authenticate": "Bearer"},
        ) from exc


OptionalOperator = Annotated[Operator | None, Depends(optional_operator)]


async def station_in_scope(deps: Deps, operator: Operator, station_id: str) -> StationInfo:
    """The station if stations knows it and it is in the operator's districts; 404 otherwise
    (a station outside one's districts is reported as absent, as stations does)."""
    try:
        return scope.visible_station(await deps.stations.get_station(station_id), operator)
    except scope.StationHidden as exc:
        raise NotFound("station_not_found") from exc


async def acting_on(deps: Deps, operator: Operator, station_id: str) -> Stamp:
    """The audit stamp of an operator acting on a station in their scope; NotFound (404)
    for a station outside it, as station_in_scope."""
    station = await station_in_scope(deps, operator, station_id)
    return Stamp(operator.username, station.district)


async def visible_station_ids(deps: Deps, operator: Operator) -> list[str] | None:
    """Ids of the stations an operator sees; None when they see the whole network."""
    if operator.sees_everything:
        return None
    stations = await deps.stations.list_stations(districts=operator.districts)
    return [station.id for station in stations]
