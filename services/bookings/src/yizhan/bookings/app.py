"""Composition root of the bookings service: database, stations client, SMS sender and
outbox, the BookingDesk gRPC server, the worker and operator HTTP API, the web form, and the
background work (no-show sweep, SMS outbox, housekeeping)."""

import contextlib
import gc
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import grpc
from fastapi import FastAPI
from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.api.bookings.v1 import bookings_pb2_grpc
from yizhan.api.stations.v1 import stations_pb2_grpc
from yizhan.api.telemetry.v1 import telemetry_pb2_grpc
from yizhan.bookings import housekeeping, noshow, reminders
from yizhan.bookings.api import (
    audit_routes,
    booking_routes,
    catalog_routes,
    dev_sms_routes,
    feedback_routes,
    operator_routes,
    opinion_routes,
    otp_routes,
    public_routes,
    session_routes,
    stats_routes,
)
from yizhan.bookings.api.problems import booking_error_handler
from yizhan.bookings.availability import Availability
from yizhan.bookings.booking_service import BookingService
from yizhan.bookings.checkin import CheckInDesk
from yizhan.bookings.codes import derive_key, manage_token, manage_token_key
from yizhan.bookings.context import Deps
from yizhan.bookings.errors import BookingError
from yizhan.bookings.forum_admin import ForumAdmin
from yizhan.bookings.metrics import HTTP_WORKERS
from yizhan.bookings.notices import Notices
from yizhan.bookings.opinions import OpinionDesk, OpinionRules
from yizhan.bookings.otp import HASH_CONTEXT, OtpPolicy, OtpService
from yizhan.bookings.outbox import Outbox
from yizhan.bookings.peers.stations import StationsClient, stations_unavailable
from yizhan.bookings.peers.telemetry import TelemetryClient
from yizhan.bookings.plain_sql import booking_pool
from yizhan.bookings.public_stations import StationFinder
from yizhan.bookings.quotas import BookingLimits
from yizhan.bookings.rpc.booking_admin import BookingAdminServicer
from yizhan.bookings.rpc.booking_desk import BookingDeskServicer
from yizhan.bookings.rpc.booking_records import BookingRecordsServicer
from yizhan.bookings.rpc.booking_reports import BookingReportsServicer
from yizhan.bookings.settings import Settings
from yizhan.bookings.sms import SmsSender, build_sender
from yizhan.bookings.stats import BookingStats
from yizhan.bookings.web import routes as web_routes
from yizhan.common import rpc
from yizhan.common.account_versions import CachedAccountVersions, stations_account_fetch
from yizhan.common.auth import AccountVersions
from yizhan.common.db import create_engine, database_ping, libpq_dsn, session_factory
from yizhan.common.http import create_http_app
from yizhan.common.ratelimit import LocalRateLimiter, RateLimiter, Rule
from yizhan.common.runtime import Component, background_task, serve_until_stopped
from yizhan.common.service import serve_service
from yizhan.common.stations_directory import StationsDirectory

BOOKING_DESK = "yizhan.api.bookings.v1.BookingDesk"
BOOKING_REPORTS = "yizhan.api.bookings.v1.BookingReports"
BOOKING_RECORDS = "yizhan.api.bookings.v1.BookingRecords"
BOOKING_ADMIN = "yizhan.api.bookings.v1.BookingAdmin"


def utc_now() -> datetime:
    """The service's clock."""
    return datetime.now(UTC)


