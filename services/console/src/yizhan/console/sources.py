"""Where the console's figures come from: telemetry (usage, device state, alarms, dead letters,
availability, peak hours) and bookings, over gRPC. The console computes none of them; it only
adds up what it is given across the districts of one operator.

Every call has a deadline; a service that does not answer raises SourceDown, which a page
shows as an "unavailable" section rather than as an error page.
"""

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import grpc

from yizhan.api.bookings.v1 import bookings_pb2
from yizhan.api.telemetry.v1 import insights_pb2, telemetry_pb2
from yizhan.common.pbtime import from_pb, to_pb
from yizhan.console.period import Period

if TYPE_CHECKING:
    from yizhan.api.bookings.v1.bookings_pb2_grpc import (
        BookingRecordsAsyncStub,
        BookingReportsAsyncStub,
    )
    from yizhan.api.telemetry.v1.insights_pb2_grpc import TelemetryInsightsAsyncStub
    from yizhan.api.telemetry.v1.telemetry_pb2_grpc import TelemetryQueryAsyncStub

T = TypeVar("T")

FIGURES = (
    "visits",
    "charge_sessions",
    "energy_kwh",
    "water_liters",
    "dispenses",
    "heat_uses",
    "heat_minutes",
)
BOOKING_FIGURES = (
    "bookings_confirmed",
    "bookings_checked_in",
    "bookings_no_show",
    "opinions_received",
    "opinions_resolved",
    "livestream_households",
    "livestream_sales_yuan",
)


class SourceDown(Exception):
    """A service behind the console did not answer (or refused the question)."""

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"{source}: {detail}")
        self.source = source


def usage_dict(figures: telemetry_pb2.UsageFigures) -> dict[str, float]:
    """The usage figures by name."""
    return {
        "visits": figures.visits,
        "charge_sessions": figures.charge_sessions,
        "energy_kwh": figures.energy_kwh,
        "water_liters": figures.water_liters,
        "dispenses": figures.dispenses,
        "heat_uses": figures.heat_uses,
        "heat_minutes": figures.heat_minutes,
    }


