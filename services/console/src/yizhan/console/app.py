"""Composition root of the console service: HTTP only, no database; its figures and its
stations come from telemetry, bookings and stations over gRPC."""

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from yizhan.api.stations.v1 import stations_pb2_grpc
from yizhan.api.telemetry.v1 import insights_pb2_grpc
from yizhan.common import rpc
from yizhan.common.account_versions import CachedAccountVersions, stations_account_fetch
from yizhan.common.auth import AccountVersions
from yizhan.common.http import create_http_app, problem
from yizhan.common.runtime import Component, background_task, serve_until_stopped
from yizhan.console import (
    api_routes,
    assets,
    bookings_manage,
    channel_routes,
    live,
    manage_devices,
    manage_import,
    manage_routes,
    manage_station_edit,
    operator_routes,
    opinions_manage,
    report_routes,
    report_schedule,
)
from yizhan.console.i18n import translator
from yizhan.console.routes import router as pages_router
from yizhan.console.session import request_lang
from yizhan.console.settings import ConsoleSettings
from yizhan.console.sources import SourceDown
from yizhan.console.wiring import ConsoleDeps, build_console

log = logging.getLogger(__name__)


async def _source_down(request: Request, exc: Exception) -> Response:
    """A peer every page needs (stations: who may see what) did not answer: 503, not 500."""
    assert isinstance(exc, SourceDown)
    log.warning("console peer unavailable", extra={"source": exc.source, "detail": str(exc)})
    if request.url.path.startswith("/api/"):
        return problem(503, "Service unavailable", str(exc), code=f"{exc.source}_unavailable")
    t = translator(request_lang(request))
    return HTMLResponse(t(f"{exc.source}_unavailable"), status_code=503)


def build_http_app(console: ConsoleDeps, accounts: AccountVersions) -> FastAPI:
    """The console's pages, assets, live streams and JSON/CSV API, plus health."""
    # Nothing of its own to wait for: the console is ready when it listens; its peers are
    # reported as degraded (and on each page that misses them).
    common = console.settings.common
    app = create_http_app(
        title="Yizhan console",
        description="The operator console: figures of the station network, read over gRPC.",
        readiness={},
        peers={
            "stations": common.stations_grpc,
            "telemetry": common.telemetry_grpc,
            "bookings": common.bookings_grpc,
        },
        peer_tls=common.grpc_tls(),
    )
    app.state.console = console
    app.state.jwt_secret = console.settings.common.jwt_secret.get_secret_value()
    # A session acts with its operator's account as it is now (yizhan.common.account_versions).
    app.state.accounts = accounts
    app.add_exception_handler(SourceDown, _source_down)
    app.include_router(pages_router)
    app.include_router(live.router)
    app.include_router(assets.router)
    app.include_router(api_routes.router)
    app.include_router(manage_routes.router)
    app.include_router(report_routes.router)
    app.include_router(channel_routes.router)
    app.include_router(operator_routes.router)
    app.include_router(manage_station_edit.router)
    app.include_router(manage_devices.router)
    app.include_router(manage_import.router)
    app.include_router(bookings_manage.router)
    app.include_router(opinions_manage.router)
    return app


async def serve(settings: ConsoleSettings) -> None:
    """Run the console until SIGINT/SIGTERM."""
    common = settings.common
    token = common.service_token.get_secret_value()
    grpc_tls = common.grpc_tls()
    stations = rpc.aio_channel(common.stations_grpc, token, grpc_tls)
    telemetry = rpc.aio_channel(common.telemetry_grpc, token, grpc_tls)
    bookings = rpc.aio_channel(common.bookings_grpc, token, grpc_tls)
    accounts = CachedAccountVersions(
        stations_account_fetch(
            stations_pb2_grpc.StationDirectoryStub(stations),
            lambda exc: SourceDown("stations", f"{exc.code().name}: {exc.details()}"),
        ),
        common.account_cache_seconds,
    )
    console = build_console(settings, stations, telemetry, bookings)
    components: list[Component] = []
    if settings.report_schedule_seconds > 0:
        notices = insights_pb2_grpc.ReportNoticesStub(telemetry)

        async def monthly_reports() -> None:
            await report_schedule.run_forever(
                console, notices, lambda: datetime.now(ZoneInfo(settings.timezone))
            )

        components.append(lambda: background_task("monthly-reports", monthly_reports))
    try:
        await serve_until_stopped(
            app=build_http_app(console, accounts),
            host=common.bind_host,
            port=settings.http_port,
            components=components,
            trusted_proxies=common.trusted_proxies,
        )
    finally:
        for channel in (bookings, telemetry, stations):
            await channel.close()
