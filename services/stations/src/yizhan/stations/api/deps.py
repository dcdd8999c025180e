"""Typed FastAPI dependencies of the stations API, and the scope rules of its routes."""

from typing import Annotated

from fastapi import Depends, HTTPException, Path, status
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.common import scope
from yizhan.common.auth import Operator
from yizhan.common.deps import SessionDep as SessionDep  # re-exported for the routes
from yizhan.common.deps import deps_getter
from yizhan.stations import repository
from yizhan.stations.context import Deps
from yizhan.stations.models import Device, Station
from yizhan.stations.schemas import ID_PATTERN

get_deps = deps_getter(Deps)
DepsDep = Annotated[Deps, Depends(get_deps)]
# Ids in paths have the shape of ids in bodies; anything else is refused before any query.
StationIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="station id")]
DeviceIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="device id")]


def visible_station(station: Station | None, operator: Operator) -> Station:
    """The station if it exists and is in the operator's scope; 404 otherwise (the rule of
    yizhan.common.scope: a station outside one's districts is reported as absent)."""
    return scope.visible_station(station, operator)


async def station_in_scope(session: AsyncSession, station_id: str, operator: Operator) -> Station:
    """The station by id, if the operator may see it; 404 otherwise."""
    return visible_station(await repository.get_station(session, station_id), operator)


async def device_of(session: AsyncSession, station: Station, device_id: str) -> Device:
    """A device of this station; 404 for an unknown id or another station's device."""
    device = await repository.get_device(session, device_id)
    if device is None or device.station_id != station.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such device at this station")
    return device
