"""Usage rollups in 15-minute buckets, charging sessions, alarm clears, retention.

Usage queries read `usage_15m` (per station) and `usage_network_15m` (the whole network),
never the raw events, so that 90 days network-wide stay a few thousand rows. Their shape is
the same on both storage paths, and so is the SQL that reads them:

- TimescaleDB (events is a hypertable): both are real-time continuous aggregates (the network
  one on top of the station one), refreshed every minute over the last 32 days (messages up to
  30 days late are accepted) and, for late messages, within seconds by ingest
  (ingest/refresher.py). Raw events and metrics are compressed after 7 days and dropped after
  YZ_TELEMETRY_RAW_RETENTION_DAYS.
- Plain PostgreSQL: both are tables that ingest updates in the same transaction as the events
  (ingest/rollups.py); the maintenance task drops old raw rows (maintenance.py).

Why 15 minutes: calendar buckets are asked for in any IANA zone, and every zone's offset in
use today is a whole number of quarter hours (Asia/Kathmandu +05:45, Australia/Eucla +08:45),
so quarter hours add up exactly to hours, days, weeks and months anywhere. Hourly rollups
would be wrong for India (+05:30). Partial quarter hours at the ends of a range are read from
the raw events.

Revision ID: 0003
Revises: 0002
"""

import logging

import sqlalchemy as sa
from alembic import op

from yizhan.telemetry.settings import Settings

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

BUCKET = "15 minutes"
# Messages up to 30 days old are accepted: the aggregates are refreshed that far back.
REFRESH_WINDOW = "32 days"
REFRESH_EVERY = "1 minute"
# The newest quarter hour is read from the raw events (real-time aggregation), so that the
# policy never materializes a bucket still filling up.
REFRESH_END_OFFSET = "15 minutes"
COMPRESS_AFTER = "7 days"

# The five usage figures of CONTRACT §3 over raw events. Sums are numeric so that decimal
# inputs add up exactly (0.1 + 0.2 = 0.3), as in ingest/rollups.py.
STATION_FIGURES = """
    COALESCE(sum(count) FILTER (WHERE type = 'visit'), 0)::bigint AS visits,
    count(*) FILTER (WHERE type = 'charge.stop') AS charge_sessions,
    COALESCE(sum(amount::numeric) FILTER (WHERE type = 'charge.stop'), 0) AS energy_wh,
    COALESCE(sum(amount::numeric) FILTER (WHERE type = 'water.dispense'), 0) AS water_liters,
    count(*) FILTER (WHERE type = 'water.dispense') AS dispenses
"""
NETWORK_FIGURES = """
    sum(visits)::bigint AS visits, sum(charge_sessions)::bigint AS charge_sessions,
    sum(energy_wh) AS energy_wh, sum(water_liters) AS water_liters,
    sum(dispenses)::bigint AS dispenses
"""
USAGE_TYPES = "('visit', 'charge.stop', 'water.dispense')"
# Queries read a range of quarter hours from the index alone (an index-only scan): over 90
# days, a district's figures come three times faster than through the table.
COVERING = "INCLUDE (visits, charge_sessions, energy_wh, water_liters, dispenses)"


def _is_hypertable(table: str) -> bool:
    bind = op.get_bind()
    installed = bind.execute(
        sa.text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
    ).first()
    if installed is None:
        return False
    found = bind.execute(
        sa.text("SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = :t"),
        {"t": table},
    ).first()
    return found is not None


def _community_edition() -> bool:
    """Whether TimescaleDB runs with its community (TSL) features, which continuous
    aggregates and compression need (`timescaledb.license = 'timescale'`)."""
    license_kind = (
        op.get_bind()
        .execute(sa.text("SELECT current_setting('timescaledb.license', true)"))
        .scalar()
    )
    return license_kind == "timescale"


def upgrade() -> None:
    settings = Settings()
    _sessions_and_clears()
    # Keys older than the oldest acceptable message are purged by maintenance.py; the BRIN
    # index makes that a range scan on an append-mostly table.
    op.execute("CREATE INDEX message_keys_ts_brin ON message_keys USING brin (ts)")
    op.execute("CREATE INDEX dead_letters_received_brin ON dead_letters USING brin (received_at)")
    # Nothing reads readings per metric name yet; a per-device index is what charts will use,
    # and one index fewer on the widest table is a fifth more ingest throughput.
    op.execute("DROP INDEX IF EXISTS metrics_device_time")
    op.execute("CREATE INDEX metrics_device_time ON metrics (device_id, time DESC)")
    if not _is_hypertable("events"):
        _plain()
    elif _community_edition():
        _timescale(settings.raw_retention_days)
    else:
        # The Apache-2 build has hypertables and retention, but neither continuous aggregates
        # nor compression: rollup tables as without TimescaleDB, chunks dropped by policy.
        log.warning("TimescaleDB without its community features: usage rollups as tables")
        _plain()
        if settings.raw_retention_days > 0:
            for table in ("events", "metrics"):
                op.execute(
                    f"SELECT add_retention_policy('{table}',"
                    f" INTERVAL '{settings.raw_retention_days} days')"
                )


