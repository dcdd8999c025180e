"""Console benchmark: the overview's usage query (90 days, whole network, daily buckets in
Asia/Shanghai) over at least 20 million raw usage events, through the real usage path
(yizhan.telemetry.usage.usage_series, the code behind GET /api/v1/usage and gRPC GetUsage),
against the same figures computed straight from the raw events, in the same run.

    uv run python bench/console.py                  # 20M events, its own PostgreSQL (~5 min)
    uv run python bench/console.py --events 2000000 # a quick look (not the acceptance size)

How the data gets there: a fresh telemetry database is migrated up to revision 0002 (before
any usage rollup exists), the raw events are loaded with COPY, and then the remaining
migrations run, so that whatever rollups telemetry keeps are built from those events by
telemetry's own migration, as on an installation that upgrades. Passing means p95 < 50 ms and
at least 20x faster than raw. The last line printed is one JSON object with every figure.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from yizhan.common.db import create_engine, libpq_dsn, session_factory
from yizhan.devstack.postgres import PostgresCluster
from yizhan.devstack.processes import free_port
from yizhan.telemetry import usage

MIGRATIONS = (
    Path(__file__).resolve().parent.parent / "services/telemetry/src/yizhan/telemetry/migrations"
)
# The last revision without usage rollups: raw data is loaded here, rollups built after.
BEFORE_ROLLUPS = "0002"
TZ = "Asia/Shanghai"
PERIOD_DAYS = 90
# History loaded: the period plus some days on either side, so the range cuts through data.
HISTORY_DAYS = 100
TARGET_P95_MS = 50.0
TARGET_SPEEDUP = 20.0
COPY_CHUNK_ROWS = 200_000
# (type, share of events): charge.start is not a usage figure but is part of real traffic.
MIX = (("visit", 0.40), ("water.dispense", 0.33), ("charge.stop", 0.17), ("charge.start", 0.10))

# The figures straight from the raw events, as telemetry computed them before rollups: the
# baseline the rollups are measured against (the same numbers, checked below).
RAW_SERIES = """
WITH buckets AS (
    SELECT generate_series(date_trunc('day', CAST(:start AS timestamptz)),
                           CAST(:end AS timestamptz) - interval '1 microsecond',
                           interval '1 day') AS start
), figures AS (
    SELECT date_trunc('day', time) AS start,
           COALESCE(SUM(count) FILTER (WHERE type = 'visit'), 0) AS visits,
           COUNT(*) FILTER (WHERE type = 'charge.stop') AS charge_sessions,
           COALESCE(SUM(amount::numeric) FILTER (WHERE type = 'charge.stop'), 0) AS energy_wh,
           COALESCE(SUM(amount::numeric) FILTER (WHERE type = 'water.dispense'), 0) AS liters,
           COUNT(*) FILTER (WHERE type = 'water.dispense') AS dispenses
    FROM events
    WHERE time >= :start AND time < :end AND type IN ('visit', 'charge.stop', 'water.dispense')
    GROUP BY 1
)
SELECT b.start, COALESCE(f.visits, 0), COALESCE(f.charge_sessions, 0),
       COALESCE(f.energy_wh, 0), COALESCE(f.liters, 0), COALESCE(f.dispenses, 0)
