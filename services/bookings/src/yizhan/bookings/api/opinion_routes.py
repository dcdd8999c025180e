"""Opinions for operators: listed, recorded as raised in the room, grouped under measures,
moved on and exported (every change audited). Attendees raise and follow theirs on their
booking's page of the web form (web/pages.py), which is no public JSON route."""

import base64
import binascii
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import Response

from yizhan.bookings import repository, texts
from yizhan.bookings.api.csv_export import MAX_ROWS, csv_response
from yizhan.bookings.api.deps import (
    DepsDep,
    SessionDep,
    acting_on,
    station_in_scope,
    visible_station_ids,
)
from yizhan.bookings.errors import InvalidInput
from yizhan.bookings.models import Measure, Opinion
from yizhan.bookings.schemas import (
    MeasureIn,
    MeasureList,
    MeasureOut,
    OpinionIn,
    OpinionOut,
    OpinionPage,
    OpinionPatch,
    OpinionStatus,
)
from yizhan.common.auth import CurrentOperator, WritingOperator

router = APIRouter(prefix="/api/v1", tags=["opinions"])

StationFilter = Annotated[str | None, Query(max_length=64)]

EXPORT_HEADER = (
    "id",
    "station_id",
    "forum_session_id",
    "topic",
    "category",
    "text",
    "status",
    "measure",
    "reason",
    "handled_by",
    "created_at",
    "closed_at",
)


def opinion_out(opinion: Opinion) -> OpinionOut:
    """An opinion as the API shows it."""
    return OpinionOut(
        id=opinion.id,
        forum_session_id=opinion.forum_session_id,
        station_id=opinion.station_id,
        category=opinion.category,
        text=opinion.text,
        status=opinion.status,
        measure=opinion.measure,
        reason=opinion.decline_reason,
        created_at=opinion.created_at,
        updated_at=opinion.updated_at,
        closed_at=opinion.closed_at,
        measure_id=opinion.measure_id,
        recorded_by=opinion.recorded_by,
    )


async def _stations(
    deps: DepsDep, operator: CurrentOperator, station_id: str | None
) -> list[str] | None:
    if station_id is not None:
        await station_in_scope(deps, operator, station_id)
        return [station_id]
    return await visible_station_ids(deps, operator)


def _cursor(opinion: Opinion) -> str:
    return base64.urlsafe_b64encode(str(opinion.id).encode()).decode()


def _after(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor", field="query.after") from exc


@router.get("/opinions", response_model=OpinionPage)
async def list_opinions(
    operator: CurrentOperator,
    deps: DepsDep,
    session: SessionDep,
    station_id: StationFilter = None,
    opinion_status: Annotated[OpinionStatus | None, Query(alias="status")] = None,
    forum_session_id: int | None = None,
    after: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=repository.MAX_PAGE_SIZE)] = 100,
) -> OpinionPage:
    """Opinions of the operator's stations, newest first."""
    opinions = await repository.list_opinions(
        session,
        await _stations(deps, operator, station_id),
        status=opinion_status,
        forum_session_id=forum_session_id,
        before_id=_after(after),
        limit=limit,
    )
    next_cursor = _cursor(opinions[-1]) if len(opinions) == limit else None
    return OpinionPage(items=[opinion_out(o) for o in opinions], next=next_cursor)


@router.patch("/opinions/{opinion_id}", response_model=OpinionOut)
async def move_opinion(
    opinion_id: int, body: OpinionPatch, operator: WritingOperator, deps: DepsDep
) -> OpinionOut:
    """received -> in_progress -> resolved (with `measure`) or declined (with `reason`);
    409 `opinion_transition` for any other move. The worker is told the outcome by SMS."""
    opinion = await deps.opinions.get(opinion_id)
    stamp = await acting_on(deps, operator, opinion.station_id)
    moved = await deps.opinions.move(
        opinion_id,
        body.status,
        operator=stamp,
        measure=body.measure,
        reason=body.reason,
    )
    return opinion_out(moved)


@router.post("/opinions", status_code=status.HTTP_201_CREATED, response_model=OpinionOut)
async def record_opinion(body: OpinionIn, operator: WritingOperator, deps: DepsDep) -> OpinionOut:
    """Record an opinion raised in the room at a session of the operator's stations."""
    forum = (await deps.forums.get(body.forum_session_id)).forum
    stamp = await acting_on(deps, operator, forum.station_id)
    return opinion_out(await deps.opinions.record_raised(forum.id, body.category, body.text, stamp))


@router.post("/measures", status_code=status.HTTP_201_CREATED, response_model=MeasureOut)
async def group_under_measure(
    body: MeasureIn, operator: WritingOperator, deps: DepsDep
) -> MeasureOut:
    """Group opinions of a station under one measure (new or existing); 404 when an
    opinion is not of that station."""
    stamp = await acting_on(deps, operator, body.station_id)
    measure = await deps.opinions.group(
        body.station_id,
        body.opinion_ids,
        stamp,
        measure_id=body.measure_id,
        measure_text=body.text,
    )
    counts = dict((m.id, n) for m, n in await deps.opinions.measures_of(body.station_id))
    return _measure_out(measure, counts.get(measure.id, 0))


@router.get("/measures", response_model=MeasureList)
async def list_measures(
    station_id: Annotated[str, Query(max_length=64)], operator: CurrentOperator, deps: DepsDep
) -> MeasureList:
    """A station's measures, newest first, with how many opinions each groups."""
    await station_in_scope(deps, operator, station_id)
    rows = await deps.opinions.measures_of(station_id)
    return MeasureList(items=[_measure_out(m, n) for m, n in rows])


def _measure_out(measure: Measure, opinions: int) -> MeasureOut:
    return MeasureOut(
        id=measure.id,
        station_id=measure.station_id,
        text=measure.text,
        created_by=measure.created_by,
        created_at=measure.created_at,
        opinions=opinions,
    )


@router.get("/opinions/export.csv")
async def export_opinions(
    operator: CurrentOperator,
    deps: DepsDep,
    session: SessionDep,
    station_id: StationFilter = None,
    created_from: Annotated[datetime | None, Query(alias="from")] = None,
    created_before: Annotated[datetime | None, Query(alias="to")] = None,
) -> Response:
    """Opinions as CSV (UTF-8 with BOM), for a district's report."""
    opinions = await repository.list_opinions(
        session,
        await _stations(deps, operator, station_id),
        created_from=created_from,
        created_before=created_before,
        limit=MAX_ROWS,
    )
    topics = await repository.topics_of_sessions(
        session, sorted({o.forum_session_id for o in opinions})
    )
    rows = (
        (
            o.id,
            o.station_id,
            o.forum_session_id,
            topics.get(o.forum_session_id, ""),
            texts.text(f"category.{o.category}", "zh"),
            o.text,
            texts.text(f"opinion_status.{o.status}", "zh"),
            o.measure,
            o.decline_reason,
            o.handled_by,
            o.created_at.isoformat(),
            o.closed_at.isoformat() if o.closed_at else None,
        )
        for o in opinions
    )
    return csv_response("opinions.csv", EXPORT_HEADER, rows)
