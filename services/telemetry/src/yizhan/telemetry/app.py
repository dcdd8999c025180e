"""Composition root of the telemetry API process (`yz-telemetry serve`): database, gRPC
queries, HTTP API, presence sampling and purges. The MQTT ingest is a process of its own
(ingest_app.py), so its threads and garbage-collector tuning stay out of this one."""

import logging

import grpc
from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from yizhan.api.stations.v1 import stations_pb2_grpc
from yizhan.api.telemetry.v1 import (
    insights_pb2_grpc,
    notifications_pb2_grpc,
    telemetry_pb2_grpc,
)
from yizhan.common import rpc
from yizhan.common.account_versions import CachedAccountVersions, stations_account_fetch
from yizhan.common.auth import AccountVersions
from yizhan.common.db import create_engine, database_ping, session_factory
from yizhan.common.http import create_http_app, problem
from yizhan.common.runtime import background_task
from yizhan.common.service import serve_service
from yizhan.common.sms import LogSmsSender, SmsSender, WebhookSmsSender
from yizhan.telemetry import alarm_watch, maintenance, presence, storage
from yizhan.telemetry.api import (
    dead_letter_routes,
    device_routes,
    notification_routes,
    usage_routes,
)
from yizhan.telemetry.context import Deps
from yizhan.telemetry.notifications import notifier, senders
from yizhan.telemetry.peers.stations import StationsClient, StationsUnreachable
from yizhan.telemetry.rpc.insights import TelemetryInsightsServicer
from yizhan.telemetry.rpc.notification_admin import NotificationAdminServicer
from yizhan.telemetry.rpc.query import TelemetryQueryServicer
from yizhan.telemetry.rpc.report_notices import ReportNoticesServicer
from yizhan.telemetry.settings import Settings

log = logging.getLogger(__name__)

GRPC_SERVICE = "yizhan.api.telemetry.v1.TelemetryQuery"
INSIGHTS_SERVICE = "yizhan.api.telemetry.v1.TelemetryInsights"
REPORT_NOTICES_SERVICE = "yizhan.api.telemetry.v1.ReportNotices"
NOTIFICATIONS_SERVICE = "yizhan.api.telemetry.v1.NotificationAdmin"


def build_http_app(deps: Deps, accounts: AccountVersions) -> FastAPI:
    """The HTTP app: operator API (usage, device state, dead letters), health."""
    common = deps.settings.common

    readiness = {"database": database_ping(deps.sessions)}
    # Stations answers the district scopes of the HTTP usage API: a peer, reported as
    # degraded when down, never making the API unready (CONTRACT §1).
    peers = {"stations": common.stations_grpc}
    app = create_http_app(
        title="Yizhan telemetry",
        description="Kiosk MQTT ingest, device state and usage figures.",
        readiness=readiness,
        peers=peers,
        peer_tls=common.grpc_tls(),
    )
    app.state.deps = deps
    app.state.jwt_secret = common.jwt_secret.get_secret_value()
    app.state.accounts = accounts

    async def stations_down(request: Request, exc: Exception) -> Response:
        log.warning("stations unreachable", extra={"error": str(exc)})
        return problem(
            503,
            "Service unavailable",
            "the stations service does not answer",
            code="stations_unavailable",
        )

    app.add_exception_handler(StationsUnreachable, stations_down)
    app.include_router(usage_routes.router)
    app.include_router(device_routes.router)
    app.include_router(dead_letter_routes.router)
    app.include_router(notification_routes.router)
    app.include_router(notification_routes.deliveries_router)
    return app


async def log_storage(engine: AsyncEngine) -> None:
    """Say at start which storage path the database took (the migrations chose it)."""
    try:
        async with engine.connect() as conn:
            kind = await conn.scalar(text(storage.rollup_kind_query()))
            installed = await conn.scalar(
                text("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')")
            )
            hypertables: list[str] = []
            if installed:
                result = await conn.execute(
                    text("SELECT hypertable_name FROM timescaledb_information.hypertables")
                )
                hypertables = sorted(str(row[0]) for row in result.all())
    except Exception as exc:  # the service starts anyway; /readyz reports the database
        log.warning("could not inspect the database at start", extra={"error": str(exc)})
        return
    rollups = (
        "continuous aggregates"
        if storage.storage_of(kind) == "timescaledb"
        else "rollup tables kept by ingest"
    )
    if hypertables:
        log.info(
            f"storage: TimescaleDB hypertables, usage from {rollups}",
            extra={"hypertables": hypertables},
        )
    else:
        log.info(f"storage: plain PostgreSQL tables, usage from {rollups}")


