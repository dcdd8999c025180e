"""Alembic environment of the stations database."""

from yizhan.common.migrations_env import run
from yizhan.stations.models import Base

run(Base.metadata)
