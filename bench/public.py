"""Benchmark of the public station API (CONTRACT.md §5): GET /api/v1/public/stations with a
worker's position, nearest first, over 5,600 stations with a charger and a water dispenser each
and their live state in telemetry, at a fixed offered rate (open loop: latency is counted from
when a request was due, so a server falling behind shows as latency, not as fewer requests).
The baseline, in the same run and at the same rate, is GET /healthz of the same bookings
process: the cost of the HTTP stack alone.

Starts what it needs: PostgreSQL in a temporary folder, then stations, telemetry (`serve`) and
bookings as processes; stations and devices are loaded with SQL. Progress goes to stderr; the
last line on stdout is ONE JSON object of figures.

    uv run python bench/public.py [--stations 5600] [--rate 2000] [--seconds 10]
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bookings import say, service
from yizhan.common.db import libpq_dsn
from yizhan.devstack.postgres import PostgresCluster
from yizhan.devstack.processes import free_port

# Chongqing's main urban area: stations and workers are spread over it.
LAT, LNG, SPREAD = 29.56, 106.55, 0.35
TARGET_P95_MS = 20.0
MAX_IN_FLIGHT = 256

LOAD_STATIONS = """
INSERT INTO stations (id, name_zh, name_en, district, address, latitude, longitude, host_type,
                      timezone, status, opening_exceptions, amenities, contact)
SELECT 'P-' || lpad(n::text, 5, '0'), '驿站' || n, 'Station ' || n, '区' || (n %% 38),
       '路' || n || '号', %s + (random() - 0.5) * %s, %s + (random() - 0.5) * %s, 'other',
       'Asia/Shanghai', 'active', '[]'::jsonb, ARRAY['charging', 'water'], ''
FROM generate_series(1, %s) n
"""
LOAD_DEVICES = """
INSERT INTO devices (id, station_id, kind, model, firmware, status, mqtt_username,
                     mqtt_password_hash, credential_generation, broker_generation)
SELECT s.id || '-' || k, s.id, k, '', '', 'active', s.id || '-' || k, 'x', 1, 0
FROM stations s CROSS JOIN (VALUES ('charger'), ('water')) AS kinds(k)
"""
LOAD_STATE = """
INSERT INTO device_state (device_id, station_id, last_seen)
SELECT 'P-' || lpad(n::text, 5, '0') || '-' || k, 'P-' || lpad(n::text, 5, '0'), now()
FROM generate_series(1, %s) n CROSS JOIN (VALUES ('charger'), ('water')) AS kinds(k)
"""


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds."""
    if len(values) < 2:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50_ms": round(statistics.median(values) * 1000, 2),
        "p95_ms": round(cuts[94] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
    }


async def open_loop(url: str, rate: float, seconds: float, params: Any) -> dict[str, Any]:
    """Offer `rate` requests a second for `seconds`; latency counted from each one's due time."""
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
    latencies: list[float] = []
    errors = 0
    total = int(rate * seconds)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one(due: float) -> None:
            nonlocal errors
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                reply = await client.get(url, params=params())
                if reply.status_code != 200:
                    errors += 1
                    return
            except httpx.HTTPError:
                errors += 1
                return
            latencies.append(time.perf_counter() - due)

        start = time.perf_counter() + 0.5
        began = time.perf_counter()
        await asyncio.gather(*(one(start + i / rate) for i in range(total)))
        elapsed = time.perf_counter() - began - 0.5
    return {
        "offered_per_s": rate,
        "achieved_per_s": round(len(latencies) / elapsed, 1) if elapsed > 0 else 0.0,
        "requests": total,
        "errors": errors,
        **percentiles(latencies),
    }


def main() -> None:
    """Run the benchmark and print its figures as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=5600)
    parser.add_argument("--rate", type=float, default=2000.0, help="requests offered a second")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each round")
    args = parser.parse_args()
    rng = random.Random(15)
    with tempfile.TemporaryDirectory(prefix="yz-bench-") as folder, ExitStack() as stack:
        work = Path(folder)
        cluster = PostgresCluster(work / "postgres", free_port())
        say("starting PostgreSQL")
        cluster.start()
        stack.callback(cluster.stop)
        for name in ("pb_stations", "pb_telemetry", "pb_bookings"):
            cluster.create_database(name)
        stations = stack.enter_context(service("stations", cluster.url("pb_stations"), {}, work))
        with psycopg.connect(libpq_dsn(cluster.url("pb_stations")), autocommit=True) as db:
            db.execute(LOAD_STATIONS, (LAT, SPREAD, LNG, SPREAD, args.stations))
            db.execute(LOAD_DEVICES)
        telemetry = stack.enter_context(
            service(
                "telemetry", cluster.url("pb_telemetry"), {"YZ_STATIONS_GRPC": stations.grpc}, work
            )
        )
        with psycopg.connect(libpq_dsn(cluster.url("pb_telemetry")), autocommit=True) as db:
            db.execute(LOAD_STATE, (args.stations,))
        bookings_env = {
            "YZ_STATIONS_GRPC": stations.grpc,
            "YZ_TELEMETRY_GRPC": telemetry.grpc,
            # Every request of the benchmark comes from this one address.
            "YZ_BOOKINGS_PUBLIC_REQUESTS_PER_MINUTE": "100000000",
        }
        bookings = stack.enter_context(
            service("bookings", cluster.url("pb_bookings"), bookings_env, work)
        )
        say("services up; warming the finder")
        url = f"{bookings.http}/api/v1/public/stations"
        first = httpx.get(url, params={"limit": 1}, timeout=60).json()
        assert first["items"], first

        def position() -> dict[str, Any]:
            return {
                "lat": round(LAT + (rng.random() - 0.5) * SPREAD, 5),
                "lng": round(LNG + (rng.random() - 0.5) * SPREAD, 5),
                "limit": 20,
            }

        say(f"baseline: /healthz at {args.rate}/s")
        baseline = asyncio.run(open_loop(f"{bookings.http}/healthz", args.rate, args.seconds, dict))
        say(f"public: /api/v1/public/stations at {args.rate}/s")
        public = asyncio.run(open_loop(url, args.rate, args.seconds, position))
    result = {
        "bench": "public",
        "date": date.today().isoformat(),
        "cpus": os.cpu_count(),
        "stations": args.stations,
        "seconds_per_round": args.seconds,
        "baseline_healthz": baseline,
        "public_stations": public,
        "target_p95_ms": TARGET_P95_MS,
        "p95_met": public["p95_ms"] <= TARGET_P95_MS and public["errors"] == 0,
    }
    print(json.dumps(result, ensure_ascii=False, separators=(",", ":")))


if __name__ == "__main__":
    main()
