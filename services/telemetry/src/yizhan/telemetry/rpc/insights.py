"""gRPC TelemetryInsights: peak hours, availability, open alarms and dead letters for the
operator console (proto/yizhan/api/telemetry/v1/insights.proto)."""

from datetime import datetime, timedelta
from typing import NoReturn

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.api.telemetry.v1 import insights_pb2, insights_pb2_grpc
from yizhan.common.pbtime import from_pb, to_pb
from yizhan.telemetry import alarm_desk, dead_letters, peak_hours, presence, usage
from yizhan.telemetry.rpc.query import DEFAULT_TZ, figures_pb

Context = grpc.aio.ServicerContext[object, object]

DEFAULT_ALARMS, MAX_ALARMS = 200, 1000
DEFAULT_DEAD_LETTERS, MAX_DEAD_LETTERS = 100, 1000
# A dead letter's payload is at most 16 KiB; the console shows its beginning.
PAYLOAD_EXCERPT_BYTES = 512
# A year of hours for the heatmap; availability reads intervals, so it may span longer.
MAX_PEAK_HOURS_DAYS = 400
MAX_AVAILABILITY_DAYS = 800


def station_ids(stations: insights_pb2.StationSet) -> list[str] | None:
    """The stations of a request; None for the whole network."""
    return None if stations.all else list(dict.fromkeys(stations.station_ids))


def alarm_pb(alarm: alarm_desk.OpenAlarm) -> insights_pb2.OpenAlarm:
    """An open alarm as the protobuf message."""
    message = insights_pb2.OpenAlarm(
        id=alarm.id,
        device_id=alarm.device_id or "",
        station_id=alarm.station_id,
        code=alarm.code,
        severity=alarm.severity,
        message=alarm.message or "",
        since=to_pb(alarm.since),
        acknowledged_by=alarm.acknowledged_by or "",
        note=alarm.note or "",
    )
    if alarm.acknowledged_at is not None:
        message.acknowledged_at.CopyFrom(to_pb(alarm.acknowledged_at))
    return message


class TelemetryInsightsServicer(insights_pb2_grpc.TelemetryInsightsServicer):
    """Answers from the telemetry database; scope is what the caller passes."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def GetPeakHours(
        self, request: insights_pb2.GetPeakHoursRequest, context: Context
    ) -> insights_pb2.GetPeakHoursResponse:
        start, end = await _range(request, context, MAX_PEAK_HOURS_DAYS)
        tz = request.tz or DEFAULT_TZ
        checked = usage.check_usage_query("network", start, end, "hour", tz)
        if isinstance(checked, list):
            await _invalid(context, "; ".join(f"{name}: {message}" for name, message in checked))
        async with self._sessions() as session:
            cells = await peak_hours.peak_hours(
                session, station_ids(request.stations), start, end, tz
            )
        return insights_pb2.GetPeakHoursResponse(
            cells=[
                insights_pb2.PeakCell(weekday=day, hour=hour, figures=figures_pb(figures))
                for (day, hour), figures in sorted(cells.items())
            ]
        )

    async def GetAvailability(
        self, request: insights_pb2.GetAvailabilityRequest, context: Context
    ) -> insights_pb2.GetAvailabilityResponse:
        start, end = await _range(request, context, MAX_AVAILABILITY_DAYS)
        async with self._sessions() as session:
            rows = await presence.availability(session, station_ids(request.stations), start, end)
        return insights_pb2.GetAvailabilityResponse(
            devices=[
                insights_pb2.DeviceAvailability(
                    device_id=row.device_id,
                    station_id=row.station_id,
                    observed_seconds=row.observed_seconds,
                    online_seconds=row.online_seconds,
                    working_seconds=row.working_seconds,
                )
                for row in rows
            ]
        )

    async def ListOpenAlarms(
        self, request: insights_pb2.ListOpenAlarmsRequest, context: Context
    ) -> insights_pb2.ListOpenAlarmsResponse:
        limit = _limit(request.limit, DEFAULT_ALARMS, MAX_ALARMS)
        async with self._sessions() as session:
            alarms, total = await alarm_desk.open_alarms(
                session, station_ids(request.stations), limit
            )
        return insights_pb2.ListOpenAlarmsResponse(
            alarms=[alarm_pb(alarm) for alarm in alarms], total=total
        )

    async def AcknowledgeAlarm(
        self, request: insights_pb2.AcknowledgeAlarmRequest, context: Context
    ) -> insights_pb2.OpenAlarm:
        if not request.by:
            await _invalid(context, "by is required")
        if len(request.note) > alarm_desk.MAX_NOTE_LENGTH:
            await _invalid(context, f"note: at most {alarm_desk.MAX_NOTE_LENGTH} characters")
        async with self._sessions() as session:
            alarm = await alarm_desk.acknowledge(
                session, request.id, station_ids(request.stations), request.by, request.note
            )
        if alarm is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no open alarm {request.id}")
        return alarm_pb(alarm)

    async def ListDeadLetters(
        self, request: insights_pb2.ListDeadLettersRequest, context: Context
    ) -> insights_pb2.ListDeadLettersResponse:
        limit = _limit(request.limit, DEFAULT_DEAD_LETTERS, MAX_DEAD_LETTERS)
        async with self._sessions() as session:
            rows = await dead_letters.recent(
                session,
                station_ids=station_ids(request.stations),
                reason=request.reason or None,
                before_id=None,
                limit=limit,
            )
        return insights_pb2.ListDeadLettersResponse(
            items=[
                insights_pb2.DeadLetter(
                    id=row.id,
                    received_at=to_pb(row.received_at),
                    topic=row.topic,
                    station_id=row.station_id or "",
                    device_id=row.device_id or "",
                    reason=row.reason,
                    detail=row.detail,
                    payload_excerpt=bytes(row.payload[:PAYLOAD_EXCERPT_BYTES]).decode(
                        "utf-8", errors="replace"
                    ),
                )
                for row in rows
            ]
        )


def _limit(asked: int, default: int, most: int) -> int:
    return default if asked <= 0 else min(asked, most)


async def _range(
    request: insights_pb2.GetPeakHoursRequest | insights_pb2.GetAvailabilityRequest,
    context: Context,
    max_days: int,
) -> tuple[datetime, datetime]:
    # `from` is a Python keyword: the generated attribute is only reachable by name.
    if not request.HasField("from") or not request.HasField("to"):
        await _invalid(context, "from and to are required")
    start, end = from_pb(getattr(request, "from")), from_pb(request.to)
    if end <= start:
        await _invalid(context, "to: must be after from")
    if end - start > timedelta(days=max_days):
        await _invalid(context, f"range longer than {max_days} days")
    return start, end


async def _invalid(context: Context, message: str) -> NoReturn:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, message)
    raise AssertionError("abort returns only by raising")
