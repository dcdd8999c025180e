"""Time series (events, metrics), duplicate keys, device state, alarms, dead letters.

With TimescaleDB (`YZ_TELEMETRY_TIMESCALEDB=auto` and the extension available, or `on`),
events and metrics become hypertables chunked by day; otherwise they are plain tables with a
BRIN index on time, which stays small on append-only data.

Revision ID: 0001
Revises:
"""

import logging

import sqlalchemy as sa
from alembic import op

from yizhan.telemetry.settings import Settings

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

CHUNK_INTERVAL = "1 day"


def _use_timescaledb() -> bool:
    """Decide once, here: hypertables when wanted and the extension can be created."""
    mode = Settings().timescaledb
    if mode == "off":
        return False
    bind = op.get_bind()
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    ).first()
    if available is None:
        if mode == "on":
            raise RuntimeError("YZ_TELEMETRY_TIMESCALEDB=on but the extension is not installed")
        return False
    preloaded = bind.execute(sa.text("SELECT current_setting('shared_preload_libraries')"))
    if "timescaledb" not in (preloaded.scalar() or ""):
        # Installed but not loaded by the server: CREATE EXTENSION would fail, and its failure
        # leaves the connection unusable even inside a savepoint.
        if mode == "on":
            raise RuntimeError("YZ_TELEMETRY_TIMESCALEDB=on but timescaledb is not preloaded")
        log.warning("TimescaleDB is installed but not in shared_preload_libraries; not used")
        return False
    try:
        # A savepoint: without shared_preload_libraries the CREATE fails, and `auto` then
        # falls back to plain tables in the same migration.
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS timescaledb"))
    except sa.exc.DBAPIError as exc:
        if mode == "on":
            raise
        log.warning("TimescaleDB is available but cannot be created: %s", exc.orig)
        return False
    return True


def upgrade() -> None:
    timescale = _use_timescaledb()
    op.execute(
        """
        CREATE TABLE events (
            time        timestamptz NOT NULL,
            received_at timestamptz NOT NULL,
            station_id  text NOT NULL,
            device_id   text NOT NULL,
            seq         bigint NOT NULL,
            type        text NOT NULL,
            count       integer,
            amount      double precision,
            ref         text,
            attrs       jsonb NOT NULL DEFAULT '{}'
        )
        """
    )
    op.execute(
        """
        CREATE TABLE metrics (
            time       timestamptz NOT NULL,
            station_id text NOT NULL,
            device_id  text NOT NULL,
            metric     text NOT NULL,
            value      double precision NOT NULL
        )
        """
    )
    if timescale:
        for table in ("events", "metrics"):
            op.execute(
                f"SELECT create_hypertable('{table}', 'time', "
                f"chunk_time_interval => INTERVAL '{CHUNK_INTERVAL}')"
            )
    else:
        op.execute("CREATE INDEX events_time_brin ON events USING brin (time)")
        op.execute("CREATE INDEX metrics_time_brin ON metrics USING brin (time)")
    # Usage per station or district over a range; the device's readings over a range.
    op.execute("CREATE INDEX events_station_time ON events (station_id, time DESC)")
    op.execute("CREATE INDEX metrics_device_time ON metrics (device_id, metric, time DESC)")

    op.execute(
        """
        CREATE TABLE message_keys (
            device_id   text NOT NULL,
            seq         bigint NOT NULL,
            ts          timestamptz NOT NULL,
            received_at timestamptz NOT NULL,
            PRIMARY KEY (device_id, seq)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE device_state (
            device_id  text PRIMARY KEY,
            station_id text NOT NULL,
            last_seen  timestamptz NOT NULL,
            offline_at timestamptz,
            state      text,
            state_ts   timestamptz,
            firmware   text
        )
        """
    )
    op.execute("CREATE INDEX device_state_station ON device_state (station_id)")
    op.execute(
        """
        CREATE TABLE alarms (
            id         bigserial PRIMARY KEY,
            device_id  text NOT NULL,
            station_id text NOT NULL,
            code       text NOT NULL,
            severity   text NOT NULL,
            message    text,
            opened_at  timestamptz NOT NULL,
            cleared_at timestamptz
        )
        """
    )
    # At most one open alarm per device and code: a repeated fault updates it.
    op.execute(
        "CREATE UNIQUE INDEX alarms_open ON alarms (device_id, code) WHERE cleared_at IS NULL"
    )
    op.execute("CREATE INDEX alarms_open_station ON alarms (station_id) WHERE cleared_at IS NULL")
    op.execute(
        """
        CREATE TABLE dead_letters (
            id          bigserial PRIMARY KEY,
            received_at timestamptz NOT NULL,
            topic       text NOT NULL,
            station_id  text,
            device_id   text,
            reason      text NOT NULL,
            detail      text NOT NULL,
            payload     bytea NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX dead_letters_station ON dead_letters (station_id, id DESC)")
    op.execute("CREATE INDEX dead_letters_reason ON dead_letters (reason, id DESC)")


def downgrade() -> None:
    for table in ("dead_letters", "alarms", "device_state", "message_keys", "metrics", "events"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
