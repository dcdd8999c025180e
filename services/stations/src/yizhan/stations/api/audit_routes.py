"""GET /api/v1/audit: who changed what and when, with the record before and after."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from yizhan.common.auth import CurrentOperator
from yizhan.stations import audit
from yizhan.stations.api.deps import SessionDep, station_in_scope
from yizhan.stations.schemas import ID_PATTERN, AuditEntryOut

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
DEFAULT_PAGE_SIZE = 50


class AuditPage(BaseModel):
    """Newest first; pass `next` as `before` for the following page."""

    items: list[AuditEntryOut]
    next: str | None


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
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(
        items=[
            AuditEntryOut(
                id=row.id,
                at=row.at,
                actor=row.actor,
                action=row.action,
                entity=row.entity,
                entity_id=row.entity_id,
                station_id=row.station_id,
                before=row.before,
                after=row.after,
            )
            for row in rows
        ],
        next=str(rows[-1].id) if more and rows else None,
    )
