"""Livestream points, their slots, and forum sessions: listed to workers, created by operators."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, status

from yizhan.bookings import repository
from yizhan.bookings.api.deps import (
    DepsDep,
    OptionalOperator,
    SessionDep,
    station_in_scope,
    visible_station_ids,
)
from yizhan.bookings.availability import station_zone
from yizhan.bookings.errors import InvalidInput, NotFound
from yizhan.bookings.models import ForumSession, LivestreamPoint
from yizhan.bookings.schemas import (
    ForumSessionIn,
    ForumSessionList,
    ForumSessionOut,
    LivestreamPointIn,
    LivestreamPointList,
    LivestreamPointOut,
    SlotList,
    SlotOut,
)
from yizhan.common.auth import Operator, WritingOperator

router = APIRouter(prefix="/api/v1", tags=["catalogue"])

StationFilter = Annotated[str | None, Query(max_length=64)]


def _point_out(point: LivestreamPoint) -> LivestreamPointOut:
    return LivestreamPointOut(
        id=point.id, station_id=point.station_id, name=point.name, slot_minutes=point.slot_minutes
    )


def _session_out(forum: ForumSession, taken: int) -> ForumSessionOut:
    return ForumSessionOut(
        id=forum.id,
        station_id=forum.station_id,
        topic=forum.topic,
        host=forum.host,
        start=forum.starts_at,
        end=forum.ends_at,
        seats=forum.seats,
        seats_left=max(0, forum.seats - taken),
        registration_deadline=forum.registration_deadline,
    )


async def _station_filter(
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
    """The livestream points of a station."""
    station_ids = await _station_filter(deps, station_id, operator)
    points = await repository.list_points(session, station_ids)
    return LivestreamPointList(items=[_point_out(p) for p in points])


@router.post(
    "/livestream-points", status_code=status.HTTP_201_CREATED, response_model=LivestreamPointOut
)
async def create_point(
    body: LivestreamPointIn, operator: WritingOperator, deps: DepsDep, session: SessionDep
) -> LivestreamPointOut:
    """Add a livestream point to a station in the operator's districts."""
    await station_in_scope(deps, operator, body.station_id)
    point = LivestreamPoint(
        station_id=body.station_id, name=body.name, slot_minutes=body.slot_minutes, active=True
    )
    session.add(point)
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


@router.get("/forum-sessions", response_model=ForumSessionList)
async def list_sessions(
    deps: DepsDep,
    session: SessionDep,
    operator: OptionalOperator,
    station_id: StationFilter = None,
) -> ForumSessionList:
    """Forum sessions of a station that are not over yet, with their free seats."""
    station_ids = await _station_filter(deps, station_id, operator)
    rows = await repository.list_forum_sessions(session, station_ids, deps.clock())
    return ForumSessionList(items=[_session_out(forum, taken) for forum, taken in rows])


@router.post("/forum-sessions", status_code=status.HTTP_201_CREATED, response_model=ForumSessionOut)
async def create_session(
    body: ForumSessionIn, operator: WritingOperator, deps: DepsDep, session: SessionDep
) -> ForumSessionOut:
    """Schedule a forum session at a station in the operator's districts."""
    await station_in_scope(deps, operator, body.station_id)
    forum = ForumSession(
        station_id=body.station_id,
        topic=body.topic,
        host=body.host,
        starts_at=body.start,
        ends_at=body.end,
        seats=body.seats,
        registration_deadline=body.registration_deadline,
    )
    session.add(forum)
    await session.commit()
    return _session_out(forum, 0)
