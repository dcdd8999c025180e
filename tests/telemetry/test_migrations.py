"""Telemetry's hand-written migrations and models.py describe the same tables, on both storage
paths: plain PostgreSQL exactly; TimescaleDB with only the differences it makes on purpose
(hypertables and continuous aggregates, which models.py does not map). The TimescaleDB case
is skipped, visibly, when the test cluster has no TimescaleDB."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

import yizhan.telemetry
from tests.support.waiting import wait_until
from yizhan.common.db import run_migrations
from yizhan.devstack.postgres import PostgresCluster
from yizhan.telemetry.models import metadata

pytestmark = pytest.mark.integration
MIGRATIONS = Path(yizhan.telemetry.__file__).parent / "migrations"
ROLLUPS = ("usage_15m", "usage_network_15m")
# What TimescaleDB does differently on purpose (migrations 0001, 0003, 0004): the rollups are
# continuous aggregates (views, not the tables models.py maps), and events and metrics are
# hypertables with TimescaleDB's own time index instead of the plain path's BRIN index.
TIMESCALEDB_DIFFERENCES = {
    ("add_table", "usage_15m"),
    ("add_table", "usage_network_15m"),
    ("add_index", "events_time_brin"),
    ("remove_index", "events_time_idx"),
    ("add_index", "metrics_time_brin"),
    ("remove_index", "metrics_time_idx"),
}


def _migrated_differences(
    url: str,
) -> tuple[list[Any], dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]]]:
    """Migrate, then compare with models.py; also the rollups' columns (name, SQL type) as the
    database has them and as models.py maps them."""
    run_migrations(url, MIGRATIONS)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
            inspector = inspect(connection)
            rollups = {
                name: (
                    [
                        (c["name"], _sql_type(c["type"], engine.dialect))
                        for c in inspector.get_columns(name)
                    ],
                    [
                        (c.name, _sql_type(c.type, engine.dialect))
                        for c in metadata.tables[name].columns
                    ],
                )
                for name in ROLLUPS
            }
    finally:
        engine.dispose()
    return differences, rollups


def _sql_type(column_type: TypeEngine[Any], dialect: Dialect) -> str:
    return str(column_type.compile(dialect=dialect))


def test_models_match_the_plain_postgresql_schema(
    new_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YZ_TELEMETRY_TIMESCALEDB", "off")
    differences, _ = _migrated_differences(new_database("tm_drift"))
    assert differences == []


def test_models_match_the_timescaledb_schema(
    new_database: Callable[[str], str], postgres: PostgresCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not postgres.with_timescaledb:
        pytest.skip("TimescaleDB not available to the test cluster (not installed, or off)")
    monkeypatch.setenv("YZ_TELEMETRY_TIMESCALEDB", "on")
    differences, rollups = _migrated_differences(new_database("tm_drift_tsdb"))
    kinds_and_names = {(diff[0], diff[1].name) for diff in differences}
    assert len(kinds_and_names) == len(differences), differences
    assert kinds_and_names == TIMESCALEDB_DIFFERENCES
    # The continuous aggregates have the columns and types of the tables models.py maps, so
    # one query reads either path.
    for name in ROLLUPS:
        in_database, in_models = rollups[name]
        assert in_database == in_models, name


def _refresh_policy_runs(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            runs = connection.execute(
                text(
                    "SELECT COALESCE(sum(s.total_runs), 0) FROM timescaledb_information.jobs j"
                    " JOIN timescaledb_information.job_stats s USING (job_id)"
                    " WHERE j.proc_name = 'policy_refresh_continuous_aggregate'"
                )
            ).scalar()
    finally:
        engine.dispose()
    return int(runs or 0)


def test_migrations_on_timescaledb_do_not_race_its_jobs(
    new_database: Callable[[str], str], postgres: PostgresCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The refresh policies start as soon as a migration commits them; unpaused, they raced
    # the migrations' own refreshes and view drops in about 3 of 10 new databases.
    if not postgres.with_timescaledb:
        pytest.skip("TimescaleDB not available to the test cluster (not installed, or off)")
    monkeypatch.setenv("YZ_TELEMETRY_TIMESCALEDB", "on")
    urls = [new_database(f"tm_jobs_{n}") for n in range(8)]
    for url in urls:
        run_migrations(url, MIGRATIONS)
    # Paused only while migrating: the policies run afterwards.
    wait_until(lambda: all(_refresh_policy_runs(url) >= 2 for url in urls), timeout=60)