FROM buckets b LEFT JOIN figures f ON f.start = b.start ORDER BY b.start
"""


def alembic_config(database_url: str) -> Config:
    """Alembic pointed at telemetry's migrations and the bench database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def load_part(
    dsn: str, count: int, stations: int, now: datetime, seed: int, worker: int, workers: int
) -> None:
    """COPY this worker's share of `count` raw events: the hours h with h % workers == worker,
    in time order, so that the table's physical order follows time as ingest's appends do
    (what the BRIN index on time relies on).

    Rows are built from precomputed text (minute prefixes, station and device ids, amounts)
    so that Python spends its time on joining strings, not on datetimes.
    """
    rng = random.Random(seed + worker)
    start = (now - timedelta(days=HISTORY_DAYS)).replace(minute=0, second=0, microsecond=0)
    hours = HISTORY_DAYS * 24
    minutes = [
        (start + timedelta(minutes=m)).strftime("%Y-%m-%d %H:%M:") for m in range(hours * 60)
    ]
    seconds = [f"{s:02d}+00" for s in range(60)]
    station_ids = [f"B-{n:05d}" for n in range(stations)]
    # Per type: (device suffix, count column, amount column choices).
    shapes = {
        "visit": ("counter", [str(n) for n in range(1, 7)], ["\\N"]),
        "water.dispense": ("water", ["\\N"], [f"{x / 100:.2f}" for x in range(20, 81)]),
        "charge.stop": ("charger", ["\\N"], [f"{x:.1f}" for x in range(40, 601, 7)]),
        "charge.start": ("charger", ["\\N"], ["\\N"]),
    }
    types = [t for t, _ in MIX]
    weights = [w for _, w in MIX]
    columns = "time, received_at, station_id, device_id, seq, type, count, amount, ref, attrs"
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        with cursor.copy(f"COPY events ({columns}) FROM STDIN") as copy:
            lines: list[str] = []
            for hour in range(worker, hours, workers):
                rows = count // hours + (1 if hour < count % hours else 0)
                kinds = rng.choices(types, weights, k=rows)
                minute_of = sorted(rng.choices(range(hour * 60, hour * 60 + 60), k=rows))
                second_of = rng.choices(seconds, k=rows)
                station_of = rng.choices(station_ids, k=rows)
                for i in range(rows):
                    kind = kinds[i]
                    device, numbers, amounts = shapes[kind]
                    moment = minutes[minute_of[i]] + second_of[i]
                    station = station_of[i]
                    lines.append(
                        f"{moment}\t{moment}\t{station}\t{station}-{device}\t"
                        f"{hour * 1_000_000 + i}\t{kind}\t{rng.choice(numbers)}\t"
                        f"{rng.choice(amounts)}\t\\N\t{{}}\n"
                    )
                if len(lines) >= COPY_CHUNK_ROWS:
                    copy.write("".join(lines))
                    lines = []
            copy.write("".join(lines))
        conn.commit()


def load_events(
    dsn: str, count: int, stations: int, now: datetime, seed: int, workers: int
) -> float:
    """COPY `count` raw events with `workers` processes, the table's indexes dropped during the
    load and built again after it (as any bulk load does); returns seconds taken."""
    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        definitions = [
            str(row[0])
            for row in conn.execute(
                "SELECT indexdef FROM pg_indexes"
                " WHERE schemaname = 'public' AND tablename = 'events'"
            ).fetchall()
        ]
        for definition in definitions:
            name = definition.split(" INDEX ", 1)[1].split(" ON ", 1)[0]
            conn.execute(f"DROP INDEX {name}")
    with multiprocessing.Pool(workers) as pool:
        pool.starmap(
            load_part, [(dsn, count, stations, now, seed, n, workers) for n in range(workers)]
        )
    print(f"  copied in {time.perf_counter() - started:.1f}s; building indexes")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        for definition in definitions:
            conn.execute(definition)
    return time.perf_counter() - started


def rollups_present(dsn: str) -> list[str]:
    """Rollup relations telemetry has (tables or continuous aggregates named usage_*)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relname LIKE 'usage%'"
            " AND c.relkind IN ('r', 'v', 'm')"
        ).fetchall()
    return sorted(str(r[0]) for r in rows)


def timescaledb_used(dsn: str) -> bool:
    """Whether events is a TimescaleDB hypertable in the bench database."""
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone():
            found = conn.execute(
                "SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = 'events'"
            ).fetchone()
            return found is not None
    return False


def percentile(values: list[float], share: float) -> float:
    """The `share` quantile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


