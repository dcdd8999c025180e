"""Telemetry's hand-written migrations and models.py describe the same tables (on the plain
PostgreSQL path the test cluster takes; TimescaleDB adds hypertables and continuous
aggregates of the same tables, which models.py does not map)."""

from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import yizhan.telemetry
from yizhan.common.db import run_migrations
from yizhan.telemetry.models import metadata

pytestmark = pytest.mark.integration
MIGRATIONS = Path(yizhan.telemetry.__file__).parent / "migrations"


def test_models_match_the_migrated_schema(new_database: Callable[[str], str]) -> None:
    url = new_database("tm_drift")
    run_migrations(url, MIGRATIONS)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()
    assert differences == []
