"""Booking figures per station and district for operators (the same numbers the console gets
over gRPC GetBookingStats), as JSON and as CSV."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from yizhan.bookings.api.csv_export import csv_response
from yizhan.bookings.api.deps import DepsDep, station_in_scope, visible_station_ids
from yizhan.bookings.schemas import DistrictFiguresOut, FiguresOut, StationFiguresOut, StatsOut
from yizhan.bookings.stats import Figures, total
from yizhan.common.auth import CurrentOperator

router = APIRouter(prefix="/api/v1", tags=["stats"])

From = Annotated[datetime, Query(alias="from", description="RFC 3339, inclusive")]
To = Annotated[datetime, Query(alias="to", description="RFC 3339, exclusive")]
Stations = Annotated[list[str] | None, Query(alias="station_id", max_length=1000)]

CSV_FIGURES = (
    "livestream_bookings",
    "livestream_booked_minutes",
    "livestream_open_minutes",
    "livestream_utilisation",
    "forum_sessions",
    "forum_seats",
    "forum_confirmed",
    "forum_waitlisted",
    "checked_in",
    "no_shows",
    "cancelled",
    "no_show_rate",
    "opinions_total",
)


def _figures(f: Figures) -> dict[str, Any]:
    return {
        "livestream_bookings": f.livestream_bookings,
        "livestream_booked_minutes": f.livestream_booked_minutes,
        "livestream_open_minutes": f.livestream_open_minutes,
        "livestream_utilisation": f.livestream_utilisation,
        "forum_sessions": f.forum_sessions,
        "forum_seats": f.forum_seats,
        "forum_confirmed": f.forum_confirmed,
        "forum_waitlisted": f.forum_waitlisted,
        "checked_in": f.checked_in,
        "no_shows": f.no_shows,
        "cancelled": f.cancelled,
        "no_show_rate": f.no_show_rate,
        "opinions": dict(f.opinions),
        "opinions_total": f.opinions_total,
        "livestream_outcomes": f.livestream_outcomes,
        "livestream_households": f.livestream_households,
        "livestream_sales_yuan": float(f.livestream_sales_yuan),
    }


async def _stats(
    deps: DepsDep, operator: CurrentOperator, start: datetime, end: datetime, ids: list[str] | None
) -> StatsOut:
    if ids:
        stations = [await station_in_scope(deps, operator, station_id) for station_id in ids]
    else:
        visible = await visible_station_ids(deps, operator)
        stations = await deps.stations.list_stations(ids=visible)
    per_station = await deps.stats.per_station([s.id for s in stations], start, end)
    districts: dict[str, list[Figures]] = {}
    rows = []
    for station in sorted(stations, key=lambda s: (s.district, s.id)):
        figures = per_station[station.id]
        districts.setdefault(station.district, []).append(figures)
        rows.append(
            StationFiguresOut(station_id=station.id, district=station.district, **_figures(figures))
        )
    return StatsOut(
        start=start,
        end=end,
        stations=rows,
        districts=[
            DistrictFiguresOut(district=name, **_figures(total(items)))
            for name, items in districts.items()
        ],
        totals=FiguresOut(**_figures(total(per_station.values()))),
    )


@router.get("/stats", response_model=StatsOut, response_model_by_alias=True)
async def booking_stats(
    start: From, end: To, operator: CurrentOperator, deps: DepsDep, station_ids: Stations = None
) -> StatsOut:
    """Figures per station (all of the operator's, or the `station_id`s given), per district
    and in total, over [from, to)."""
    return await _stats(deps, operator, start, end, station_ids)


@router.get("/stats.csv")
async def booking_stats_csv(
    start: From, end: To, operator: CurrentOperator, deps: DepsDep, station_ids: Stations = None
) -> Response:
    """The per-station figures as CSV (UTF-8 with BOM), one row per station."""
    stats = await _stats(deps, operator, start, end, station_ids)
    header = ("station_id", "district", *CSV_FIGURES, *(f"opinions_{k}" for k in _statuses(stats)))
    rows = (
        (
            row.station_id,
            row.district,
            *(getattr(row, name) for name in CSV_FIGURES),
            *(row.opinions[k] for k in _statuses(stats)),
        )
        for row in stats.stations
    )
    return csv_response("booking-stats.csv", header, rows)


def _statuses(stats: StatsOut) -> list[str]:
    return list(stats.totals.opinions)