async def measure(
    database_url: str, start: datetime, end: datetime, runs: int, raw_runs: int
) -> dict[str, Any]:
    """Time the real usage path and the raw computation; check they agree."""
    engine = create_engine(database_url, pool_size=2)
    sessions = session_factory(engine)
    try:
        fast: list[float] = []
        result = None
        for _ in range(runs + 3):  # three warm-up runs are not counted
            async with sessions() as session:
                began = time.perf_counter()
                result = await usage.usage_series(
                    session, station_ids=None, start=start, end=end, bucket="day", tz=TZ
                )
                fast.append((time.perf_counter() - began) * 1000)
        fast = fast[3:]
        raw: list[float] = []
        raw_rows: list[Any] = []
        for _ in range(raw_runs):
            async with sessions() as session:
                await session.execute(text("SELECT set_config('TimeZone', :tz, true)"), {"tz": TZ})
                began = time.perf_counter()
                reply = await session.execute(text(RAW_SERIES), {"start": start, "end": end})
                raw_rows = list(reply.all())
                raw.append((time.perf_counter() - began) * 1000)
    finally:
        await engine.dispose()
    assert result is not None
    same = len(raw_rows) == len(result.series) and all(
        row[0] == bucket_start
        and int(row[1]) == figures.visits
        and int(row[2]) == figures.charge_sessions
        and row[3] == figures.energy_wh
        and row[4] == figures.water_liters
        and int(row[5]) == figures.dispenses
        for row, (bucket_start, figures) in zip(raw_rows, result.series, strict=False)
    )
    return {
        "buckets": len(result.series),
        "visits": result.totals.visits,
        "usage_p50_ms": round(statistics.median(fast), 2),
        "usage_p95_ms": round(percentile(fast, 0.95), 2),
        "raw_p50_ms": round(statistics.median(raw), 1),
        "raw_p95_ms": round(percentile(raw, 0.95), 1),
        "same_figures": same,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--stations", type=int, default=600)
    parser.add_argument("--runs", type=int, default=60, help="timed runs of the usage path")
    parser.add_argument("--raw-runs", type=int, default=3, help="timed raw computations")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2, help="loader processes")
    parser.add_argument(
        "--timescaledb",
        choices=["auto", "on", "off"],
        default="auto",
        help="YZ_TELEMETRY_TIMESCALEDB for the migrations (off: plain tables and rollups)",
    )
    args = parser.parse_args()
    # Read by telemetry's migrations (Settings), which decide hypertables and rollup kind.
    os.environ["YZ_TELEMETRY_TIMESCALEDB"] = args.timescaledb

    with tempfile.TemporaryDirectory(prefix="yz-bench-console-") as folder:
        cluster = PostgresCluster(Path(folder) / "postgres", free_port())
        cluster.start()
        try:
            cluster.create_database("yz_bench")
            database_url = cluster.url("yz_bench")
            dsn = libpq_dsn(database_url)
            config = alembic_config(database_url)
            command.upgrade(config, BEFORE_ROLLUPS)
            now = datetime.now(UTC)
            print(f"loading {args.events:,} raw events over {HISTORY_DAYS} days (COPY)")
            load_seconds = load_events(
                dsn, args.events, args.stations, now, args.seed, args.workers
            )
            print(f"  {args.events / load_seconds:,.0f} events/s")
            began = time.perf_counter()
            command.upgrade(config, "head")
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
            upgrade_seconds = time.perf_counter() - began
            rollups = rollups_present(dsn)
            timescale = timescaledb_used(dsn)
            print(f"migrated to head in {upgrade_seconds:.1f}s; rollups: {rollups or 'none'}")

            today = now.astimezone(ZoneInfo(TZ)).date()
            end = datetime.combine(today, datetime.min.time(), ZoneInfo(TZ))
            start = end - timedelta(days=PERIOD_DAYS)
            figures = asyncio.run(measure(database_url, start, end, args.runs, args.raw_runs))
        finally:
            cluster.stop()

    speedup = figures["raw_p50_ms"] / max(figures["usage_p50_ms"], 1e-3)
    passed = (
        args.events >= 20_000_000
        and figures["usage_p95_ms"] < TARGET_P95_MS
        and speedup >= TARGET_SPEEDUP
        and figures["same_figures"]
    )
    print(f"overview usage, {PERIOD_DAYS} days network-wide, daily buckets ({figures['buckets']}):")
    print(
        f"  usage path (usage.usage_series): p50 {figures['usage_p50_ms']} ms, "
        f"p95 {figures['usage_p95_ms']} ms (target < {TARGET_P95_MS:.0f} ms)"
    )
    print(
        f"  raw events:                      p50 {figures['raw_p50_ms']} ms, "
        f"p95 {figures['raw_p95_ms']} ms"
    )
    print(
        f"  speedup {speedup:.1f}x (target >= {TARGET_SPEEDUP:.0f}x); same figures: "
        f"{figures['same_figures']}; {'PASS' if passed else 'FAIL'}"
    )
    summary = {
        "bench": "console_usage",
        "raw_events": args.events,
        "stations": args.stations,
        "period_days": PERIOD_DAYS,
        "load_events_per_s": round(args.events / load_seconds),
        "timescaledb": timescale,
        "rollups": rollups,
        **figures,
        "speedup": round(speedup, 1),
        "target_p95_ms": TARGET_P95_MS,
        "target_speedup": TARGET_SPEEDUP,
        "pass": passed,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