def build_deps(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    pool: AsyncConnectionPool[AsyncConnection[TupleRow]],
    stations: StationsClient,
    sender: SmsSender,
    clock: Callable[[], datetime] = utc_now,
) -> Deps:
    """Wire the domain services from settings and the outside world's clients."""
    secret = settings.common.jwt_secret.get_secret_value()
    local_zone = ZoneInfo(settings.local_timezone)
    availability = Availability(sessions=sessions, stations=stations, clock=clock)
    otp = OtpService(
        sessions=sessions,
        sender=sender,
        policy=OtpPolicy(
            ttl=timedelta(seconds=settings.otp_ttl_seconds),
            max_attempts=settings.otp_max_attempts,
            resend_interval=timedelta(seconds=settings.otp_resend_interval_seconds),
            sends_per_hour=settings.otp_sends_per_phone_per_hour,
        ),
        key=derive_key(secret, HASH_CONTEXT),
        clock=clock,
        keep_dev_copy=settings.exposes_dev_tools,
    )
    outbox = Outbox(
        sessions=sessions,
        sender=sender,
        clock=clock,
        poll_seconds=settings.outbox_poll_seconds,
        max_attempts=settings.outbox_max_attempts,
    )
    token_key = manage_token_key(secret)
    site = settings.public_base_url.rstrip("/")
    notices = Notices(
        local_zone,
        link=lambda b: f"{site}/b/{b.code}?token={manage_token(token_key, b.code)}",
    )
    bookings = BookingService(
        sessions=sessions,
        pool=pool,
        availability=availability,
        otp=otp,
        outbox=outbox,
        notices=notices,
        token_key=manage_token_key(secret),
        clock=clock,
        points_cache_seconds=settings.stations_cache_seconds,
        limits=BookingLimits(
            max_active=settings.max_active_bookings_per_phone,
            weekly=settings.weekly_quota,
            tz=local_zone,
            no_show_limit=settings.no_show_limit,
            no_show_window=timedelta(days=settings.no_show_window_days),
        ),
    )
    return Deps(
        settings=settings,
        sessions=sessions,
        stations=stations,
        availability=availability,
        otp=otp,
        bookings=bookings,
        forums=ForumAdmin(sessions=sessions, notices=notices, outbox=outbox, clock=clock),
        opinions=OpinionDesk(
            sessions=sessions,
            notices=notices,
            outbox=outbox,
            clock=clock,
            rules=OpinionRules(
                per_booking=settings.opinions_per_booking,
                days_after=timedelta(days=settings.opinion_days_after),
            ),
        ),
        checkin=CheckInDesk(sessions, clock),
        stats=BookingStats(sessions, stations, clock),
        outbox=outbox,
        limiter=RateLimiter(sessions),
        # Past the hour's free codes, each further one waits a minute, doubling to an hour.
        otp_client_rule=Rule(
            "otp-client", settings.otp_sends_per_client_per_hour, timedelta(hours=1), 60, 3600
        ),
        clock=clock,
        notices=notices,
        # A worker at the kiosk sends one or two; a page reloaded in a loop is slowed down.
        feedback_client_rule=Rule(
            "feedback-client", settings.feedback_per_client_per_hour, timedelta(hours=1), 60, 3600
        ),
    )


def build_http_app(
    deps: Deps, accounts: AccountVersions, finder: StationFinder | None = None
) -> FastAPI:
    """The HTTP app: worker and operator API, the public station API, the web form, health."""

    app = create_http_app(
        title="Yizhan bookings",
        description="Livestream slots and forum seats for workers; check-in at the kiosk.",
        readiness={"database": database_ping(deps.sessions)},
        # Stations is a peer: when it is down, check-in answers `unavailable`, the rest serves.
        # Telemetry too: without it the station finder answers with availability unknown.
        peers={
            "stations": deps.settings.common.stations_grpc,
            "telemetry": deps.settings.common.telemetry_grpc,
        },
        peer_tls=deps.settings.common.grpc_tls(),
    )
    app.state.deps = deps
    app.state.jwt_secret = deps.settings.common.jwt_secret.get_secret_value()
    app.state.accounts = accounts
    app.state.templates = web_routes.build_templates()
    app.add_exception_handler(BookingError, booking_error_handler)
    app.include_router(booking_routes.request_router)  # first: see there
    app.include_router(otp_routes.router)
    if deps.settings.exposes_dev_tools:
        app.include_router(otp_routes.dev_router)
        app.include_router(dev_sms_routes.router)
    app.include_router(catalog_routes.router)
    app.include_router(session_routes.router)
    # Operator routes under /api/v1/bookings/... before the worker's /api/v1/bookings/{code}.
    app.include_router(operator_routes.router)
    app.include_router(booking_routes.router)
    app.include_router(opinion_routes.router)
    app.include_router(stats_routes.router)
    app.include_router(feedback_routes.router)
    app.include_router(audit_routes.router)
    app.include_router(web_routes.router)
    if finder is not None:
        app.state.finder = finder
        # Counted in this process's memory: a database round trip per request would cost more
        # than the answer. Past the minute's free requests a client waits a second, doubling
        # to a minute.
        app.state.public_limiter = LocalRateLimiter(
            Rule(
                "public-stations",
                deps.settings.public_requests_per_minute,
                timedelta(minutes=1),
                1,
                60,
            )
        )
        app.include_router(public_routes.router)
    return app