def _sessions_and_clears() -> None:
    # One row per (device, session): a start and its stop joined, whichever comes first.
    op.execute(
        """
        CREATE TABLE charge_sessions (
            device_id   text NOT NULL,
            session     text NOT NULL,
            station_id  text NOT NULL,
            connector   integer,
            started_at  timestamptz,
            stopped_at  timestamptz,
            energy_wh   double precision,
            stop_reason text,
            PRIMARY KEY (device_id, session)
        )
        """
    )
    op.execute(
        "CREATE INDEX charge_sessions_open ON charge_sessions (station_id, started_at)"
        " WHERE stopped_at IS NULL"
    )
    # Alarms are ordered by seq, which the contract keeps strictly increasing per device
    # across reboots, not by ts, which a kiosk's clock may get wrong: a clear closes the
    # faults before it. The newest clear per device and code is kept, so that a fault that
    # arrives after a later clear (store and forward out of order) is recorded as cleared.
    op.execute("ALTER TABLE alarms ADD COLUMN opened_seq bigint")
    op.execute(
        """
        CREATE TABLE alarm_clears (
            device_id  text NOT NULL,
            code       text NOT NULL,
            seq        bigint NOT NULL,
            cleared_at timestamptz NOT NULL,
            PRIMARY KEY (device_id, code)
        )
        """
    )


def _timescale(retention_days: int) -> None:
    op.execute(
        f"""
        CREATE MATERIALIZED VIEW usage_15m
        WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
        SELECT station_id, time_bucket(INTERVAL '{BUCKET}', time) AS bucket, {STATION_FIGURES}
        FROM events WHERE type IN {USAGE_TYPES}
        GROUP BY station_id, bucket WITH NO DATA
        """  # noqa: S608 (composed of constants)
    )
    op.execute(
        f"""
        CREATE MATERIALIZED VIEW usage_network_15m
        WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
        SELECT time_bucket(INTERVAL '{BUCKET}', bucket) AS bucket, {NETWORK_FIGURES}
        FROM usage_15m GROUP BY 1 WITH NO DATA
        """  # noqa: S608 (composed of constants)
    )
    # Station and district figures read a station's quarter hours from the index alone.
    op.execute(f"CREATE INDEX usage_15m_station ON usage_15m (station_id, bucket) {COVERING}")
    for view in ("usage_15m", "usage_network_15m"):
        op.execute(
            f"SELECT add_continuous_aggregate_policy('{view}',"
            f" start_offset => INTERVAL '{REFRESH_WINDOW}',"
            f" end_offset => INTERVAL '{REFRESH_END_OFFSET}',"
            f" schedule_interval => INTERVAL '{REFRESH_EVERY}')"
        )
    for table, segment in (("events", "station_id"), ("metrics", "device_id")):
        op.execute(
            f"ALTER TABLE {table} SET (timescaledb.compress,"
            f" timescaledb.compress_segmentby = '{segment}',"
            f" timescaledb.compress_orderby = 'time')"
        )
        op.execute(f"SELECT add_compression_policy('{table}', INTERVAL '{COMPRESS_AFTER}')")
        if retention_days > 0:
            op.execute(f"SELECT add_retention_policy('{table}', INTERVAL '{retention_days} days')")
    # Everything already stored, once; refreshing cannot run inside a transaction.
    with op.get_context().autocommit_block():
        op.execute("CALL refresh_continuous_aggregate('usage_15m', NULL, NULL)")
        op.execute("CALL refresh_continuous_aggregate('usage_network_15m', NULL, NULL)")
    log.info("usage rollups: TimescaleDB continuous aggregates")


def _plain() -> None:
    op.execute(
        f"""
        CREATE TABLE usage_15m (
            station_id      text NOT NULL,
            bucket          timestamptz NOT NULL,
            visits          bigint NOT NULL,
            charge_sessions bigint NOT NULL,
            energy_wh       numeric NOT NULL,
            water_liters    numeric NOT NULL,
            dispenses       bigint NOT NULL,
            PRIMARY KEY (station_id, bucket) {COVERING}
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE usage_network_15m (
            bucket          timestamptz NOT NULL,
            visits          bigint NOT NULL,
            charge_sessions bigint NOT NULL,
            energy_wh       numeric NOT NULL,
            water_liters    numeric NOT NULL,
            dispenses       bigint NOT NULL,
            PRIMARY KEY (bucket) {COVERING}
        )
        """
    )
    quarter = "date_bin(INTERVAL '15 minutes', time, TIMESTAMPTZ '2000-01-01 00:00:00+00')"
    op.execute(
        f"""
        INSERT INTO usage_15m
        SELECT station_id, {quarter} AS bucket, {STATION_FIGURES}
        FROM events WHERE type IN {USAGE_TYPES} GROUP BY 1, 2
        """  # noqa: S608 (composed of constants)
    )
    network = f"INSERT INTO usage_network_15m SELECT bucket, {NETWORK_FIGURES} FROM usage_15m"  # noqa: S608
    op.execute(network + " GROUP BY 1")
    log.info("usage rollups: tables maintained by ingest (no TimescaleDB)")


def downgrade() -> None:
    bind = op.get_bind()
    kind = bind.execute(
        sa.text("SELECT relkind FROM pg_class WHERE relname = 'usage_network_15m'")
    ).scalar()
    if kind == "v":
        op.execute("DROP MATERIALIZED VIEW IF EXISTS usage_network_15m")
        op.execute("DROP MATERIALIZED VIEW IF EXISTS usage_15m")
    else:
        op.execute("DROP TABLE IF EXISTS usage_network_15m")
        op.execute("DROP TABLE IF EXISTS usage_15m")
    op.execute("DROP TABLE IF EXISTS alarm_clears")
    op.execute("ALTER TABLE alarms DROP COLUMN IF EXISTS opened_seq")
    op.execute("DROP TABLE IF EXISTS charge_sessions")
    op.execute("DROP INDEX IF EXISTS dead_letters_received_brin")
    op.execute("DROP INDEX IF EXISTS message_keys_ts_brin")
    op.execute("DROP INDEX IF EXISTS metrics_device_time")
    op.execute("CREATE INDEX metrics_device_time ON metrics (device_id, metric, time DESC)")
