"""Forum sessions (and trainings, health checks): listed to workers, scheduled, changed and
cancelled by operators."""

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from yizhan.bookings import repository
from yizhan.bookings.api.catalog_routes import station_filter
from yizhan.bookings.api.deps import (
    DepsDep,
    OptionalOperator,
    SessionDep,
    acting_on,
    station_in_scope,
)
from yizhan.bookings.forum_admin import SessionView
from yizhan.bookings.schemas import (
    ForumSessionIn,
    ForumSessionList,
    ForumSessionOut,
    ForumSessionPatch,
    SessionKind,
)
from yizhan.common.auth import CurrentOperator, WritingOperator

router = APIRouter(prefix="/api/v1/forum-sessions", tags=["sessions"])

# How far back an operator may list sessions that are over.
PAST_DAYS_MAX = 366
# API field names -> column names.
_COLUMNS = {"start": "starts_at", "end": "ends_at"}


def session_out(view: SessionView) -> ForumSessionOut:
    """A session with its free seats."""
    forum = view.forum
    return ForumSessionOut(
        id=forum.id,
        station_id=forum.station_id,
        kind=forum.kind,
        status=forum.status,
        topic=forum.topic,
        host=forum.host,
        start=forum.starts_at,
        end=forum.ends_at,
        seats=forum.seats,
        seats_left=max(0, forum.seats - view.taken),
        registration_deadline=forum.registration_deadline,
    )


@router.get("", response_model=ForumSessionList)
async def list_sessions(
    deps: DepsDep,
    session: SessionDep,
    operator: OptionalOperator,
    station_id: Annotated[str | None, Query(max_length=64)] = None,
    kind: SessionKind | None = None,
    past_days: Annotated[int, Query(ge=0, le=PAST_DAYS_MAX)] = 0,
) -> ForumSessionList:
    """Sessions of a station that are not over yet, with their free seats (operators also
    see the cancelled ones, and with `past_days` those that ended in these last days: the
    sessions whose opinions they record)."""
    station_ids = await station_filter(deps, station_id, operator)
    ending_after = deps.clock() - timedelta(days=past_days if operator is not None else 0)
    rows = await repository.list_forum_sessions(
        session, station_ids, ending_after, kind=kind, include_cancelled=operator is not None
    )
    return ForumSessionList(items=[session_out(SessionView(f, taken)) for f, taken in rows])


@router.get("/{session_id}", response_model=ForumSessionOut)
async def get_session(session_id: int, operator: CurrentOperator, deps: DepsDep) -> ForumSessionOut:
    """One session with its free seats, for operators of its station (workers use the list)."""
    view = await deps.forums.get(session_id)
    await station_in_scope(deps, operator, view.forum.station_id)
    return session_out(view)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ForumSessionOut)
async def create_session(
    body: ForumSessionIn, operator: WritingOperator, deps: DepsDep
) -> ForumSessionOut:
    """Schedule a session at a station in the operator's districts."""
    stamp = await acting_on(deps, operator, body.station_id)
    fields = body.model_dump(exclude={"station_id"})
    return session_out(await deps.forums.create(body.station_id, _columns(fields), stamp))


@router.patch("/{session_id}", response_model=ForumSessionOut)
async def update_session(
    session_id: int, body: ForumSessionPatch, operator: WritingOperator, deps: DepsDep
) -> ForumSessionOut:
    """Change a session that has not started: more seats promote the waitlist, a new time
    moves every booking and tells its holder by SMS; fewer seats than confirmed is 409."""
    current = await deps.forums.get(session_id)
    stamp = await acting_on(deps, operator, current.forum.station_id)
    changes = body.model_dump(exclude_unset=True)
    # Only the deadline may be cleared; a null anywhere else means "unchanged".
    changes = {k: v for k, v in changes.items() if v is not None or k == "registration_deadline"}
    return session_out(await deps.forums.update(session_id, _columns(changes), stamp))


@router.post("/{session_id}/cancel", response_model=ForumSessionOut)
async def cancel_session(
    session_id: int, operator: WritingOperator, deps: DepsDep
) -> ForumSessionOut:
    """Cancel a session that has not started, with all its bookings; holders get an SMS."""
    current = await deps.forums.get(session_id)
    stamp = await acting_on(deps, operator, current.forum.station_id)
    return session_out(await deps.forums.cancel(session_id, stamp))


def _columns(fields: dict[str, Any]) -> dict[str, Any]:
    return {_COLUMNS.get(key, key): value for key, value in fields.items()}
