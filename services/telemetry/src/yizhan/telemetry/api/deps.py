"""Typed FastAPI dependencies of the telemetry API, and the operator-scope rules."""

from typing import Annotated

from fastapi import Depends, HTTPException, status

from yizhan.common.auth import Operator
from yizhan.common.deps import SessionDep as SessionDep  # re-exported for the routes
from yizhan.common.deps import deps_getter
from yizhan.telemetry.context import Deps
from yizhan.telemetry.rpc.stations_client import StationRef, StationsClient
from yizhan.telemetry.scope import Scope

get_deps = deps_getter(Deps)
DepsDep = Annotated[Deps, Depends(get_deps)]


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
