"""Storage per telemetry message: bytes on disk (heap, indexes, TOAST) of what one kiosk
`telemetry` message with 3 metrics leaves in telemetry's real, migrated schema
(one `message_keys` row, three `metrics` rows), without compression.

    uv run python bench/storage.py                  # 200,000 messages
    uv run python bench/storage.py --messages 50000

Starts PostgreSQL (TimescaleDB when the machine has it), migrates telemetry's database, writes
the rows with one INSERT ... SELECT per table (device ids, station ids and metric names as
the simulator makes them), VACUUMs, and divides the tables' total size by the messages.
Baseline in the same run: the message's JSON payload as a kiosk sends it. The last line
printed is one JSON object.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from yizhan.devstack.postgres import PostgresCluster
from yizhan.devstack.processes import free_port

DEVICES = 5_000
PAYLOAD = {
    "v": 1,
    "seq": 104200,
    "ts": "2026-11-23T10:10:00.123+08:00",
    "metrics": {"power_w": 512.3, "energy_wh": 123456.7, "temp_c": 41.5},
}
TABLES = ("message_keys", "metrics")


def main() -> None:
    """Write the rows, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yz-bench-storage-") as tmp:
        cluster = PostgresCluster(Path(tmp) / "pg", free_port())
        cluster.init()
        cluster.start()
        try:
            cluster.create_database("bench_telemetry")
            env = {
                **os.environ,
                "YZ_ENV": "test",
                "YZ_TELEMETRY_DATABASE_URL": cluster.url("bench_telemetry"),
            }
            subprocess.run(["yz-telemetry", "migrate"], env=env, check=True, capture_output=True)
            figures = measure(cluster.dsn("bench_telemetry"), args.messages)
        finally:
            cluster.stop()
    print(json.dumps(figures))


def measure(dsn: str, messages: int) -> dict[str, object]:
    """Insert `messages` messages' rows; bytes per message per table."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        timescale = conn.execute(
            "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        conn.execute(
            """
            INSERT INTO message_keys (device_id, seq, ts, received_at)
            SELECT 'kiosk-' || (n %% %(devices)s), n / %(devices)s,
                   now() - (n || ' seconds')::interval / 100,
                   now() - (n || ' seconds')::interval / 100
            FROM generate_series(0, %(messages)s - 1) AS n
            """,
            {"devices": DEVICES, "messages": messages},
        )
        conn.execute(
            """
            INSERT INTO metrics (time, station_id, device_id, metric, value)
            SELECT now() - (n || ' seconds')::interval / 100,
                   'CQ-' || (n %% %(devices)s / 5), 'kiosk-' || (n %% %(devices)s),
                   m.metric, random() * 1000
            FROM generate_series(0, %(messages)s - 1) AS n,
                 unnest(ARRAY['power_w', 'energy_wh', 'temp_c']) AS m(metric)
            """,
            {"devices": DEVICES, "messages": messages},
        )
        conn.execute("VACUUM ANALYZE")
        per_table: dict[str, float] = {}
        for table in TABLES:
            row = conn.execute(
                "SELECT coalesce(sum(total_bytes), 0) FROM ("
                " SELECT pg_total_relation_size(c.oid) AS total_bytes FROM pg_class c"
                " WHERE c.relname = %(t)s"
                " UNION ALL"
                " SELECT pg_total_relation_size(format('%%I.%%I', h.schema_name, h.table_name))"
                " FROM _timescaledb_catalog.chunk h JOIN _timescaledb_catalog.hypertable t"
                " ON h.hypertable_id = t.id WHERE t.table_name = %(t)s) AS sizes"
                if timescale and timescale[0]
                else "SELECT pg_total_relation_size(%(t)s::regclass)",
                {"t": table},
            ).fetchone()
            per_table[table] = round(int(row[0] if row else 0) / messages, 1)
    return {
        "storage": "timescaledb" if timescale and timescale[0] else "postgresql",
        "messages": messages,
        "bytes_per_message": per_table,
        "bytes_per_message_total": round(sum(per_table.values()), 1),
        "baseline_payload_bytes": len(json.dumps(PAYLOAD, separators=(",", ":"))),
    }


if __name__ == "__main__":
    main()
