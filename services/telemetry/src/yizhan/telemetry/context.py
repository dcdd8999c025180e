"""What request handlers need, built once by app.py and kept on app.state.deps."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.telemetry.ingest.pipeline import Ingest
from yizhan.telemetry.rpc.stations_client import StationsClient
from yizhan.telemetry.settings import Settings


@dataclass
class Deps:
    """The telemetry service's dependencies."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    stations: StationsClient
    # None when this process does not ingest (YZ_TELEMETRY_INGEST_ENABLED=false).
    ingest: Ingest | None
