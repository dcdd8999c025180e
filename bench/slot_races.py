"""Benchmark of a rush on one slot, many times over (issue 16): bench/bookings.py times one
race of 200 for one slot, a single sample of a 100-ms event; this one runs `--races` such
races one after the other, each for a slot of its own on a point of its own, after the same
warm-up and a round of distinct slots at 550/s, and reports each race's p99 and the service's
CPU per request, with how many times the booking function ran per race (the requests that
asked the database rather than taking another's answer, slot_flights.py). The same races run
against the bare framework (bench/bare_app.py) in the same run.

Starts what it needs, as bench/bookings.py does. Progress goes to stderr; the last line on
stdout is ONE JSON object of figures.

    uv run python bench/slot_races.py [--races 12] [--racers 200]
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bookings import (
    Phones,
    bare_framework,
    booking_services,
    http_workers,
    metered,
    postgres,
    postmaster_pid,
    prepared,
    say,
    set_up,
)
from bench.loadgen import LoadGenerator, add_generator_arguments, load_average
from yizhan.common.db import libpq_dsn

RATE = 550.0
DISTINCT_SECONDS = 5.0
# Livestream slots a set-up point offers in a day (bench.bookings.set_up): taking every
# SLOTS_APART-th slot gives each race a point of its own, not yet kept by the service.
SLOTS_APART = 30
SETTLE_SECONDS = 0.2
# An idle backend reports its function statistics within 10 s (PostgreSQL 15's
# PGSTAT_IDLE_INTERVAL): read the count only after that, or calls made before the races are
# counted in them.
STATISTICS_SECONDS = 11.0


def booking_calls(database_url: str) -> int:
    """How many times yz_book_slot has run (PostgreSQL's function statistics), once every
    backend has reported its calls."""
    time.sleep(STATISTICS_SECONDS)
    with psycopg.connect(libpq_dsn(database_url), autocommit=True) as db:
        row = db.execute(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions"
            " WHERE funcname = 'yz_book_slot'"
        ).fetchone()
    return int(row[0]) if row else 0


def main() -> None:
    """Run the races and print their figures as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--races", type=int, default=12, help="races, each for its own slot")
    parser.add_argument("--racers", type=int, default=200, help="requests in each race")
    add_generator_arguments(parser)
    args = parser.parse_args()
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="yz-bench-") as folder, ExitStack() as stack:
        work = Path(folder)
        cluster = postgres(stack, work, ("bench_stations", "bench_bookings"))
        database_url = cluster.url("bench_bookings")
        with psycopg.connect(libpq_dsn(database_url), autocommit=True) as db:
            # Counts calls of the booking function (for `database_calls_per_race`).
            db.execute("ALTER DATABASE bench_bookings SET track_functions = 'pl'")
        stations, bookings = booking_services(stack, work, cluster)
        workers = http_workers(bookings.http)
        bare = stack.enter_context(bare_framework(workers, work))
        generator = LoadGenerator(args.generators, args.client)
        stack.callback(generator.close)
        phones = Phones()
        distinct = int(RATE * DISTINCT_SECONDS)
        targets = asyncio.run(set_up(stations, bookings, distinct + args.races * SLOTS_APART))
        say(f"warm-up and distinct slots: {distinct} bookings at {RATE}/s")
        generator.run(
            bookings.http, prepared(database_url, phones, targets.distinct[:distinct]), RATE
        )
        raced = targets.distinct[distinct::SLOTS_APART][: args.races]
        races = [prepared(database_url, phones, [slot] * args.racers) for slot in raced]
        pid = postmaster_pid(work / "postgres")
        say(f"{args.races} races of {args.racers}")
        calls_before = booking_calls(database_url)
        figures: list[dict[str, Any]] = []
        for calls in races:
            result, cpu = metered(generator, bookings, calls, None, pid)
            statuses = result.statuses()
            figures.append({**result.figures(), **cpu, "one_201": statuses.get("201") == 1})
            time.sleep(SETTLE_SECONDS)
        calls_per_race = (booking_calls(database_url) - calls_before) / max(1, args.races)
        say("baseline: the same races against the bare framework")
        bare_figures = [
            {**result.figures(), **cpu}
            for result, cpu in (metered(generator, bare, calls, None) for calls in races)
        ]
    p99s = [f["p99_ms"] for f in figures]
    bare_p99s = [f["p99_ms"] for f in bare_figures]
    cpus = [f["server_cpu_ms_per_request"] for f in figures]
    line = {
        "bench": "slot_races",
        "date": date.today().isoformat(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "http_workers": workers,
        "races": args.races,
        "racers": args.racers,
        "client": args.client,
        "every_race_exactly_one_201": all(f["one_201"] for f in figures),
        "server_errors": sum(f["server_errors"] + f["no_answer"] for f in figures),
        "p99_ms": p99s,
        "p99_ms_median": statistics.median(p99s),
        "p99_ms_max": max(p99s),
        "races_p99_at_most_100ms": sum(1 for p in p99s if p <= 100),
        "server_cpu_ms_per_request_median": statistics.median(cpus),
        "database_cpu_ms_per_request_median": statistics.median(
            f["database_cpu_ms_per_request"] for f in figures
        ),
        "database_calls_per_race": round(calls_per_race, 1),
        "bare_framework": {
            "p99_ms_median": statistics.median(bare_p99s),
            "p99_ms_max": max(bare_p99s),
            "server_cpu_ms_per_request_median": statistics.median(
                f["server_cpu_ms_per_request"] for f in bare_figures
            ),
        },
    }
    print(json.dumps(line, ensure_ascii=False, separators=(",", ":")))


if __name__ == "__main__":
    main()
