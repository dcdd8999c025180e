"""Where the usage figures are computed (the operator API, gRPC and the console all come here).
What each figure is, is defined once in figures.py.

Events count by when they happened (`ts`), in calendar buckets of the requested time zone.
The figures come from the quarter-hour rollups (`usage_15m` per station, `usage_network_15m`
for the whole network; see migration 0003), which every zone's hours, days, weeks and months
are made of; only the partial quarter hours at the ends of an unaligned range are read from
the raw events. Sums are numeric so that decimal inputs add up exactly.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.telemetry import queries
from yizhan.telemetry.scope import Scope, parse_scope

Bucket = Literal["hour", "day", "week", "month"]
BUCKETS: Final[tuple[Bucket, ...]] = ("hour", "day", "week", "month")
# Enough for a year of hours; more is a mistake or an attack on the database.
MAX_BUCKETS: Final = 10_000
# The longest each bucket can be (DST adds an hour), for a lower bound of the bucket count.
_BUCKET_MAX_SPAN: Final = {
    "hour": 3600,
    "day": 86400 + 3600,
    "week": 7 * 86400 + 3600,
    "month": 31 * 86400 + 3600,
}
QUARTER: Final = timedelta(minutes=15)


def _floor_quarter(moment: datetime) -> datetime:
    seconds = int(moment.timestamp() // QUARTER.total_seconds() * QUARTER.total_seconds())
    return datetime.fromtimestamp(seconds, UTC)


def _whole_quarters(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[lo, hi): the whole quarter hours inside [start, end) (empty, at `end`, if none)."""
    lo = _floor_quarter(start)
    if lo < start:
        lo += QUARTER
    hi = _floor_quarter(end)
    if hi <= lo:
        return end, end
    return lo, hi


def _parts(*, per_station: bool, station_filter: bool) -> str:
    """Figures keyed by calendar bucket (or by station), from rollups and raw edges."""
    stations = "AND station_id = ANY(:stations)" if station_filter else ""
    if per_station:
        return queries.USAGE_PARTS.format(
            rollup_key="station_id AS key",
            rollup_inner_key="station_id",
            raw_key="station_id AS key",
            rollup="usage_15m",
            stations=stations,
        )
    return queries.USAGE_PARTS.format(
        rollup_key="date_trunc(:bucket, bucket) AS key",
        rollup_inner_key="bucket",
        raw_key="date_trunc(:bucket, time) AS key",
        rollup="usage_15m" if station_filter else "usage_network_15m",
        stations=stations,
    )


@dataclass(frozen=True)
class Figures:
    """Usage over some span: the numbers of CONTRACT §3."""

    visits: int = 0
    charge_sessions: int = 0
    energy_wh: Decimal = Decimal(0)
    water_liters: Decimal = Decimal(0)
    dispenses: int = 0
    heat_uses: int = 0
    heat_seconds: int = 0

    @property
    def energy_kwh(self) -> float:
        """Energy in kWh."""
        return float(self.energy_wh / 1000)

    @property
    def heat_minutes(self) -> float:
        """Heating time in minutes (two decimals: 20 s is 0.33 min)."""
        return round(self.heat_seconds / 60, 2)

    def __add__(self, other: "Figures") -> "Figures":
        return Figures(
            self.visits + other.visits,
            self.charge_sessions + other.charge_sessions,
            self.energy_wh + other.energy_wh,
            self.water_liters + other.water_liters,
            self.dispenses + other.dispenses,
            self.heat_uses + other.heat_uses,
            self.heat_seconds + other.heat_seconds,
        )

    def as_json(self) -> dict[str, Any]:
        """The figures as the API shows them."""
        return {
            "visits": self.visits,
            "charge_sessions": self.charge_sessions,
            "energy_kwh": self.energy_kwh,
            "water_liters": float(self.water_liters),
            "dispenses": self.dispenses,
            "heat_uses": self.heat_uses,
            "heat_minutes": self.heat_minutes,
        }


