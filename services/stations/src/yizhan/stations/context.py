"""What request handlers need, built once by app.py and kept on app.state.deps."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.stations.broker.sync import BrokerSync
from yizhan.stations.login_limits import LoginLimits
from yizhan.stations.settings import Settings


@dataclass
class Deps:
    """The stations service's dependencies."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    login_limits: LoginLimits
    token_ttl: timedelta
    # None when the broker is not managed by stations (broker_security=off).
    broker: BrokerSync | None = None
