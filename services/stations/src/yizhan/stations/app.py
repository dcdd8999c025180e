"""Composition root of the stations service: database, gRPC directory, HTTP API, console."""

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import grpc
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.api.stations.v1 import stations_pb2_grpc
from yizhan.api.telemetry.v1 import telemetry_pb2_grpc
from yizhan.common import rpc
from yizhan.common.account_versions import CachedAccountVersions
from yizhan.common.auth import Operator
from yizhan.common.db import create_engine, session_factory
from yizhan.common.http import create_http_app
from yizhan.common.ratelimit import RateLimiter
from yizhan.common.runtime import Component, serve_until_stopped
from yizhan.stations.api import audit_routes, auth_routes, device_routes, station_routes
from yizhan.stations.broker import sync as broker_sync
from yizhan.stations.broker.control import DynsecControl
from yizhan.stations.console import api_routes as console_api
from yizhan.stations.console import assets as console_assets
from yizhan.stations.console import live as console_live
from yizhan.stations.console.routes import router as console_router
from yizhan.stations.console.settings import ConsoleSettings
from yizhan.stations.console.wiring import ConsoleDeps, build_console
from yizhan.stations.context import Deps
from yizhan.stations.login_limits import LoginLimits
from yizhan.stations.operators import current_account
from yizhan.stations.rpc.directory import StationDirectoryServicer
from yizhan.stations.settings import Settings

log = logging.getLogger(__name__)


def build_http_app(deps: Deps, console: ConsoleDeps) -> FastAPI:
    """The HTTP app: operator API, console, health."""

    async def database() -> None:
        async with deps.sessions() as session:
            await session.execute(text("SELECT 1"))

    async def telemetry() -> None:
        await rpc.check_peer(deps.settings.common.telemetry_grpc)

    readiness = {"database": database, "telemetry": telemetry}
    broker = deps.broker
    if broker is not None:

        async def broker_in_step() -> None:
            if not broker.ready:
                raise RuntimeError("broker not connected, or its last resync failed")

        readiness["broker"] = broker_in_step
    app = create_http_app(
        title="Yizhan stations",
        description="Station registry, devices, operators and the operator console.",
        readiness=readiness,
    )
    app.state.deps = deps
    app.state.jwt_secret = deps.settings.common.jwt_secret.get_secret_value()

    async def account_of(username: str) -> Operator | None:
        async with deps.sessions() as session:
            return await current_account(session, username)

    # Stations owns the accounts: no cache, a change counts from the next request.
    app.state.accounts = CachedAccountVersions(account_of, ttl_seconds=0)
    app.include_router(auth_routes.router)
    app.include_router(station_routes.router)
    app.include_router(device_routes.router)
    app.include_router(audit_routes.router)
    app.state.console = console
    app.include_router(console_router)
    app.include_router(console_live.router)
    app.include_router(console_assets.router)
    app.include_router(console_api.router)
    return app


def _broker(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> tuple[DynsecControl | None, broker_sync.BrokerSync | None]:
    """The broker admin connection and the resync, when stations manages the broker."""
    if settings.broker_security != "dynsec" or settings.broker_admin_password is None:
        log.warning(
            "broker credentials are not managed (YZ_STATIONS_BROKER_SECURITY=off): "
            "any client may connect to the broker"
        )
        return None, None
    syncer: list[broker_sync.BrokerSync] = []
    control = DynsecControl(
        host=settings.common.mqtt_host,
        port=settings.common.mqtt_port,
        username=settings.broker_admin_username,
        password=settings.broker_admin_password.get_secret_value(),
        timeout_seconds=settings.broker_timeout_seconds,
        reconnect_max_seconds=settings.broker_reconnect_max_seconds,
        # Every (re)connect may find a broker that lost or missed changes: resync then.
        on_ready=lambda: syncer[0].request_resync(),
    )
    syncer.append(broker_sync.BrokerSync(control, sessions, settings))
    return control, syncer[0]


async def serve(settings: Settings) -> None:
    """Run the stations service until SIGINT/SIGTERM."""
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    token = settings.common.service_token.get_secret_value()
    telemetry_channel = rpc.aio_channel(settings.common.telemetry_grpc, token)
    # The console's booking figures; stations itself does not need bookings to be ready.
    bookings_channel = rpc.aio_channel(settings.common.bookings_grpc, token)
    console = build_console(ConsoleSettings(), telemetry_channel, bookings_channel)
    control, broker = _broker(settings, sessions)
    deps = Deps(
        settings=settings,
        sessions=sessions,
        telemetry=telemetry_pb2_grpc.TelemetryQueryStub(telemetry_channel),
        login_limits=LoginLimits.from_settings(RateLimiter(sessions), settings),
        token_ttl=timedelta(minutes=settings.common.jwt_ttl_minutes),
        broker=broker,
    )

    @contextlib.asynccontextmanager
    async def grpc_server() -> AsyncIterator[None]:
        def register(server: grpc.aio.Server) -> None:
            stations_pb2_grpc.add_StationDirectoryServicer_to_server(
                StationDirectoryServicer(sessions, settings.common.jwt_secret.get_secret_value()),
                server,
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

    components: list[Component] = [grpc_server]
    if control is not None and broker is not None:
        components.append(lambda: broker_sync.running(broker, control))
    try:
        await serve_until_stopped(
            app=build_http_app(deps, console),
            host=settings.common.bind_host,
            port=settings.http_port,
            components=components,
            trusted_proxies=settings.common.trusted_proxies,
        )
    finally:
        await bookings_channel.close()
        await telemetry_channel.close()
        await engine.dispose()
