"""Stations: list, create, read, change (operator API, CONTRACT §3); changes are audited."""

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy.exc import IntegrityError

from yizhan.common import scope
from yizhan.common.auth import CurrentOperator, WritingOperator
from yizhan.stations import audit, repository
from yizhan.stations.api.deps import SessionDep, StationIdPath, station_in_scope
from yizhan.stations.models import Station
from yizhan.stations.schemas import (
    ID_PATTERN,
    Amenity,
    DistrictName,
    LocalizedName,
    OpeningException,
    Page,
    SearchText,
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
        opening_exceptions=[OpeningException(**e) for e in station.opening_exceptions],
        amenities=list(station.amenities),
        contact=station.contact,
        created_at=station.created_at,
        updated_at=station.updated_at,
    )


@router.get("", response_model=Page)
async def list_stations(
    operator: CurrentOperator,
    session: SessionDep,
    district: Annotated[DistrictName | None, Query()] = None,
    station_status: Annotated[StationStatus | None, Query(alias="status")] = None,
    amenity: Annotated[
        list[Amenity] | None, Query(description="stations offering all of these")
    ] = None,
    q: Annotated[
        SearchText | None, Query(description="text in either name, the id or address")
    ] = None,
    after: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="the `next` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=repository.MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> Page:
    """Stations in the operator's scope, filtered and paged by id."""
    districts = operator.visible_districts
    if district is not None:
        districts = [district] if operator.can_see_district(district) else []
    stations = await repository.list_stations(
        session,
        districts=districts,
        status=station_status,
        amenities=amenity or (),
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
    scope.check_district(operator, body.district)
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
        opening_exceptions=[e.as_json() for e in body.opening_exceptions],
        amenities=body.amenities,
        contact=body.contact,
    )
    session.add(station)
    audit.record(
        session,
        actor=operator.username,
        action="station.create",
        entity="station",
        entity_id=station.id,
        station_id=station.id,
        districts=[station.district],
        before=None,
        after=audit.station_snapshot(station),
    )
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
    station_id: StationIdPath, operator: CurrentOperator, session: SessionDep
) -> StationOut:
    """One station."""
    return station_out(await station_in_scope(session, station_id, operator))


@router.patch("/{station_id}", response_model=StationOut)
async def patch_station(
    station_id: StationIdPath, body: StationPatch, operator: WritingOperator, session: SessionDep
) -> StationOut:
    """Change some fields of a station (`opening_hours: null` means always open;
    `opening_exceptions` replaces the whole list)."""
    station = await station_in_scope(session, station_id, operator)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    if "district" in changes:
        scope.check_district(operator, changes["district"])
    before = audit.station_snapshot(station)
    districts = [station.district]
    name = changes.pop("name", None)
    if name is not None:
        station.name_zh, station.name_en = name["zh"], name["en"]
    if body.opening_exceptions is not None:
        changes["opening_exceptions"] = [e.as_json() for e in body.opening_exceptions]
    for field, value in changes.items():
        setattr(station, field, value)
    after = audit.station_snapshot(station)
    if after != before:
        audit.record(
            session,
            actor=operator.username,
            action="station.update",
            entity="station",
            entity_id=station.id,
            station_id=station.id,
            districts=[*districts, station.district],
            before=before,
            after=after,
        )
        await session.commit()
        await session.refresh(station)
    return station_out(station)
