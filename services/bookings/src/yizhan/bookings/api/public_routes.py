"""GET /api/v1/public/stations (CONTRACT.md §5): no login, answered from the finder's
snapshot (public_stations.py), cached by clients for a few seconds (ETag, Cache-Control),
rate-limited per client address in memory (no database round trip per request)."""

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request, Response

from yizhan.bookings.public_stations import Query as FinderQuery
from yizhan.bookings.public_stations import StationFinder
from yizhan.common.clients import client_address
from yizhan.common.ratelimit import LocalRateLimiter

router = APIRouter()

# Short, so that a client honouring it still sees device changes within 5 s.
MAX_AGE_SECONDS = 2


TOO_MANY = orjson.dumps(
    {
        "type": "about:blank",
        "title": "Too many requests",
        "status": 429,
        "code": "too_many_requests",
    }
)


@router.get("/api/v1/public/stations", tags=["public"])
async def public_stations(
    request: Request,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lng: Annotated[float | None, Query(ge=-180, le=180)] = None,
    district: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Response:
    """Active stations, nearest first with a position, with live availability."""
    limiter: LocalRateLimiter = request.app.state.public_limiter
    wait = limiter.attempt(client_address(request))
    if wait is not None:
        return Response(
            TOO_MANY,
            status_code=429,
            headers={"Retry-After": str(wait)},
            media_type="application/problem+json",
        )
    finder: StationFinder = request.app.state.finder
    body, tag = await finder.answer(
        FinderQuery(lat=lat, lng=lng, district=district, q=q, limit=limit)
    )
    headers = {
        "Cache-Control": f"public, max-age={MAX_AGE_SECONDS}",
        "ETag": tag,
        "Vary": "Accept-Encoding",
    }
    match = request.headers.get("if-none-match", "")
    if tag in (t.strip() for t in match.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(body, headers=headers, media_type="application/json")
