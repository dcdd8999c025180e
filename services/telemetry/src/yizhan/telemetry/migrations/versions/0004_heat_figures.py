"""Heating uses and seconds (the fourth promise: 饭凉能加热) in the usage rollups.

`heat.use` events count as two more usage figures (figures.py): `heat_uses` and
`heat_seconds` (the API shows minutes). Both storage paths get them:

- Plain PostgreSQL (and TimescaleDB without its community features): two columns on the
  rollup tables, zero for every existing quarter hour (no `heat.use` event could be stored
  before this revision: it was an unknown type), and the covering primary keys rebuilt to
  include them.
- TimescaleDB continuous aggregates cannot gain columns: both are dropped and created again
  with all seven figures, their policies and index as migration 0003 made them, and refreshed
  over everything stored.

The figures below are frozen as written here; tests/telemetry/test_figures.py pins them to
figures.py.

Revision ID: 0004
Revises: 0003
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

BUCKET = "15 minutes"
REFRESH_WINDOW = "32 days"
REFRESH_EVERY = "1 minute"
REFRESH_END_OFFSET = "15 minutes"

STATION_FIGURES = """
    COALESCE(sum(count) FILTER (WHERE type = 'visit'), 0)::bigint AS visits,
    count(*) FILTER (WHERE type = 'charge.stop') AS charge_sessions,
    COALESCE(sum(amount::numeric) FILTER (WHERE type = 'charge.stop'), 0) AS energy_wh,
    COALESCE(sum(amount::numeric) FILTER (WHERE type = 'water.dispense'), 0) AS water_liters,
    count(*) FILTER (WHERE type = 'water.dispense') AS dispenses,
    count(*) FILTER (WHERE type = 'heat.use') AS heat_uses,
    COALESCE(sum(count) FILTER (WHERE type = 'heat.use'), 0)::bigint AS heat_seconds
"""
NETWORK_FIGURES = """
    sum(visits)::bigint AS visits, sum(charge_sessions)::bigint AS charge_sessions,
    sum(energy_wh) AS energy_wh, sum(water_liters) AS water_liters,
    sum(dispenses)::bigint AS dispenses, sum(heat_uses)::bigint AS heat_uses,
    sum(heat_seconds)::bigint AS heat_seconds
"""
USAGE_TYPES = "('visit', 'charge.stop', 'water.dispense', 'heat.use')"
COVERING = (
    "INCLUDE (visits, charge_sessions, energy_wh, water_liters, dispenses, heat_uses, heat_seconds)"
)
COVERING_BEFORE = "INCLUDE (visits, charge_sessions, energy_wh, water_liters, dispenses)"


def _rollup_kind() -> str | None:
    kind: str | None = (
        op.get_bind()
        .execute(sa.text("SELECT relkind::text FROM pg_class WHERE relname = 'usage_15m'"))
        .scalar()
    )
    return kind


def upgrade() -> None:
    if _rollup_kind() == "v":
        _timescale()
    else:
        _plain()


def _plain() -> None:
    for table, key in (("usage_15m", "station_id, bucket"), ("usage_network_15m", "bucket")):
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN heat_uses bigint NOT NULL DEFAULT 0,"
            " ADD COLUMN heat_seconds bigint NOT NULL DEFAULT 0"
        )
        # Ingest always writes every figure: no default, like the other columns.
        op.execute(
            f"ALTER TABLE {table} ALTER COLUMN heat_uses DROP DEFAULT,"
            " ALTER COLUMN heat_seconds DROP DEFAULT"
        )
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey")
        op.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({key}) {COVERING}")
    log.info("usage rollups: heating figures added to the rollup tables")


def _timescale() -> None:
    op.execute("DROP MATERIALIZED VIEW usage_network_15m")
    op.execute("DROP MATERIALIZED VIEW usage_15m")
    _create_views(STATION_FIGURES, NETWORK_FIGURES, USAGE_TYPES, COVERING)
    log.info("usage rollups: continuous aggregates rebuilt with the heating figures")


def _create_views(station: str, network: str, types: str, covering: str) -> None:
    """The two continuous aggregates, their index and policies, as migration 0003 made them,
    over the given figures; refreshed over everything stored."""
    op.execute(
        f"""
        CREATE MATERIALIZED VIEW usage_15m
        WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
        SELECT station_id, time_bucket(INTERVAL '{BUCKET}', time) AS bucket, {station}
        FROM events WHERE type IN {types}
        GROUP BY station_id, bucket WITH NO DATA
        """  # noqa: S608 (composed of constants)
    )
    op.execute(
        f"""
        CREATE MATERIALIZED VIEW usage_network_15m
        WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
        SELECT time_bucket(INTERVAL '{BUCKET}', bucket) AS bucket, {network}
        FROM usage_15m GROUP BY 1 WITH NO DATA
        """  # noqa: S608 (composed of constants)
    )
    op.execute(f"CREATE INDEX usage_15m_station ON usage_15m (station_id, bucket) {covering}")
    for view in ("usage_15m", "usage_network_15m"):
        op.execute(
            f"SELECT add_continuous_aggregate_policy('{view}',"
            f" start_offset => INTERVAL '{REFRESH_WINDOW}',"
            f" end_offset => INTERVAL '{REFRESH_END_OFFSET}',"
            f" schedule_interval => INTERVAL '{REFRESH_EVERY}')"
        )
    # Refreshing cannot run inside a transaction.
    with op.get_context().autocommit_block():
        op.execute("CALL refresh_continuous_aggregate('usage_15m', NULL, NULL)")
        op.execute("CALL refresh_continuous_aggregate('usage_network_15m', NULL, NULL)")


# Migration 0003's figures, for the way back.
STATION_FIGURES_BEFORE = """
    COALESCE(sum(count) FILTER (WHERE type = 'visit'), 0)::bigint AS visits,
    count(*) FILTER (WHERE type = 'charge.stop') AS charge_sessions,
    COALESCE(sum(amount::numeric) FILTER (WHERE type = 'charge.stop'), 0) AS energy_wh,
    COALESCE(sum(amount::numeric) FILTER (WHERE type = 'water.dispense'), 0) AS water_liters,
    count(*) FILTER (WHERE type = 'water.dispense') AS dispenses
"""
NETWORK_FIGURES_BEFORE = """
    sum(visits)::bigint AS visits, sum(charge_sessions)::bigint AS charge_sessions,
    sum(energy_wh) AS energy_wh, sum(water_liters) AS water_liters,
    sum(dispenses)::bigint AS dispenses
"""
USAGE_TYPES_BEFORE = "('visit', 'charge.stop', 'water.dispense')"


def downgrade() -> None:
    # The heating events go with the figures that counted them.
    op.execute("DELETE FROM events WHERE type = 'heat.use'")
    if _rollup_kind() == "v":
        op.execute("DROP MATERIALIZED VIEW usage_network_15m")
        op.execute("DROP MATERIALIZED VIEW usage_15m")
        _create_views(
            STATION_FIGURES_BEFORE, NETWORK_FIGURES_BEFORE, USAGE_TYPES_BEFORE, COVERING_BEFORE
        )
        return
    for table, key in (("usage_15m", "station_id, bucket"), ("usage_network_15m", "bucket")):
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey")
        op.execute(f"ALTER TABLE {table} DROP COLUMN heat_uses, DROP COLUMN heat_seconds")
        op.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({key}) {COVERING_BEFORE}")