@dataclass(frozen=True)
class Usage:
    """A zero-filled series of calendar buckets and its totals."""

    series: list[tuple[datetime, Figures]]
    totals: Figures


def bucket_count_bound(start: datetime, end: datetime, bucket: Bucket) -> int:
    """At least how many buckets [start, end) spans (to refuse absurd requests early)."""
    return int((end - start) / timedelta(seconds=_BUCKET_MAX_SPAN[bucket]))


async def usage_series(
    session: AsyncSession,
    *,
    station_ids: Sequence[str] | None,
    start: datetime,
    end: datetime,
    bucket: Bucket,
    tz: str,
) -> Usage:
    """Figures per calendar bucket of `tz` over [start, end); `station_ids=None` is the
    whole network. Every bucket that overlaps the range is present."""
    await session.execute(text("SELECT set_config('TimeZone', :tz, true)"), {"tz": tz})
    lo, hi = _whole_quarters(start, end)
    params: dict[str, Any] = {
        "bucket": bucket,
        "start": start,
        "end": end,
        "lo": lo,
        "hi": hi,
        "step": f"1 {bucket}",
    }
    if station_ids is not None:
        params["stations"] = list(station_ids)
    parts = _parts(per_station=False, station_filter=station_ids is not None)
    result = await session.execute(text(queries.USAGE_SERIES.format(parts=parts)), params)
    series = [(row[0], _figures(row[1:])) for row in result.all()]
    totals = sum((figures for _, figures in series), Figures())
    return Usage(series, totals)


async def usage_by_station(
    session: AsyncSession, station_ids: Sequence[str], start: datetime, end: datetime
) -> dict[str, Figures]:
    """Figures per station over [start, end) (stations without events are absent)."""
    lo, hi = _whole_quarters(start, end)
    parts = _parts(per_station=True, station_filter=True)
    result = await session.execute(
        text(queries.USAGE_PER_STATION.format(parts=parts)),
        {"stations": list(station_ids), "start": start, "end": end, "lo": lo, "hi": hi},
    )
    return {row[0]: _figures(row[1:]) for row in result.all()}


def _figures(row: Sequence[Any]) -> Figures:
    visits, sessions, energy_wh, liters, dispenses, heat_uses, heat_seconds = row
    return Figures(
        int(visits),
        int(sessions),
        Decimal(energy_wh),
        Decimal(liters),
        int(dispenses),
        int(heat_uses),
        int(heat_seconds),
    )


@dataclass(frozen=True)
class UsageQuery:
    """A checked usage question."""

    scope: Scope
    start: datetime
    end: datetime
    bucket: Bucket
    tz: str


FieldError = tuple[str, str]


def check_usage_query(
    scope: str, start: datetime | None, end: datetime | None, bucket: str, tz: str
) -> UsageQuery | list[FieldError]:
    """The question, or (field, message) for each bad parameter (`start`/`end` None: they
    were already reported unparseable)."""
    errors: list[FieldError] = []
    parsed_scope: Scope | None = None
    try:
        parsed_scope = parse_scope(scope)
    except ValueError as exc:
        errors.append(("scope", str(exc)))
    checked_bucket: Bucket | None = None
    if bucket in BUCKETS:
        checked_bucket = bucket
    else:
        errors.append(("bucket", f"use one of {', '.join(BUCKETS)}"))
    if not _known_zone(tz):
        errors.append(("tz", "not an IANA time zone name, e.g. Asia/Shanghai"))
    if start is not None and end is not None:
        if end <= start:
            errors.append(("to", "must be after from"))
        elif checked_bucket and bucket_count_bound(start, end, checked_bucket) > MAX_BUCKETS:
            errors.append(("bucket", f"more than {MAX_BUCKETS} buckets; use a larger bucket"))
    if errors or parsed_scope is None or checked_bucket is None or start is None or end is None:
        return errors
    return UsageQuery(parsed_scope, start, end, checked_bucket, tz)


def _known_zone(name: str) -> bool:
    if not name or len(name) > 64:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
