"""GET /api/v1/audit on bookings: operators' actions on points, sessions, bookings, opinions
and measures, with who, when, and the record before and after (as stations' audit)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from yizhan.bookings import audit
from yizhan.bookings.api.deps import DepsDep, SessionDep, station_in_scope
from yizhan.common.audit import AuditPage, page_of
from yizhan.common.auth import CurrentOperator

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
DEFAULT_PAGE_SIZE = 50
Entity = Literal["livestream_point", "forum_session", "booking", "opinion", "measure"]


@router.get("", response_model=AuditPage)
async def list_audit(
    operator: CurrentOperator,
    deps: DepsDep,
    session: SessionDep,
    station_id: Annotated[str | None, Query(max_length=64)] = None,
    entity: Entity | None = None,
    before: Annotated[
        int | None, Query(ge=1, le=2**62, description="the `next` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=audit.MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> AuditPage:
    """Entries an operator may see: all for admins and city-wide viewers, those of their
    districts for the others (a station outside them answers 404)."""
    if station_id is not None:
        await station_in_scope(deps, operator, station_id)
    rows = await audit.entries(
        session,
        districts=operator.visible_districts,
        station_id=station_id,
        entity=entity,
        before_id=before,
        limit=limit + 1,
    )
    return page_of(rows, limit)
