"""Livestream points and their slots: listed to workers, created and changed by operators."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, status

from yizhan.bookings import livestream_admin, repository
from yizhan.bookings.api.deps import (
    DepsDep,
    OptionalOperator,
    SessionDep,
    acting_on,
    visible_station_ids,
)
from yizhan.bookings.availability import station_zone
from yizhan.bookings.errors import InvalidInput, NotFound
from yizhan.bookings.models import LivestreamPoint
from yizhan.bookings.schemas import (
    LivestreamPointIn,
    LivestreamPointList,
    LivestreamPointOut,
    LivestreamPointPatch,
    SlotList,
    SlotOut,
)
from yizhan.common.auth import Operator, WritingOperator

router = APIRouter(prefix="/api/v1", tags=["catalogue"])

StationFilter = Annotated[str | None, Query(max_length=64)]


def _point_out(point: LivestreamPoint) -> LivestreamPointOut:
    return LivestreamPointOut(
        id=point.id,
        station_id=point.station_id,
        name=point.name,
        slot_minutes=point.slot_minutes,
        min_notice_minutes=point.min_notice_minutes,
        max_days_ahead=point.max_days_ahead,
        max_steps=point.max_steps,
        active=point.active,
    )


async def station_filter(
    deps: DepsDep, station_id: str | None, operator: Operator | None
) -> list[str] | None:
    """Workers name one station; operators may leave it out to see all of theirs."""
    if station_id is not None:
        return [station_id]
    if operator is None:
        raise InvalidInput("station_required", field="query.station_id")
    return await visible_station_ids(deps, operator)


@router.get("/livestream-points", response_model=LivestreamPointList)
async def list_points(
    deps: DepsDep,
    session: SessionDep,
    operator: OptionalOperator,
    station_id: StationFilter = None,
) -> LivestreamPointList:
    """The active livestream points of a station (operators: of all their stations)."""
    station_ids = await station_filter(deps, station_id, operator)
    # Operators also see the points they took out of service.
    points = await repository.list_points(
        session, station_ids, include_inactive=operator is not None
    )
    return LivestreamPointList(items=[_point_out(p) for p in points])


@router.post(
    "/livestream-points", status_code=status.HTTP_201_CREATED, response_model=LivestreamPointOut
)
async def create_point(
    body: LivestreamPointIn, operator: WritingOperator, deps: DepsDep, session: SessionDep
) -> LivestreamPointOut:
    """Add a livestream point to a station in the operator's districts (audited)."""
    stamp = await acting_on(deps, operator, body.station_id)
    fields = body.model_dump(exclude={"station_id"})
    point = await livestream_admin.create_point(session, body.station_id, fields, stamp)
    await session.commit()
    return _point_out(point)


@router.patch("/livestream-points/{point_id}", response_model=LivestreamPointOut)
async def update_point(
    point_id: int,
    body: LivestreamPointPatch,
    operator: WritingOperator,
    deps: DepsDep,
    session: SessionDep,
) -> LivestreamPointOut:
    """Change a point's name or booking rules, or take it out of service (`active: false`:
    no new bookings; those already made stay and can be seen and cancelled). Audited."""
    point = await livestream_admin.get_point(session, point_id)
    stamp = await acting_on(deps, operator, point.station_id)
    changes = body.model_dump(exclude_unset=True)
    await livestream_admin.update_point(session, point, changes, stamp, deps.clock())
    await session.commit()
    return _point_out(point)


@router.get("/livestream-points/{point_id}/slots", response_model=SlotList)
async def list_slots(
    point_id: int,
    day: Annotated[date, Query(alias="date", description="the station's local date")],
    deps: DepsDep,
    session: SessionDep,
) -> SlotList:
    """One item per step of the station's local day while it is open; `available` is false
    when the step is taken or has started."""
    point = await repository.get_point(session, point_id)
    if point is None or not point.active:
        raise NotFound("point_unknown")
    station, slots = await deps.availability.day_slots(point, day)
    if station is None:
        return SlotList(items=[])
    tz = station_zone(station)
    return SlotList(
        items=[
            SlotOut(start=s.start.astimezone(tz), end=s.end.astimezone(tz), available=s.available)
            for s in slots
        ]
    )
