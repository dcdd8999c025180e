"""Stations: list, create, read, change (operator API, CONTRACT §3)."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy.exc import IntegrityError

from yizhan.common.auth import CurrentOperator, WritingOperator
from yizhan.stations import repository
from yizhan.stations.api.deps import SessionDep, visible_station
from yizhan.stations.models import Station
from yizhan.stations.schemas import (
    LocalizedName,
    Page,
    StationCreate,
    StationOut,
    StationPatch,
    StationStatus,
)

router = APIRouter(prefix="/api/v1/stations", tags=["stations"])
DEFAULT_PAGE_SIZE = 100


def station_out(station: Station) -> StationOut:
    """The API view of a station."""
    return StationOut(
        id=station.id,
        name=LocalizedName(zh=station.name_zh, en=station.name_en),
        district=station.district,
        address=station.address,
        latitude=station.latitude,
        longitude=station.longitude,
        host_type=station.host_type,
        timezone=station.timezone,
        status=station.status,
        opening_hours=station.opening_hours,
        amenities=list(station.amenities),
        contact=station.contact,
        created_at=station.created_at,
        updated_at=station.updated_at,
    )


@router.get("", response_model=Page)
async def list_stations(
    operator: CurrentOperator,
    session: SessionDep,
    district: str | None = None,
    station_status: Annotated[StationStatus | None, Query(alias="status")] = None,
    q: Annotated[str | None, Query(max_length=100, description="text in either name")] = None,
    after: Annotated[str | None, Query(description="the `next` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=repository.MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> Page:
    """Stations in the operator's scope, filtered and paged by id."""
    districts: list[str] | None = None if operator.sees_everything else list(operator.districts)
    if district is not None:
        districts = [district] if operator.can_see_district(district) else []
    stations = await repository.list_stations(
        session,
        districts=districts,
        status=station_status,
        text=q,
        after=after,
        limit=limit + 1,
    )
    more = len(stations) > limit
    stations = stations[:limit]
    return Page(
        items=[station_out(s) for s in stations],
        next=stations[-1].id if more and stations else None,
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=StationOut)
async def create_station(
    body: StationCreate, operator: WritingOperator, session: SessionDep
) -> StationOut:
    """Register a station."""
    if not operator.can_see_district(body.district):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="district outside your scope")
    station = Station(
        id=body.id,
        name_zh=body.name.zh,
        name_en=body.name.en,
        district=body.district,
        address=body.address,
        latitude=body.latitude,
        longitude=body.longitude,
        host_type=body.host_type,
        timezone=body.timezone,
        status=body.status,
        opening_hours=body.opening_hours,
        amenities=body.amenities,
        contact=body.contact,
    )
    session.add(station)
    try:
        await session.commit()
    except IntegrityError as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="a station with this id exists"
        ) from exc
    await session.refresh(station)
    return station_out(station)


@router.get("/{station_id}", response_model=StationOut)
async def get_station(
    station_id: str, operator: CurrentOperator, session: SessionDep
) -> StationOut:
    """One station."""
    station = visible_station(await repository.get_station(session, station_id), operator)
    return station_out(station)


@router.patch("/{station_id}", response_model=StationOut)
async def patch_station(
    station_id: str, body: StationPatch, operator: WritingOperator, session: SessionDep
) -> StationOut:
    """Change some fields of a station (`opening_hours: null` means always open)."""
    station = visible_station(await repository.get_station(session, station_id), operator)
    changes = body.model_dump(exclude_unset=True)
    if "district" in changes and not operator.can_see_district(changes["district"]):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="district outside your scope")
    name = changes.pop("name", None)
    if name is not None:
        station.name_zh, station.name_en = name["zh"], name["en"]
    for field, value in changes.items():
        setattr(station, field, value)
    await session.commit()
    await session.refresh(station)
    return station_out(station)
