"""The late-message refresher of the continuous aggregates (TimescaleDB only; skipped, visibly,
without it): a refresh that fails is tried again, not left to the policy a minute later."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

import yizhan.telemetry
from tests.support.waiting import wait_until
from yizhan.common.db import libpq_dsn, run_migrations
from yizhan.devstack.postgres import PostgresCluster
from yizhan.telemetry.ingest import metrics
from yizhan.telemetry.ingest.refresher import Refresher

pytestmark = pytest.mark.integration
MIGRATIONS = Path(yizhan.telemetry.__file__).parent / "migrations"
POLICIES = (
    "SELECT job_id FROM timescaledb_information.jobs"
    " WHERE proc_name = 'policy_refresh_continuous_aggregate'"
)
POLICIES_RAN = f"""
SELECT count(*) FILTER (WHERE total_runs >= 1 AND job_status <> 'Running')
FROM timescaledb_information.job_stats WHERE job_id IN ({POLICIES})
"""  # noqa: S608 (composed of constants)
UNSCHEDULE = f"SELECT alter_job(job_id, scheduled => false) FROM ({POLICIES}) AS p"  # noqa: S608


def _value(conn: psycopg.Connection, query: str) -> object:
    row = conn.execute(query).fetchone()
    return row[0] if row else None


def test_a_failed_refresh_is_tried_again(
    new_database: Callable[[str], str], postgres: PostgresCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not postgres.with_timescaledb:
        pytest.skip("TimescaleDB not available to the test cluster (not installed, or off)")
    monkeypatch.setenv("YZ_TELEMETRY_TIMESCALEDB", "on")
    url = new_database("tm_refresher")
    run_migrations(url, MIGRATIONS)
    dsn = libpq_dsn(url)
    name = url.rsplit("/", 1)[1]
    late = datetime.now(UTC) - timedelta(hours=2)
    with psycopg.connect(dsn, autocommit=True) as conn:
        # Only the refresher may materialize: the policies' first run done, then unscheduled.
        wait_until(lambda: _value(conn, POLICIES_RAN) == 2)
        conn.execute(UNSCHEDULE)
        materialized = _value(
            conn,
            "SELECT format('%I.%I', materialization_hypertable_schema,"
            " materialization_hypertable_name) FROM timescaledb_information.continuous_aggregates"
            " WHERE view_name = 'usage_15m'",
        )
        conn.execute(
            "INSERT INTO events (time, received_at, station_id, device_id, seq, type, count)"
            " VALUES (%s, now(), 'ST-late', 'counter-late', 1, 'visit', 4)",
            (late,),
        )
    failures = metrics.WRITE_FAILURES.labels("refresh")
    failed_before = failures._value.get()
    refresher = Refresher(dsn, 0.2)
    with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as admin:
        # The database out of reach for a moment: the first refreshes fail.
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            refresher.start()
            refresher.note((late, late))
            wait_until(lambda: failures._value.get() > failed_before)
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            wait_until(
                lambda: _value(conn, f"SELECT sum(visits) FROM {materialized}") == 4,  # noqa: S608
                timeout=10,
            )
    finally:
        refresher.stop(5)
