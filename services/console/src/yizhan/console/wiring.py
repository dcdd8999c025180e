"""What the console's handlers need: its settings and its gRPC peers (telemetry and bookings
for figures, stations for who and what exists). Built once by app.py, kept on app.state.console."""

from dataclasses import dataclass
from typing import Annotated

import grpc
from fastapi import Depends, Request

from yizhan.api.bookings.v1 import bookings_pb2_grpc
from yizhan.api.stations.v1 import stations_pb2_grpc
from yizhan.api.telemetry.v1 import (
    insights_pb2_grpc,
    notifications_pb2_grpc,
    telemetry_pb2_grpc,
)
from yizhan.console.peers.bookings import BookingsAdmin
from yizhan.console.peers.notifications import Notifications
from yizhan.console.peers.operators import OperatorAccounts
from yizhan.console.peers.stations import StationsDirectory
from yizhan.console.settings import ConsoleSettings
from yizhan.console.sources import Sources


@dataclass
class ConsoleDeps:
    """The console's dependencies."""

    settings: ConsoleSettings
    sources: Sources
    directory: StationsDirectory
    # Alarm notification channels and deliveries (telemetry), on an operator's behalf.
    notifications: Notifications
    # Operator accounts (stations), on an operator's behalf.
    operators: OperatorAccounts
    # Livestream points, forum sessions, opinions, check-ins (bookings), on an operator's behalf.
    bookings_admin: BookingsAdmin


def build_console(
    settings: ConsoleSettings,
    stations: grpc.aio.Channel,
    telemetry: grpc.aio.Channel,
    bookings: grpc.aio.Channel,
) -> ConsoleDeps:
    """The console's clients on the channels to its three peers."""
    deadline = settings.rpc_deadline_seconds
    sources = Sources(
        telemetry_pb2_grpc.TelemetryQueryStub(telemetry),
        insights_pb2_grpc.TelemetryInsightsStub(telemetry),
        bookings_pb2_grpc.BookingReportsStub(bookings),
        bookings_pb2_grpc.BookingRecordsStub(bookings),
        deadline,
    )
    directory = StationsDirectory(
        stations_pb2_grpc.StationDirectoryStub(stations),
        stations_pb2_grpc.OperatorLoginStub(stations),
        stations_pb2_grpc.StationAdminStub(stations),
        deadline,
    )
    notifications = Notifications(notifications_pb2_grpc.NotificationAdminStub(telemetry), deadline)
    operators = OperatorAccounts(stations_pb2_grpc.OperatorAdminStub(stations), deadline)
    bookings_admin = BookingsAdmin(bookings_pb2_grpc.BookingAdminStub(bookings), deadline)
    return ConsoleDeps(settings, sources, directory, notifications, operators, bookings_admin)


def get_console(request: Request) -> ConsoleDeps:
    """The console's dependencies, set up by app.py."""
    console: ConsoleDeps = request.app.state.console
    return console


def get_directory(request: Request) -> StationsDirectory:
    """The stations directory client, set up by app.py."""
    return get_console(request).directory


def get_bookings_admin(request: Request) -> BookingsAdmin:
    """The bookings management client, set up by app.py."""
    return get_console(request).bookings_admin


ConsoleDep = Annotated[ConsoleDeps, Depends(get_console)]
DirectoryDep = Annotated[StationsDirectory, Depends(get_directory)]
BookingsAdminDep = Annotated[BookingsAdmin, Depends(get_bookings_admin)]
