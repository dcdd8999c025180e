"""Alembic environment of the telemetry database."""

from yizhan.common.migrations_env import run
from yizhan.telemetry.models import metadata

run(metadata)
