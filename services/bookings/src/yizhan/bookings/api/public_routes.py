"""GET /api/v1/public/stations (CONTRACT.md §5): no login, cached by clients for a few
seconds (ETag, Cache-Control), rate-limited per client address."""

import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from yizhan.bookings.api.deps import DepsDep
from yizhan.bookings.public_stations import Query as FinderQuery
from yizhan.bookings.public_stations import StationFinder
from yizhan.common.clients import client_address
from yizhan.common.ratelimit import Check, Rule

router = APIRouter()

# Short, so that a client honouring it still sees device changes within 5 s.
MAX_AGE_SECONDS = 2


def etag_of(items: list[dict[str, Any]]) -> str:
    """A weak validator of the items (generated_at apart: the same stations, the same tag)."""
    body = json.dumps(items, sort_keys=True, ensure_ascii=False, default=str).encode()
    return f'W/"{hashlib.sha256(body).hexdigest()[:32]}"'


@router.get("/api/v1/public/stations", tags=["public"])
async def public_stations(
    request: Request,
    deps: DepsDep,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lng: Annotated[float | None, Query(ge=-180, le=180)] = None,
    district: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Response:
    """Active stations, nearest first with a position, with live availability."""
    rule: Rule = request.app.state.public_limit
    wait = await deps.limiter.attempt([Check(rule, client_address(request))])
    if wait is not None:
        return JSONResponse(
            {
                "type": "about:blank",
                "title": "Too many requests",
                "status": 429,
                "code": "too_many_requests",
            },
            status_code=429,
            headers={"Retry-After": str(wait)},
            media_type="application/problem+json",
        )
    finder: StationFinder = request.app.state.finder
    answer = await finder.search(FinderQuery(lat=lat, lng=lng, district=district, q=q, limit=limit))
    headers = {
        "Cache-Control": f"public, max-age={MAX_AGE_SECONDS}",
        "ETag": etag_of(answer["items"]),
        "Vary": "Accept-Encoding",
    }
    match = request.headers.get("if-none-match", "")
    if headers["ETag"] in (tag.strip() for tag in match.split(",")):
        return Response(status_code=304, headers=headers)
    return JSONResponse(answer, headers=headers)