def add(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    """Figure-wise sum (every figure is a count or a sum, so adding districts is exact)."""
    return {key: a.get(key, 0) + b.get(key, 0) for key in a.keys() | b.keys()}


@dataclass(frozen=True)
class StationNow:
    """A station over a range, plus its devices right now."""

    figures: dict[str, float]
    devices_online: int
    devices_seen: int
    open_alarms: int


@dataclass(frozen=True)
class DeviceNow:
    """One device as telemetry last heard of it."""

    device_id: str
    online: bool
    last_seen: datetime
    firmware: str
    alarms: list[tuple[str, str, str, datetime]] = field(default_factory=list)


@dataclass(frozen=True)
class BookingFigures:
    """Bookings and forum opinions over a period (owned by the bookings service): the
    headline figures, and bookings' own statistics per station and in total."""

    values: dict[str, float]
    stations: dict[str, bookings_pb2.BookingStats]
    totals: bookings_pb2.BookingStats


def booking_values(stats: bookings_pb2.BookingStats) -> dict[str, float]:
    """The booking figures of the console by name."""
    return {
        "bookings_confirmed": stats.confirmed,
        "bookings_checked_in": stats.checked_in,
        "bookings_no_show": stats.no_shows,
        "opinions_received": stats.opinions.received,
        "opinions_resolved": stats.opinions.resolved,
        "livestream_households": stats.livestream_households,
        "livestream_sales_yuan": stats.livestream_sales_yuan,
    }


@dataclass(frozen=True)
class OutcomeRow:
    """One livestream slot's recorded outcome."""

    station_id: str
    point_name: str
    starts_at: datetime
    households: int
    sales_yuan: float
    note: str


@dataclass(frozen=True)
class OpinionRow:
    """One opinion raised at a forum session, and the measure it led to if any."""

    station_id: str
    category: str
    text: str
    status: str
    measure: str
    created_at: datetime


class Sources:
    """The gRPC peers behind the console, with one deadline for every call."""

    def __init__(
        self,
        telemetry: "TelemetryQueryAsyncStub",
        insights: "TelemetryInsightsAsyncStub",
        bookings: "BookingReportsAsyncStub",
        records: "BookingRecordsAsyncStub",
        deadline_seconds: float,
    ) -> None:
        self._telemetry = telemetry
        self._insights = insights
        self._bookings = bookings
        self._records = records
        self._deadline = deadline_seconds

    async def _call(self, source: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except grpc.aio.AioRpcError as exc:
            raise SourceDown(source, f"{exc.code().name}: {exc.details()}") from exc

    async def usage_series(
        self, station_ids: Sequence[str] | None, period: Period
    ) -> list[tuple[datetime, dict[str, float]]]:
        """Figures per bucket of the period over these stations (None: the whole network)."""
        request = telemetry_pb2.GetUsageRequest(
            all_stations=station_ids is None,
            station_ids=list(station_ids or []),
            to=to_pb(period.end),
            bucket=period.bucket,
            tz=period.tz,
        )
        getattr(request, "from").CopyFrom(to_pb(period.start))
        reply = await self._call(
            "telemetry", self._telemetry.GetUsage(request, timeout=self._deadline)
        )
        return [(from_pb(b.start), usage_dict(b.figures)) for b in reply.series]

    async def usage_totals(
        self, station_ids: Sequence[str] | None, start: datetime, end: datetime, tz: str
    ) -> dict[str, float]:
        """Totals over [start, end) of these stations (None: the whole network), added up by
        telemetry exactly as GET /api/v1/usage adds them up."""
        request = telemetry_pb2.GetUsageRequest(
            all_stations=station_ids is None,
            station_ids=list(station_ids or []),
            to=to_pb(end),
            bucket="month",
            tz=tz,
        )
        getattr(request, "from").CopyFrom(to_pb(start))
        reply = await self._call(
            "telemetry", self._telemetry.GetUsage(request, timeout=self._deadline)
        )
        return usage_dict(reply.totals)

    async def summarize(
        self, station_ids: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, StationNow]:
        """Per station: figures over [start, end), devices online and open alarms now."""
        if not station_ids:
            return {}
        request = telemetry_pb2.SummarizeStationsRequest(
            station_ids=list(station_ids), to=to_pb(end)
        )
        getattr(request, "from").CopyFrom(to_pb(start))
        reply = await self._call(
            "telemetry", self._telemetry.SummarizeStations(request, timeout=self._deadline)
        )
        return {
            s.station_id: StationNow(
                usage_dict(s.figures), s.devices_online, s.devices_seen, s.open_alarms
            )
            for s in reply.stations
        }

    async def device_states(self, station_id: str) -> list[DeviceNow]:
        """Live state and open alarms of one station's devices."""
        request = telemetry_pb2.GetDeviceStatesRequest(station_id=station_id)
        reply = await self._call(
            "telemetry", self._telemetry.GetDeviceStates(request, timeout=self._deadline)
        )
        return [
            DeviceNow(
                d.device_id,
                d.online,
                from_pb(d.last_seen),
                d.firmware,
                [(a.code, a.severity, a.message, from_pb(a.since)) for a in d.alarms],
            )
            for d in reply.devices
        ]

    async def peak_hours(
        self, stations: insights_pb2.StationSet, period: Period
    ) -> list[insights_pb2.PeakCell]:
        """168 cells (weekday × hour) of the period in its zone."""
        request = insights_pb2.GetPeakHoursRequest(
            stations=stations, to=to_pb(period.end), tz=period.tz
        )
        getattr(request, "from").CopyFrom(to_pb(period.start))
        reply = await self._call(
            "telemetry", self._insights.GetPeakHours(request, timeout=self._deadline)
        )
        return list(reply.cells)

    async def availability(
        self, stations: insights_pb2.StationSet, start: datetime, end: datetime
    ) -> list[insights_pb2.DeviceAvailability]:
        """Observed and online seconds of each device over [start, end)."""
        request = insights_pb2.GetAvailabilityRequest(stations=stations, to=to_pb(end))
        getattr(request, "from").CopyFrom(to_pb(start))
        reply = await self._call(
            "telemetry", self._insights.GetAvailability(request, timeout=self._deadline)
        )
        return list(reply.devices)

    async def open_alarms(
        self, stations: insights_pb2.StationSet, limit: int
    ) -> tuple[list[insights_pb2.OpenAlarm], int]:
        """Open alarms oldest first, and how many are open in all."""
        request = insights_pb2.ListOpenAlarmsRequest(stations=stations, limit=limit)
        reply = await self._call(
            "telemetry", self._insights.ListOpenAlarms(request, timeout=self._deadline)
        )
        return list(reply.alarms), reply.total

    async def acknowledge(
        self, alarm_id: int, stations: insights_pb2.StationSet, by: str, note: str
    ) -> insights_pb2.OpenAlarm | None:
        """Acknowledge an open alarm; None when it is not open among `stations`."""
        request = insights_pb2.AcknowledgeAlarmRequest(
            id=alarm_id, stations=stations, by=by, note=note
        )
        try:
            return await self._insights.AcknowledgeAlarm(request, timeout=self._deadline)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise SourceDown("telemetry", f"{exc.code().name}: {exc.details()}") from exc

    async def dead_letters(
        self, stations: insights_pb2.StationSet, limit: int
    ) -> list[insights_pb2.DeadLetter]:
        """Recent dead letters, newest first."""
        request = insights_pb2.ListDeadLettersRequest(stations=stations, limit=limit)
        reply = await self._call(
            "telemetry", self._insights.ListDeadLetters(request, timeout=self._deadline)
        )
        return list(reply.items)

    async def booking_figures(
        self, station_ids: Sequence[str] | None, start: datetime, end: datetime
    ) -> BookingFigures:
        """Bookings and opinions over [start, end); None: every station."""
        if station_ids is not None and not station_ids:
            # An empty list means "every station" to bookings; here it means none.
            empty = bookings_pb2.BookingStats()
            return BookingFigures(booking_values(empty), {}, empty)
        request = bookings_pb2.GetBookingStatsRequest(
            station_ids=list(station_ids or []), to=to_pb(end)
        )
        getattr(request, "from").CopyFrom(to_pb(start))
        reply = await self._call(
            "bookings", self._bookings.GetBookingStats(request, timeout=self._deadline)
        )
        return BookingFigures(
            booking_values(reply.totals),
            {s.station_id: s.stats for s in reply.stations},
            reply.totals,
        )

    async def outcomes(
        self, station_ids: Sequence[str], start: datetime, end: datetime
    ) -> list[OutcomeRow]:
        """Recorded outcomes of the livestream slots starting in [start, end), oldest first."""
        if not station_ids:
            return []
        request = bookings_pb2.ListLivestreamOutcomesRequest(
            station_ids=list(station_ids), to=to_pb(end)
        )
        getattr(request, "from").CopyFrom(to_pb(start))
        reply = await self._call(
            "bookings", self._records.ListLivestreamOutcomes(request, timeout=self._deadline)
        )
        return [
            OutcomeRow(
                item.station_id,
                item.livestream_point_name,
                from_pb(item.starts_at),
                item.households,
                item.sales_yuan,
                item.note,
            )
            for item in reply.items
        ]

    async def opinions(
        self,
        station_ids: Sequence[str],
        start: datetime | None,
        end: datetime | None,
        unresolved_only: bool,
        limit: int,
    ) -> list[OpinionRow]:
        """Opinions raised in [start, end) (None: whenever), oldest first."""
        if not station_ids:
            return []
        request = bookings_pb2.ListOpinionsRequest(
            station_ids=list(station_ids), unresolved_only=unresolved_only, limit=limit
        )
        if start is not None and end is not None:
            getattr(request, "from").CopyFrom(to_pb(start))
            request.to.CopyFrom(to_pb(end))
        reply = await self._call(
            "bookings", self._records.ListOpinions(request, timeout=self._deadline)
        )
        return [
            OpinionRow(
                item.station_id,
                item.category,
                item.text,
                item.status,
                item.measure,
                from_pb(item.created_at),
            )
            for item in reply.items
        ]
