"""What the console's handlers need beyond the stations service's own Deps: the gRPC
sources of its figures and its settings. Built once by app.py, kept on app.state.console."""

from dataclasses import dataclass
from typing import Annotated

import grpc
from fastapi import Depends, Request

from yizhan.api.bookings.v1 import bookings_pb2_grpc
from yizhan.api.telemetry.v1 import insights_pb2_grpc, telemetry_pb2_grpc
from yizhan.stations.console.settings import ConsoleSettings
from yizhan.stations.console.sources import Sources


@dataclass
class ConsoleDeps:
    """The console's dependencies."""

    settings: ConsoleSettings
    sources: Sources


def build_console(
    settings: ConsoleSettings, telemetry: grpc.aio.Channel, bookings: grpc.aio.Channel
) -> ConsoleDeps:
    """The console's sources on the channels to telemetry and bookings."""
    sources = Sources(
        telemetry_pb2_grpc.TelemetryQueryStub(telemetry),
        insights_pb2_grpc.TelemetryInsightsStub(telemetry),
        bookings_pb2_grpc.BookingReportsStub(bookings),
        settings.rpc_deadline_seconds,
    )
    return ConsoleDeps(settings, sources)


def get_console(request: Request) -> ConsoleDeps:
    """The console's dependencies, set up by app.py."""
    console: ConsoleDeps = request.app.state.console
    return console


ConsoleDep = Annotated[ConsoleDeps, Depends(get_console)]
