"""GET /api/v1/usage: usage figures in calendar buckets (CONTRACT §3)."""

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy.exc import DBAPIError

from yizhan.common.auth import CurrentOperator
from yizhan.telemetry import usage
from yizhan.telemetry.api.deps import DepsDep, SessionDep, authorized_stations
from yizhan.telemetry.rfc3339 import parse_rfc3339
from yizhan.telemetry.schemas import BucketOut, FiguresOut, UsageOut

router = APIRouter(prefix="/api/v1", tags=["usage"])


def _unprocessable(errors: list[tuple[str, str]]) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"field": f"query.{name}", "message": message} for name, message in errors],
    )


@router.get("/usage", response_model=UsageOut)
async def get_usage(
    operator: CurrentOperator,
    deps: DepsDep,
    session: SessionDep,
    scope: Annotated[str, Query(description="network, district:<name> or station:<id>")],
    start: Annotated[str, Query(alias="from", description="RFC 3339, inclusive")],
    end: Annotated[str, Query(alias="to", description="RFC 3339, exclusive")],
    bucket: Annotated[str, Query(description="hour, day, week or month")] = "day",
    tz: Annotated[str, Query(description="IANA time zone of the buckets")] = "Asia/Shanghai",
) -> UsageOut:
    """Person-visits, charging sessions and energy, water and dispenses, heating uses and
    minutes per bucket."""
    errors: list[tuple[str, str]] = []
    moments: dict[str, datetime | None] = {}
    for name, value in (("from", start), ("to", end)):
        try:
            moments[name] = parse_rfc3339(value)
        except ValueError:
            moments[name] = None
            errors.append((name, "must be RFC 3339 with an offset, e.g. 2026-11-22T00:00:00+08:00"))
    checked = usage.check_usage_query(scope, moments["from"], moments["to"], bucket, tz)
    if isinstance(checked, list) or errors:
        raise _unprocessable(errors + (checked if isinstance(checked, list) else []))
    station_ids = await authorized_stations(deps.stations, checked.scope, operator)
    try:
        result = await usage.usage_series(
            session,
            station_ids=station_ids,
            start=checked.start,
            end=checked.end,
            bucket=checked.bucket,
            tz=checked.tz,
        )
    except DBAPIError as exc:
        # Python and PostgreSQL each have a time zone database; they may disagree.
        if "TimeZone" in str(exc.orig):
            raise _unprocessable([("tz", "time zone unknown to the database")]) from exc
        raise
    zone = ZoneInfo(checked.tz)
    return UsageOut(
        scope=str(checked.scope),
        bucket=checked.bucket,
        tz=checked.tz,
        series=[
            BucketOut(start=start_at.astimezone(zone).isoformat(), **figures.as_json())
            for start_at, figures in result.series
        ],
        totals=FiguresOut(**result.totals.as_json()),
    )
