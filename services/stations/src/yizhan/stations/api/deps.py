"""Typed FastAPI dependencies of the stations API."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.common.auth import Operator
from yizhan.stations.context import Deps
from yizhan.stations.models import Station


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


def visible_station(station: Station | None, operator: Operator) -> Station:
    """The station if it exists and is in the operator's scope; 404 otherwise (a station
    outside one's districts is reported as absent, so ids do not leak)."""
    if station is None or not operator.can_see_district(station.district):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such station")
    return station
