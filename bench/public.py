"""Benchmark of the public station API (CONTRACT.md §5, issue 15 item 6): GET
/api/v1/public/stations with a worker's position, nearest first, over 5,600 stations with a
charger and a water dispenser each and their live state in telemetry, at a fixed offered rate
(open loop, bench/loadgen.py: latency is counted from when a request was due, so a server
falling behind shows as latency, not as fewer requests). The baseline, in the same run, at the
same rate, from the same generator, is the bare framework answering a static JSON of twenty
stations (bench/bare_app.py) with as many worker processes: what this machine can do at all.

Starts what it needs: PostgreSQL in a temporary folder, then stations, telemetry (`serve`) and
bookings as processes; stations and devices are loaded with SQL. Progress goes to stderr; the
last line on stdout is ONE JSON object of figures.

    uv run python bench/public.py [--stations 5600] [--rate 2000] [--seconds 10] [--generators 2]
"""

import argparse
import json
import os
import random
import sys
import tempfile
from contextlib import ExitStack
from datetime import date
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bookings import bare_framework, http_workers, metered, postgres, say, service
from bench.loadgen import Call, LoadGenerator, add_generator_arguments, load_average
from yizhan.common.db import libpq_dsn

# Chongqing's main urban area: stations and workers are spread over it.
LAT, LNG, SPREAD = 29.56, 106.55, 0.35
TARGET_P95_MS = 20.0

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


def main() -> None:
    """Run the benchmark and print its figures as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=5600)
    parser.add_argument("--rate", type=float, default=2000.0, help="requests offered a second")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each round")
    add_generator_arguments(parser)
    args = parser.parse_args()
    load_before = load_average()
    rng = random.Random(15)
    with tempfile.TemporaryDirectory(prefix="yz-bench-") as folder, ExitStack() as stack:
        work = Path(folder)
        cluster = postgres(stack, work, ("pb_stations", "pb_telemetry", "pb_bookings"))
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
        workers = http_workers(bookings.http)
        bare = stack.enter_context(bare_framework(workers, work))
        generator = LoadGenerator(args.generators, args.client)
        stack.callback(generator.close)
        say(f"services up ({workers} HTTP workers); warming the finder")
        url = f"{bookings.http}/api/v1/public/stations"
        first = httpx.get(url, params={"limit": 1}, timeout=60).json()
        assert first["items"], first

        def position() -> dict[str, str]:
            return {
                "lat": str(round(LAT + (rng.random() - 0.5) * SPREAD, 5)),
                "lng": str(round(LNG + (rng.random() - 0.5) * SPREAD, 5)),
                "limit": "20",
            }

        total = int(args.rate * args.seconds)
        calls = [Call("GET", "/api/v1/public/stations", params=position()) for _ in range(total)]
        sample = httpx.get(url, params=calls[0].params, timeout=60)
        # Every process of the service answers some: warm each one's snapshot first.
        generator.run(bookings.http, calls[:200], 100.0)
        say(f"baseline: the bare framework at {args.rate}/s")
        baseline_round, baseline_cpu = metered(generator, bare, calls, args.rate)
        baseline = {**baseline_round.figures(), **baseline_cpu}
        say(f"public: /api/v1/public/stations at {args.rate}/s")
        public_round, public_cpu = metered(generator, bookings, calls, args.rate)
        public = {**public_round.figures(), **public_cpu}
    result = {
        "bench": "public",
        "date": date.today().isoformat(),
        "cpus": os.cpu_count(),
        "stations": args.stations,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "http_workers": workers,
        "generators": args.generators,
        "client": args.client,
        "seconds_per_round": args.seconds,
        "answer_bytes": len(sample.content),
        "baseline_bare_framework": baseline,
        "public_stations": public,
        "p95_vs_bare": round(public["p95_ms"] / baseline["p95_ms"], 1)
        if baseline["p95_ms"]
        else None,
        "target_p95_ms": TARGET_P95_MS,
        "p95_met": public["p95_ms"] <= TARGET_P95_MS
        and public["statuses"] == {"200": public["requests"]},
    }
    print(json.dumps(result, ensure_ascii=False, separators=(",", ":")))


if __name__ == "__main__":
    main()
