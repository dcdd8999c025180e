"""What request handlers need, built once by app.py and kept on app.state.deps."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.telemetry.peers.stations import StationsClient
from yizhan.telemetry.settings import Settings


@dataclass
class Deps:
    """The telemetry API's dependencies."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    stations: StationsClient
