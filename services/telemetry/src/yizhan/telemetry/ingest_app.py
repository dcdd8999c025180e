"""Composition root of the ingest process (`yz-telemetry ingest`): the MQTT ingest pipeline
and a small HTTP server for its /healthz, /readyz and /metrics.

It is a process of its own, not a part of the API process: its threads, its blocking
database driver and its garbage-collector tuning (pipeline.py) would otherwise share the
API's interpreter, and a supervisor can restart or scale it on its own."""

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from yizhan.common.db import create_engine
from yizhan.common.http import create_http_app
from yizhan.common.runtime import serve_until_stopped
from yizhan.telemetry.ingest.pipeline import Ingest, running
from yizhan.telemetry.settings import Settings


def build_health_app(ingest: Ingest, engine: AsyncEngine, settings: Settings) -> FastAPI:
    """Health of the ingest: ready when its database answers and it holds a broker session."""

    async def database() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def mqtt() -> None:
        if not ingest.source.connected:
            raise RuntimeError("not connected to the broker")

    common = settings.common
    return create_http_app(
        title="Yizhan telemetry ingest",
        description="Health and metrics of the MQTT ingest process.",
        readiness={"database": database, "mqtt": mqtt},
        # Known devices are stored from the cache while stations is away; check-ins answer
        # `unavailable` while bookings is: both are degraded, neither makes the ingest unready.
        peers={"stations": common.stations_grpc, "bookings": common.bookings_grpc},
        peer_tls=common.grpc_tls(),
    )


async def serve_ingest(settings: Settings) -> None:
    """Ingest kiosk messages until SIGINT/SIGTERM."""
    ingest = Ingest(settings)
    engine = create_engine(settings.database_url)
    try:
        await serve_until_stopped(
            app=build_health_app(ingest, engine, settings),
            host=settings.common.bind_host,
            port=settings.ingest_http_port,
            components=[lambda: running(ingest)],
            trusted_proxies=settings.common.trusted_proxies,
        )
    finally:
        await engine.dispose()
