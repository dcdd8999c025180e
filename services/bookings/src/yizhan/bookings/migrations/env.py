"""Alembic environment of the bookings database."""

from yizhan.bookings.models import Base
from yizhan.common.migrations_env import run

run(Base.metadata)
