"""gRPC TelemetryQuery: the same figures and states as the HTTP API, for the other services
(the console shows today's person-visits and devices online per station)."""

from datetime import datetime
from typing import NoReturn

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.api.telemetry.v1 import telemetry_pb2, telemetry_pb2_grpc
from yizhan.common.pbtime import from_pb, to_pb
from yizhan.telemetry import device_state, usage
from yizhan.telemetry.usage import Figures

DEFAULT_BUCKET = "day"
DEFAULT_TZ = "Asia/Shanghai"

Context = grpc.aio.ServicerContext[object, object]


def figures_pb(figures: Figures) -> telemetry_pb2.UsageFigures:
    """Figures as the protobuf message."""
    return telemetry_pb2.UsageFigures(
        visits=figures.visits,
        charge_sessions=figures.charge_sessions,
        energy_kwh=figures.energy_kwh,
        water_liters=float(figures.water_liters),
        dispenses=figures.dispenses,
        heat_uses=figures.heat_uses,
        heat_minutes=figures.heat_minutes,
    )


class TelemetryQueryServicer(telemetry_pb2_grpc.TelemetryQueryServicer):
    """Read-only queries; callers are trusted services (operator scope is theirs to apply)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        offline_after_seconds: int,
    ) -> None:
        self._sessions = sessions
        self._offline_after = offline_after_seconds

    async def GetUsage(
        self, request: telemetry_pb2.GetUsageRequest, context: Context
    ) -> telemetry_pb2.GetUsageResponse:
        """Usage figures in calendar buckets; the same numbers as GET /api/v1/usage."""
        start, end = _range(request)
        # Scope arrives as station ids (the caller resolved its districts): no call back.
        checked = usage.check_usage_query(
            "network", start, end, request.bucket or DEFAULT_BUCKET, request.tz or DEFAULT_TZ
        )
        if isinstance(checked, list):
            await _invalid(context, "; ".join(f"{name}: {message}" for name, message in checked))
        station_ids = None if request.all_stations else list(request.station_ids)
        async with self._sessions() as session:
            result = await usage.usage_series(
                session,
                station_ids=station_ids,
                start=checked.start,
                end=checked.end,
                bucket=checked.bucket,
                tz=checked.tz,
            )
        return telemetry_pb2.GetUsageResponse(
            series=[
                telemetry_pb2.UsageBucket(start=to_pb(start_at), figures=figures_pb(figures))
                for start_at, figures in result.series
            ],
            totals=figures_pb(result.totals),
        )

    async def SummarizeStations(
        self, request: telemetry_pb2.SummarizeStationsRequest, context: Context
    ) -> telemetry_pb2.SummarizeStationsResponse:
        """Per-station figures over [from, to) plus devices online now."""
        start, end = _range(request)
        if start is None or end is None or end <= start:
            await _invalid(context, "from and to are required, from before to")
        station_ids = list(dict.fromkeys(request.station_ids))
        if not station_ids:
            return telemetry_pb2.SummarizeStationsResponse()
        async with self._sessions() as session:
            figures = await usage.usage_by_station(session, station_ids, start, end)
            counts = await device_state.device_counts(session, station_ids, self._offline_after)
        summaries = []
        for station_id in station_ids:
            count = counts.get(station_id, device_state.DeviceCounts())
            summaries.append(
                telemetry_pb2.StationSummary(
                    station_id=station_id,
                    figures=figures_pb(figures.get(station_id, Figures())),
                    devices_online=count.online,
                    devices_seen=count.seen,
                    open_alarms=count.open_alarms,
                )
            )
        return telemetry_pb2.SummarizeStationsResponse(stations=summaries)

    async def GetDeviceStates(
        self, request: telemetry_pb2.GetDeviceStatesRequest, context: Context
    ) -> telemetry_pb2.GetDeviceStatesResponse:
        """Live state and open alarms of one station's devices."""
        if not request.station_id:
            await _invalid(context, "station_id is required")
        async with self._sessions() as session:
            states = await device_state.device_states(
                session, request.station_id, self._offline_after
            )
        return telemetry_pb2.GetDeviceStatesResponse(
            devices=[
                telemetry_pb2.DeviceState(
                    device_id=state.device_id,
                    online=state.online,
                    last_seen=to_pb(state.last_seen),
                    firmware=state.firmware or "",
                    alarms=[
                        telemetry_pb2.Alarm(
                            code=alarm.code,
                            severity=alarm.severity,
                            message=alarm.message or "",
                            since=to_pb(alarm.since),
                        )
                        for alarm in state.alarms
                    ],
                    charging=[
                        telemetry_pb2.ChargingSession(
                            session=c.session, connector=c.connector or 0, since=to_pb(c.since)
                        )
                        for c in state.charging
                    ],
                )
                for state in states
            ]
        )

    async def ListDeviceAvailability(
        self, request: telemetry_pb2.ListDeviceAvailabilityRequest, context: Context
    ) -> telemetry_pb2.ListDeviceAvailabilityResponse:
        """What each device of these stations (or all) can offer now."""
        station_ids = None if request.all_stations else list(request.station_ids)
        async with self._sessions() as session:
            found = await device_state.live_devices(session, station_ids, self._offline_after)
        return telemetry_pb2.ListDeviceAvailabilityResponse(
            devices=[
                telemetry_pb2.LiveDevice(
                    device_id=d.device_id,
                    station_id=d.station_id,
                    online=d.online,
                    last_seen=to_pb(d.last_seen),
                    charging=d.charging,
                    critical_alarm=d.critical_alarm,
                    any_alarm=d.any_alarm,
                )
                for d in found
            ]
        )


def _range(
    request: telemetry_pb2.GetUsageRequest | telemetry_pb2.SummarizeStationsRequest,
) -> tuple[datetime | None, datetime | None]:
    # `from` is a Python keyword: the generated attribute is only reachable by name.
    start = from_pb(getattr(request, "from")) if request.HasField("from") else None
    end = from_pb(request.to) if request.HasField("to") else None
    return start, end


async def _invalid(context: Context, message: str) -> NoReturn:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, message)
    raise AssertionError("abort returns only by raising")