async def serve_process(
    settings: Settings,
    *,
    primary: bool,
    sock: socket.socket | None = None,
    workers: int = 1,
    others: Component | None = None,
) -> None:
    """Serve HTTP in this process (on `sock` when given); the primary also runs the gRPC
    server, the housekeeping, the no-show sweep and `others` (the other workers). Every
    process drains the SMS outbox (rows are leased, so two drains never send one message
    twice), so that a booking's SMS leaves at once whichever process took it."""
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    sessions = session_factory(engine)
    pool = booking_pool(libpq_dsn(settings.database_url), settings.database_pool_size)
    await pool.open()
    token = settings.common.service_token.get_secret_value()
    stations_channel = rpc.aio_channel(
        settings.common.stations_grpc, token, settings.common.grpc_tls()
    )
    stations = StationsClient(
        stations_pb2_grpc.StationDirectoryStub(stations_channel),
        cache_seconds=settings.stations_cache_seconds,
    )
    deps = build_deps(settings, sessions, pool, stations, build_sender(settings))
    accounts = CachedAccountVersions(
        stations_account_fetch(
            stations_pb2_grpc.StationDirectoryStub(stations_channel),
            stations_unavailable,
        ),
        settings.common.account_cache_seconds,
    )
    telemetry_channel = rpc.aio_channel(
        settings.common.telemetry_grpc, token, settings.common.grpc_tls()
    )
    finder = StationFinder(
        StationsDirectory(stations_pb2_grpc.StationDirectoryStub(stations_channel)),
        TelemetryClient(telemetry_pb2_grpc.TelemetryQueryStub(telemetry_channel)),
        stations_seconds=settings.public_stations_refresh_seconds,
    )
    HTTP_WORKERS.set(workers)

    app = build_http_app(deps, accounts, finder)

    def register(server: grpc.aio.Server) -> None:
        bookings_pb2_grpc.add_BookingDeskServicer_to_server(
            BookingDeskServicer(deps.checkin), server
        )
        bookings_pb2_grpc.add_BookingReportsServicer_to_server(
            BookingReportsServicer(deps.stats), server
        )
        bookings_pb2_grpc.add_BookingRecordsServicer_to_server(
            BookingRecordsServicer(sessions), server
        )
        bookings_pb2_grpc.add_BookingAdminServicer_to_server(
            BookingAdminServicer(deps, app), server
        )

    def housekeeper() -> contextlib.AbstractAsyncContextManager[None]:
        return background_task(
            "housekeeping",
            lambda: housekeeping.run_forever(
                sessions, deps.clock, timedelta(days=settings.phone_retention_days)
            ),
        )

    def reminder_sweep() -> contextlib.AbstractAsyncContextManager[None]:
        lead = timedelta(minutes=settings.reminder_lead_minutes)
        return background_task(
            "reminders",
            lambda: reminders.run_forever(
                sessions,
                deps.notices,
                deps.outbox,
                deps.clock,
                lead,
                settings.reminder_sweep_seconds,
            ),
        )

    def no_show_sweep() -> contextlib.AbstractAsyncContextManager[None]:
        interval = settings.no_show_sweep_seconds
        return background_task(
            "no-shows", lambda: noshow.run_forever(sessions, deps.clock, interval)
        )

    def sms_outbox() -> contextlib.AbstractAsyncContextManager[None]:
        return background_task("sms-outbox", deps.outbox.run_forever)

    app = build_http_app(deps, accounts, finder)
    # Everything made so far lives as long as the process: out of the garbage collector's
    # sight, its full collections (which requests trigger) stop walking all of it.
    gc.freeze()
    try:
        if primary:
            await serve_service(
                settings,
                app=app,
                register=register,
                grpc_services=[BOOKING_DESK, BOOKING_REPORTS, BOOKING_RECORDS, BOOKING_ADMIN],
                components=[
                    housekeeper,
                    no_show_sweep,
                    sms_outbox,
                    reminder_sweep,
                    *([others] if others else []),
                ],
                sock=sock,
            )
        else:
            await serve_until_stopped(
                app=app,
                host=settings.common.bind_host,
                port=settings.http_port,
                components=[sms_outbox],
                trusted_proxies=settings.common.trusted_proxies,
                sock=sock,
            )
    finally:
        await stations_channel.close()
        await telemetry_channel.close()
        await pool.close()
        await engine.dispose()
