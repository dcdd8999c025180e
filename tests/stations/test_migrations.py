"""The hand-written migrations and models.py describe the same tables, and 0002 upgrades a
database that already holds stations and devices."""

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import yizhan.stations
from yizhan.common.db import libpq_dsn, run_migrations
from yizhan.stations.models import Base

pytestmark = pytest.mark.integration
MIGRATIONS = Path(yizhan.stations.__file__).parent / "migrations"


def test_models_match_the_migrated_schema(new_database: Callable[[str], str]) -> None:
    url = new_database("st_drift")
    run_migrations(url, MIGRATIONS)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_0002_keeps_existing_stations_and_devices(new_database: Callable[[str], str]) -> None:
    url = new_database("st_upgrade")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "0001")
    with psycopg.connect(libpq_dsn(url)) as conn:
        conn.execute(
            "INSERT INTO stations (id, name_zh, name_en, district)"
            " VALUES ('OLD-1', '旧', 'Old', 'x')"
        )
        conn.execute(
            "INSERT INTO devices (id, station_id, kind, mqtt_username, mqtt_password_hash)"
            " VALUES ('old-dev', 'OLD-1', 'water', 'old-dev', 'hash')"
        )
    command.upgrade(config, "head")
    with psycopg.connect(libpq_dsn(url)) as conn:
        station = conn.execute("SELECT opening_exceptions FROM stations").fetchone()
        device = conn.execute(
            "SELECT status, credential_generation, broker_generation FROM devices"
        ).fetchone()
    assert station == ([],)
    # Not yet on any broker: a resync pushes it, or reports that it needs a rotation.
    assert device == ("active", 1, 0)
