"""Composition root of the stations service: database, gRPC directory, HTTP API, console."""

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import grpc
from fastapi import FastAPI
from sqlalchemy import text

from yizhan.api.stations.v1 import stations_pb2_grpc
from yizhan.api.telemetry.v1 import telemetry_pb2_grpc
from yizhan.common import rpc
from yizhan.common.db import create_engine, session_factory
from yizhan.common.http import create_http_app
from yizhan.common.runtime import serve_until_stopped
from yizhan.stations.api import auth_routes, device_routes, station_routes
from yizhan.stations.console.routes import router as console_router
from yizhan.stations.context import Deps
from yizhan.stations.login_limiter import LoginLimiter
from yizhan.stations.rpc.directory import StationDirectoryServicer
from yizhan.stations.settings import Settings


def build_http_app(deps: Deps) -> FastAPI:
    """The HTTP app: operator API, console, health."""

    async def database() -> None:
        async with deps.sessions() as session:
            await session.execute(text("SELECT 1"))

    async def telemetry() -> None:
        await rpc.check_peer(deps.settings.common.telemetry_grpc)

    app = create_http_app(
        title="Yizhan stations",
        description="Station registry, devices, operators and the operator console.",
        readiness={"database": database, "telemetry": telemetry},
    )
    app.state.deps = deps
    app.state.jwt_secret = deps.settings.common.jwt_secret.get_secret_value()
    app.include_router(auth_routes.router)
    app.include_router(station_routes.router)
    app.include_router(device_routes.router)
    app.include_router(console_router)
    return app


async def serve(settings: Settings) -> None:
    """Run the stations service until SIGINT/SIGTERM."""
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    token = settings.common.service_token.get_secret_value()
    telemetry_channel = rpc.aio_channel(settings.common.telemetry_grpc, token)
    deps = Deps(
        settings=settings,
        sessions=sessions,
        telemetry=telemetry_pb2_grpc.TelemetryQueryStub(telemetry_channel),
        login_limiter=LoginLimiter(settings.login_attempts_per_minute),
        token_ttl=timedelta(minutes=settings.common.jwt_ttl_minutes),
    )

    @contextlib.asynccontextmanager
    async def grpc_server() -> AsyncIterator[None]:
        def register(server: grpc.aio.Server) -> None:
            stations_pb2_grpc.add_StationDirectoryServicer_to_server(
                StationDirectoryServicer(sessions), server
            )

        server, health = await rpc.start_server(
            host=settings.common.bind_host,
            port=settings.grpc_port,
            service_token=token,
            register=register,
            service_names=["yizhan.api.stations.v1.StationDirectory"],
        )
        try:
            yield
        finally:
            await rpc.stop_server(server, health)

    try:
        await serve_until_stopped(
            app=build_http_app(deps),
            host=settings.common.bind_host,
            port=settings.http_port,
            components=[grpc_server],
        )
    finally:
        await telemetry_channel.close()
        await engine.dispose()
