"""Which storage path a telemetry database took (decided once, by the migrations):
TimescaleDB hypertables with continuous aggregates, or plain tables whose usage rollups
ingest keeps itself. The same names and columns either way, so queries do not care."""

from typing import Literal

import psycopg

Storage = Literal["timescaledb", "postgresql"]

# `usage_15m` is a view (continuous aggregate) with TimescaleDB, a table without.
_ROLLUP_KIND = """
SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = 'usage_15m' AND n.nspname = current_schema()
"""


def storage_of(relkind: str | None) -> Storage:
    """The storage path, from the kind of relation `usage_15m` is."""
    return "timescaledb" if relkind == "v" else "postgresql"


def rollup_kind_query() -> str:
    """The query that finds what `usage_15m` is (one column, relkind, or no row)."""
    return _ROLLUP_KIND


def keeps_rollups(conn: psycopg.Connection) -> bool:
    """Whether ingest must update the rollup tables itself (no continuous aggregates)."""
    row = conn.execute(_ROLLUP_KIND).fetchone()
    return row is not None and row[0] == "r"


def has_views(conn: psycopg.Connection) -> bool:
    """Whether the rollups are continuous aggregates (TimescaleDB)."""
    row = conn.execute(_ROLLUP_KIND).fetchone()
    return row is not None and row[0] == "v"
