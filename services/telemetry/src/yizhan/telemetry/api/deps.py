"""Typed FastAPI dependencies of the telemetry API; scope rules are yizhan.common.scope's."""

from typing import Annotated

from fastapi import Depends

from yizhan.common import scope
from yizhan.common.auth import CurrentOperator, Operator
from yizhan.common.deps import SessionDep as SessionDep  # re-exported for the routes
from yizhan.common.deps import deps_getter
from yizhan.telemetry.context import Deps
from yizhan.telemetry.peers.stations import StationRef, StationsClient
from yizhan.telemetry.scope import Scope

get_deps = deps_getter(Deps)
DepsDep = Annotated[Deps, Depends(get_deps)]


def writing_operator(operator: CurrentOperator) -> Operator:
    """An operator who may change things (403 `read_only` otherwise), judged as a dependency
    so that a viewer is refused before the request body is."""
    scope.check_write(operator)
    return operator


WriterDep = Annotated[Operator, Depends(writing_operator)]


async def visible_station(
    stations: StationsClient, station_id: str, operator: Operator
) -> StationRef:
    """The station if it exists and is in the operator's scope; 404 otherwise (a station
    outside one's districts is reported as absent, so ids do not leak)."""
    return scope.visible_station(await stations.get_station(station_id), operator)


async def authorized_stations(
    stations: StationsClient, usage_scope: Scope, operator: Operator
) -> list[str] | None:
    """The station ids of a scope the operator may see (None: the whole network);
    403 for a network or district outside the operator's scope, 404 for such a station."""
    if usage_scope.kind == "network":
        scope.check_network(operator)
        return None
    if usage_scope.kind == "district":
        scope.check_district(operator, usage_scope.name)
        return await stations.station_ids([usage_scope.name])
    station = await visible_station(stations, usage_scope.name, operator)
    return [station.id]


async def operator_station_ids(stations: StationsClient, operator: Operator) -> list[str] | None:
    """Every station the operator may see; None when that is all of them."""
    if operator.sees_everything:
        return None
    if not operator.districts:
        return []
    return await stations.station_ids(operator.districts)