def _sms_sender(settings: Settings) -> SmsSender | None:
    """The SMS channels' sender, None when the deployment has none."""
    if settings.sms_sender == "webhook":
        token = settings.sms_webhook_token
        return WebhookSmsSender(
            settings.sms_webhook_url or "", token.get_secret_value() if token else None
        )
    return LogSmsSender() if settings.sms_sender == "log" else None


def _mail_settings(settings: Settings) -> senders.MailSettings | None:
    """The e-mail channels' SMTP relay, None when none is set."""
    if not settings.smtp_host:
        return None
    return senders.MailSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value(),
        sender=settings.smtp_from,
    )


async def serve(settings: Settings) -> None:
    """Run the telemetry service until SIGINT/SIGTERM."""
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    token = settings.common.service_token.get_secret_value()
    stations_channel = rpc.aio_channel(
        settings.common.stations_grpc, token, settings.common.grpc_tls()
    )
    stations = StationsClient(stations_pb2_grpc.StationDirectoryStub(stations_channel))
    deps = Deps(settings=settings, sessions=sessions, stations=stations)
    accounts = CachedAccountVersions(
        stations_account_fetch(
            stations_pb2_grpc.StationDirectoryStub(stations_channel),
            lambda exc: StationsUnreachable(exc.details() or str(exc.code())),
        ),
        settings.common.account_cache_seconds,
    )
    await log_storage(engine)

    def register(server: grpc.aio.Server) -> None:
        telemetry_pb2_grpc.add_TelemetryQueryServicer_to_server(
            TelemetryQueryServicer(sessions, settings.offline_after_seconds),
            server,
        )
        insights_pb2_grpc.add_TelemetryInsightsServicer_to_server(
            TelemetryInsightsServicer(sessions), server
        )
        insights_pb2_grpc.add_ReportNoticesServicer_to_server(
            ReportNoticesServicer(sessions), server
        )
        notifications_pb2_grpc.add_NotificationAdminServicer_to_server(
            NotificationAdminServicer(
                sessions,
                settings.common.jwt_secret.get_secret_value(),
                accounts,
                settings.notify_allow_private_targets,
            ),
            server,
        )

    async def sample_presence() -> None:
        await presence.run_sampler(
            sessions, settings.offline_after_seconds, settings.presence_sample_seconds
        )

    async def watch_offline() -> None:
        await alarm_watch.run_watcher(
            sessions, settings.offline_after_seconds, settings.offline_check_seconds
        )

    async def notify() -> None:
        await notifier.run(
            sessions,
            stations,
            notifier.NotifierSettings(
                poll_seconds=settings.notify_poll_seconds,
                retry_first_seconds=settings.notify_retry_first_seconds,
                retry_max_seconds=settings.notify_retry_max_seconds,
                allow_private_targets=settings.notify_allow_private_targets,
                sms=_sms_sender(settings),
                mail=_mail_settings(settings),
            ),
        )

    async def purge() -> None:
        await maintenance.run(
            sessions,
            interval_seconds=settings.maintenance_interval_seconds,
            raw_retention_days=settings.raw_retention_days,
            dead_letter_retention_days=settings.dead_letter_retention_days,
        )

    try:
        await serve_service(
            settings,
            app=build_http_app(deps, accounts),
            register=register,
            grpc_services=[
                GRPC_SERVICE,
                INSIGHTS_SERVICE,
                REPORT_NOTICES_SERVICE,
                NOTIFICATIONS_SERVICE,
            ],
            components=[
                lambda: background_task("presence-sampler", sample_presence),
                lambda: background_task("alarm-watcher", watch_offline),
                lambda: background_task("notifier", notify),
                lambda: background_task("maintenance", purge),
            ],
        )
    finally:
        await stations_channel.close()
        await engine.dispose()
