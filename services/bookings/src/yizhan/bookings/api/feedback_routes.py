"""Feedback left at stations, for their operators (scoped by district, as every operator
route): the forms themselves and the quality score of each station (feedback.py)."""

from datetime import datetime
from typing import Any

from fastapi import APIRouter

from yizhan.bookings import feedback
from yizhan.bookings.api.deps import DepsDep, SessionDep, station_in_scope, visible_station_ids
from yizhan.common.auth import CurrentOperator

router = APIRouter(prefix="/api/v1", tags=["feedback"])


def quality_out(quality: feedback.Quality) -> dict[str, Any]:
    """One station's quality as JSON."""
    return {
        "station_id": quality.station_id,
        "score": quality.score,
        "count": quality.count,
        "average_rating": quality.average_rating,
        "problems": quality.problems,
        "window_days": feedback.QUALITY_WINDOW.days,
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat()


@router.get("/feedback/quality")
async def station_qualities(
    operator: CurrentOperator, deps: DepsDep, session: SessionDep
) -> dict[str, Any]:
    """The quality score of every station in the operator's scope that had feedback lately,
    lowest score first (the ones to visit)."""
    ids = await visible_station_ids(deps, operator)
    found = await feedback.qualities(session, ids, deps.clock())
    ranked = sorted(found.values(), key=lambda q: (q.score or 0, q.station_id))
    return {"items": [quality_out(q) for q in ranked]}


@router.get("/stations/{station_id}/feedback")
async def station_feedback(
    station_id: str, operator: CurrentOperator, deps: DepsDep, session: SessionDep
) -> dict[str, Any]:
    """A station's feedback of the last 30 days, newest first, with its quality score."""
    await station_in_scope(deps, operator, station_id)
    now = deps.clock()
    found = await feedback.qualities(session, [station_id], now)
    quality = found.get(station_id, feedback.Quality(station_id))
    items = await feedback.recent(session, station_id, now)
    return {
        "quality": quality_out(quality),
        "items": [
            {
                "id": f.id,
                "rating": f.rating,
                "problems": list(f.problems),
                "text": f.text,
                "created_at": _iso(f.created_at),
            }
            for f in items
        ],
    }
