"""GET /api/v1/audit: who changed what and when, with the record before and after."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from yizhan.common.audit import AuditPage, page_of
from yizhan.common.auth import CurrentOperator
from yizhan.stations import audit
from yizhan.stations.api.deps import SessionDep, station_in_scope
from yizhan.stations.schemas import ID_PATTERN

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
DEFAULT_PAGE_SIZE = 50


@router.get("", response_model=AuditPage)
async def list_audit(
    operator: CurrentOperator,
    session: SessionDep,
    station_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    entity: Literal["station", "device", "operator"] | None = None,
    before: Annotated[
        int | None, Query(ge=1, le=2**62, description="the `next` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=audit.MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> AuditPage:
    """Changes an operator may see: all for admins and city-wide viewers, those touching
    their districts for the others (a station outside them answers 404)."""
    if station_id is not None:
        await station_in_scope(session, station_id, operator)
    rows = await audit.entries(
        session,
        districts=operator.visible_districts,
        station_id=station_id,
        entity=entity,
        before_id=before,
        limit=limit + 1,
    )
    return page_of(rows, limit)
