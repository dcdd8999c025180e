"""gRPC StationDirectory: how telemetry, bookings and the console ask about stations and
devices."""

import json
from datetime import UTC, datetime, timedelta

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.api.stations.v1 import stations_pb2, stations_pb2_grpc
from yizhan.common.pbtime import from_pb, to_pb
from yizhan.common.rpc import ServicerContext
from yizhan.stations import repository
from yizhan.stations.models import Device, Station
from yizhan.stations.opening_hours import open_intervals
from yizhan.stations.operators import current_account
from yizhan.stations.rpc.scope_check import check_scope

# Longest range GetOpeningHours expands, so one call cannot ask for years of intervals.
MAX_OPENING_HOURS_DAYS = 400


def station_message(station: Station, device_count: int = 0) -> stations_pb2.Station:
    """The gRPC view of a station."""
    return stations_pb2.Station(
        id=station.id,
        name_zh=station.name_zh,
        name_en=station.name_en,
        district=station.district,
        timezone=station.timezone,
        status=station.status,
        address=station.address,
        device_count=device_count,
        latitude=station.latitude,
        longitude=station.longitude,
        amenities=list(station.amenities or []),
        open_now=is_open_now(station),
        host_type=station.host_type,
        opening_hours_json=json.dumps(station.opening_hours) if station.opening_hours else "",
    )


def is_open_now(station: Station) -> bool:
    """Whether an active station's hours (with their exceptions) say open at this moment."""
    if station.status != "active":
        return False
    now = datetime.now(UTC)
    return bool(
        open_intervals(
            station.opening_hours,
            station.timezone,
            now,
            now + timedelta(seconds=1),
            station.opening_exceptions,
        )
    )


def device_message(device: Device, district: str) -> stations_pb2.Device:
    """The gRPC view of a device."""
    return stations_pb2.Device(
        id=device.id,
        station_id=device.station_id,
        kind=device.kind,
        status=device.status,
        district=district,
        model=device.model or "",
    )


class StationDirectoryServicer(stations_pb2_grpc.StationDirectoryServicer):
    """Answers from the stations database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], jwt_secret: str) -> None:
        self._sessions = sessions
        self._jwt_secret = jwt_secret

    async def GetStation(
        self, request: stations_pb2.GetStationRequest, context: ServicerContext
    ) -> stations_pb2.Station:
        async with self._sessions() as session:
            station = await repository.get_station(session, request.id)
            if station is None:
                await context.abort(grpc.StatusCode.NOT_FOUND, f"no station {request.id}")
            counts = await repository.device_counts(session, [station.id])
        return station_message(station, counts.get(station.id, 0))

    async def ListStations(
        self, request: stations_pb2.ListStationsRequest, context: ServicerContext
    ) -> stations_pb2.ListStationsResponse:
        async with self._sessions() as session:
            stations = await repository.list_stations(
                session,
                districts=list(request.districts) or None,
                ids=list(request.ids) or None,
            )
            counts = await repository.device_counts(session, [s.id for s in stations])
        return stations_pb2.ListStationsResponse(
            stations=[station_message(s, counts.get(s.id, 0)) for s in stations]
        )

    async def ResolveDevice(
        self,
        request: stations_pb2.ResolveDeviceRequest,
        context: ServicerContext,
    ) -> stations_pb2.Device:
        async with self._sessions() as session:
            device = await repository.get_device(session, request.device_id)
            if device is None:
                await context.abort(grpc.StatusCode.NOT_FOUND, f"no device {request.device_id}")
            station = await repository.get_station(session, device.station_id)
        return device_message(device, station.district if station else "")

    async def ListDevices(
        self, request: stations_pb2.ListDevicesRequest, context: ServicerContext
    ) -> stations_pb2.ListDevicesResponse:
        ids = list(request.station_ids)
        async with self._sessions() as session:
            stations = await repository.list_stations(session, ids=ids) if ids else []
            devices = await repository.devices_of(session, ids)
        district = {s.id: s.district for s in stations}
        return stations_pb2.ListDevicesResponse(
            devices=[device_message(d, district.get(d.station_id, "")) for d in devices]
        )

    async def GetOpeningHours(
        self,
        request: stations_pb2.GetOpeningHoursRequest,
        context: ServicerContext,
    ) -> stations_pb2.GetOpeningHoursResponse:
        try:
            start, end = from_pb(getattr(request, "from")), from_pb(request.to)
        except (ValueError, OverflowError):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "timestamps out of range")
        if (end - start).days > MAX_OPENING_HOURS_DAYS:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "range too long")
        async with self._sessions() as session:
            station = await repository.get_station(session, request.station_id)
        if station is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no station {request.station_id}")
        # A suspended or closed station takes no bookings: it has no open intervals.
        intervals = (
            open_intervals(
                station.opening_hours,
                station.timezone,
                start,
                end,
                station.opening_exceptions,
            )
            if station.status == "active"
            else []
        )
        return stations_pb2.GetOpeningHoursResponse(
            timezone=station.timezone,
            intervals=[
                stations_pb2.OpenInterval(start=to_pb(a), end=to_pb(b)) for a, b in intervals
            ],
        )

    async def CheckOperatorScope(
        self,
        request: stations_pb2.CheckOperatorScopeRequest,
        context: ServicerContext,
    ) -> stations_pb2.CheckOperatorScopeResponse:
        async with self._sessions() as session:
            return await check_scope(session, self._jwt_secret, request)

    async def GetOperatorAccount(
        self, request: stations_pb2.GetOperatorAccountRequest, context: ServicerContext
    ) -> stations_pb2.OperatorAccountVersion:
        async with self._sessions() as session:
            account = await current_account(session, request.username)
        if account is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such operator")
        return stations_pb2.OperatorAccountVersion(
            username=account.username,
            version=account.version,
            role=account.role,
            districts=list(account.districts),
        )
