"""GET /api/v1/dead-letters: recent messages that were not stored, and why."""

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from yizhan.common.auth import CurrentOperator
from yizhan.telemetry import dead_letters
from yizhan.telemetry.api.deps import DepsDep, SessionDep, operator_station_ids, visible_station
from yizhan.telemetry.ingest.protocol import REASONS, Reason
from yizhan.telemetry.schemas import DeadLetterOut, DeadLetterPage, DeadLetterSummary

router = APIRouter(prefix="/api/v1", tags=["dead letters"])
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# Dead letters are kept 90 days by default (YZ_TELEMETRY_DEAD_LETTER_RETENTION_DAYS).
MAX_SUMMARY_HOURS = 90 * 24


@router.get("/dead-letters/summary", response_model=DeadLetterSummary)
async def summarize_dead_letters(
    operator: CurrentOperator,
    deps: DepsDep,
    session: SessionDep,
    hours: Annotated[int, Query(ge=1, le=MAX_SUMMARY_HOURS)] = 24,
) -> DeadLetterSummary:
    """How many messages of the operator's stations were refused, per reason, lately."""
    station_ids = await operator_station_ids(deps.stations, operator)
    since = datetime.now(UTC) - timedelta(hours=hours)
    counts = await dead_letters.counts_by_reason(session, station_ids=station_ids, since=since)
    reasons = {reason: counts.get(reason, 0) for reason in REASONS}
    return DeadLetterSummary(since=since, reasons=reasons, total=sum(counts.values()))


@router.get("/dead-letters", response_model=DeadLetterPage)
async def list_dead_letters(
    operator: CurrentOperator,
    deps: DepsDep,
    session: SessionDep,
    station_id: str | None = None,
    reason: Reason | None = None,
    before: Annotated[
        int | None, Query(ge=1, description="the `next` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> DeadLetterPage:
    """Dead letters of the stations in the operator's scope, newest first."""
    if station_id is not None:
        station_ids: list[str] | None = [
            (await visible_station(deps.stations, station_id, operator)).id
        ]
    else:
        station_ids = await operator_station_ids(deps.stations, operator)
    rows = await dead_letters.recent(
        session, station_ids=station_ids, reason=reason, before_id=before, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return DeadLetterPage(
        items=[
            DeadLetterOut(
                id=row.id,
                received_at=row.received_at,
                topic=row.topic,
                station_id=row.station_id,
                device_id=row.device_id,
                reason=row.reason,
                detail=row.detail,
                payload=bytes(row.payload).decode("utf-8", "replace"),
            )
            for row in rows
        ],
        next=str(rows[-1].id) if more and rows else None,
    )
