"""Typed FastAPI dependencies of the telemetry API, and the operator-scope rules."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.common.auth import Operator
from yizhan.telemetry.context import Deps
from yizhan.telemetry.rpc.stations_client import StationRef, StationsClient
from yizhan.telemetry.scope import Scope


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


async def visible_station(
    stations: StationsClient, station_id: str, operator: Operator
) -> StationRef:
    """The station if it exists and is in the operator's scope; 404 otherwise (a station
    outside one's districts is reported as absent, so ids do not leak)."""
    station = await stations.get_station(station_id)
    if station is None or not operator.can_see_district(station.district):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such station")
    return station


async def authorized_stations(
    stations: StationsClient, scope: Scope, operator: Operator
) -> list[str] | None:
    """The station ids of a scope the operator may see (None: the whole network);
    403 for a network or district outside the operator's scope, 404 for such a station."""
    if scope.kind == "network":
        if not operator.sees_everything:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, detail="network figures are not in your scope"
            )
        return None
    if scope.kind == "district":
        if not operator.can_see_district(scope.name):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="district outside your scope")
        return await stations.station_ids([scope.name])
    station = await visible_station(stations, scope.name, operator)
    return [station.id]


async def operator_station_ids(stations: StationsClient, operator: Operator) -> list[str] | None:
    """Every station the operator may see; None when that is all of them."""
    if operator.sees_everything:
        return None
    if not operator.districts:
        return []
    return await stations.station_ids(operator.districts)
