"""Composition root of the stations service: database, gRPC directory and login, HTTP API.
Stations calls no other service at run time (the console, its old tenant, is a service of its
own that calls stations)."""

import logging
from datetime import timedelta

import grpc
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.api.stations.v1 import stations_pb2_grpc
from yizhan.common.account_versions import CachedAccountVersions
from yizhan.common.auth import Operator
from yizhan.common.db import create_engine, database_ping, session_factory
from yizhan.common.http import create_http_app
from yizhan.common.ratelimit import RateLimiter
from yizhan.common.runtime import Component
from yizhan.common.service import serve_service
from yizhan.stations.api import (
    audit_routes,
    auth_routes,
    broker_hook_routes,
    device_routes,
    import_routes,
    operator_routes,
    station_routes,
)
from yizhan.stations.broker import sync as broker_sync
from yizhan.stations.broker.control import DynsecControl
from yizhan.stations.context import Deps
from yizhan.stations.login_limits import LoginLimits
from yizhan.stations.operators import current_account
from yizhan.stations.rpc.directory import StationDirectoryServicer
from yizhan.stations.rpc.operator_admin import OperatorAdminServicer
from yizhan.stations.rpc.operator_login import OperatorLoginServicer
from yizhan.stations.rpc.station_admin import StationAdminServicer
from yizhan.stations.settings import Settings

log = logging.getLogger(__name__)


def build_http_app(deps: Deps) -> FastAPI:
    """The HTTP app: operator API, health, and the redirect from the console's old address."""

    readiness = {"database": database_ping(deps.sessions)}
    broker = deps.broker
    if broker is not None:

        async def broker_in_step() -> None:
            if not broker.ready:
                raise RuntimeError("broker not connected, or its last resync failed")

        readiness["broker"] = broker_in_step
    app = create_http_app(
        title="Yizhan stations",
        description="Station registry, devices, credentials and operators.",
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
    app.include_router(operator_routes.router)
    app.include_router(broker_hook_routes.router)
    app.include_router(import_routes.router)
    console_url = deps.settings.console_url.rstrip("/")

    @app.api_route("/console/{rest:path}", methods=["GET", "POST"], include_in_schema=False)
    async def console_moved(request: Request, rest: str) -> RedirectResponse:
        """The console is its own service now (CONTRACT §1): old bookmarks land there."""
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"{console_url}/console/{rest}{query}", status_code=308)

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
    control, broker = _broker(settings, sessions)
    deps = Deps(
        settings=settings,
        sessions=sessions,
        login_limits=LoginLimits.from_settings(RateLimiter(sessions), settings),
        token_ttl=timedelta(minutes=settings.common.jwt_ttl_minutes),
        broker=broker,
    )

    def register(server: grpc.aio.Server) -> None:
        stations_pb2_grpc.add_StationDirectoryServicer_to_server(
            StationDirectoryServicer(sessions, settings.common.jwt_secret.get_secret_value()),
            server,
        )
        stations_pb2_grpc.add_OperatorLoginServicer_to_server(OperatorLoginServicer(deps), server)
        stations_pb2_grpc.add_StationAdminServicer_to_server(
            StationAdminServicer(deps, settings.common.jwt_secret.get_secret_value()), server
        )
        stations_pb2_grpc.add_OperatorAdminServicer_to_server(
            OperatorAdminServicer(deps, settings.common.jwt_secret.get_secret_value()), server
        )

    components: list[Component] = []
    if control is not None and broker is not None:
        components.append(lambda: broker_sync.running(broker, control))
    try:
        await serve_service(
            settings,
            app=build_http_app(deps),
            register=register,
            grpc_services=[
                "yizhan.api.stations.v1.StationDirectory",
                "yizhan.api.stations.v1.OperatorLogin",
                "yizhan.api.stations.v1.StationAdmin",
                "yizhan.api.stations.v1.OperatorAdmin",
            ],
            components=components,
        )
    finally:
        await engine.dispose()
