"""Typed FastAPI dependencies of the bookings API."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.bookings.context import Deps
from yizhan.bookings.errors import NotFound
from yizhan.bookings.rpc.stations_client import StationInfo
from yizhan.common.auth import InvalidToken, Operator, verify_token


def get_deps(request: Request) -> Deps:
    """The service's dependencies, set up by app.py."""
    deps: Deps = request.app.state.deps
    return deps


async def get_session(deps: Annotated[Deps, Depends(get_deps)]) -> AsyncIterator[AsyncSession]:
    """A database session for one request."""
    async with deps.sessions() as session:
        yield session


DepsDep = Annotated[Deps, Depends(get_deps)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]

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
    station = await deps.stations.get_station(station_id)
    if station is None or not operator.can_see_district(station.district):
        raise NotFound("station_not_found")
    return station


async def visible_station_ids(deps: Deps, operator: Operator) -> list[str] | None:
    """Ids of the stations an operator sees; None when they see the whole network."""
    if operator.sees_everything:
        return None
    stations = await deps.stations.list_stations(districts=operator.districts)
    return [station.id for station in stations]
