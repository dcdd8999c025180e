"""Benchmark of the booking path (issue 16): bookings of distinct slots offered at a fixed
rate, one slot raced by 200 workers at once, a 30-seat session raced by 300, and the same three
rounds against the bare framework answering a static JSON (bench/bare_app.py) on the same
machine with the same load generator (bench/loadgen.py), so the ratio to the limit shows.

Starts what it needs: a PostgreSQL cluster (yizhan.devstack.postgres) in a temporary folder,
then the stations and bookings services as processes (`yz-stations`, `yz-bookings`, with their
default worker processes). One-time codes are fetched before each round; only
POST /api/v1/bookings is timed. Where a booking's time goes, per step, is read from the
service's own spans (yz_booking_phase_seconds) over the distinct round. Progress goes to
stderr; the last line on stdout is ONE JSON object of figures.

    uv run python bench/bookings.py [--rate 550] [--seconds 5] [--generators 2]
"""

import argparse
import asyncio
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import (
    Call,
    LoadGenerator,
    Round,
    add_generator_arguments,
    cpu_seconds,
    load_average,
)
from yizhan.bookings.codes import derive_key
from yizhan.bookings.otp import HASH_CONTEXT, OTP_DIGITS, code_hash
from yizhan.common.db import libpq_dsn
from yizhan.common.settings import CommonSettings
from yizhan.devstack.postgres import PostgresCluster
from yizhan.devstack.processes import free_port

SHANGHAI = ZoneInfo("Asia/Shanghai")
ADMIN_PASSWORD = "bench-admin-password"
STARTUP_SECONDS = 240  # a busy shared machine starts services slowly
# The two races of issue 16: 200 workers for one slot, 300 for the 30 seats of a session.
SLOT_RACERS = 200
SEAT_RACERS = 300
CONTENDED_SEATS = 30
# A folder of another bookings version's sources to run instead (before/after comparisons).
SERVICE_PYTHONPATH = "YZ_BENCH_BOOKINGS_PYTHONPATH"
# Well under the server's keep-alive timeout (uvicorn: 5 s), so that a pooled connection is
# never reused just as the server closes it (the ReadError the old benchmark died of).
CLIENT_KEEPALIVE_SECONDS = 1.0
# Bookings of distinct slots at the round's rate before the timed rounds (see run_rounds).
WARMUP_SECONDS = 1.0


def say(message: str) -> None:
    """Progress, on stderr (stdout carries only the figures)."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


@dataclass
class Service:
    """A started service: where it answers."""

    http: str
    grpc: str
    pid: int


def postgres(stack: ExitStack, work: Path, databases: tuple[str, ...]) -> PostgresCluster:
    """A PostgreSQL cluster in `work` with these databases, stopped when `stack` closes."""
    cluster = PostgresCluster(work / "postgres", free_port())
    say("starting PostgreSQL")
    cluster.start()
    stack.callback(cluster.stop)
    for name in databases:
        cluster.create_database(name)
    return cluster


def booking_services(
    stack: ExitStack, work: Path, cluster: PostgresCluster
) -> tuple[Service, Service]:
    """The stations and bookings services on the cluster's bench databases, stopped when
    `stack` closes."""
    stations = stack.enter_context(service("stations", cluster.url("bench_stations"), {}, work))
    bookings_env = {
        "YZ_STATIONS_GRPC": stations.grpc,
        # Every request of the benchmark comes from this one address.
        "YZ_BOOKINGS_OTP_SENDS_PER_CLIENT_PER_HOUR": "1000000",
    }
    bookings = stack.enter_context(
        service("bookings", cluster.url("bench_bookings"), bookings_env, work)
    )
    return stations, bookings


@contextmanager
def service(name: str, database_url: str, env: dict[str, str], logs: Path) -> Iterator[Service]:
    """Migrate and serve `yz-<name>` on free ports until the block ends."""
    http_port, grpc_port = free_port(), free_port()
    full = {
        **os.environ,
        "YZ_ENV": "dev",
        "YZ_LOG_LEVEL": "WARNING",
        f"YZ_{name.upper()}_DATABASE_URL": database_url,
        f"YZ_{name.upper()}_HTTP_PORT": str(http_port),
        f"YZ_{name.upper()}_GRPC_PORT": str(grpc_port),
        **env,
    }
    if name == "bookings" and os.environ.get(SERVICE_PYTHONPATH):
        # Measuring another version of bookings (the "before" of docs/performance.md).
        full["PYTHONPATH"] = os.environ[SERVICE_PYTHONPATH]
    subprocess.run([f"yz-{name}", "migrate"], env=full, check=True, capture_output=True)
    if name == "stations":
        subprocess.run(
            [
                "yz-stations",
                "create-operator",
                "--username",
                "admin",
                "--role",
                "admin",
                "--districts",
                "",
                "--password-env",
                "YZ_BENCH_PASSWORD",
            ],
            env={**full, "YZ_BENCH_PASSWORD": ADMIN_PASSWORD},
            check=True,
            capture_output=True,
        )
    with (logs / f"{name}.log").open("wb") as log:
        process = subprocess.Popen([f"yz-{name}", "serve"], env=full, stdout=log, stderr=log)
    try:
        url = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start; see {logs / f'{name}.log'}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield Service(url, f"127.0.0.1:{grpc_port}", process.pid)
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


class Phones:
    """Distinct mainland numbers, one per booking: the per-phone limits stay as in production."""

    def __init__(self) -> None:
        self._next = 0

    def take(self, count: int) -> list[str]:
        """`count` numbers never handed out before in this run."""
        start, self._next = self._next, self._next + count
        return [f"137{n:08d}" for n in range(start, start + count)]


def client(base_url: str, connections: int = 64) -> httpx.AsyncClient:
    """A client for set-up work, its keep-alive shorter than the server's."""
    limits = httpx.Limits(
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=CLIENT_KEEPALIVE_SECONDS,
    )
    return httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits)


def seed_codes(database_url: str, phones: list[str]) -> list[str]:
    """A fresh one-time code for each phone, written straight into the bookings database as
    the service would store it (a keyed hash): fetching thousands through POST /api/v1/otp,
    whose per-client limiter row every request of the benchmark shares, took minutes on a busy
    machine. Only the booking is timed; its code check is the real one."""
    key = derive_key(CommonSettings().jwt_secret.get_secret_value(), HASH_CONTEXT)
    codes = [f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}" for _ in phones]
    rows = [(p, code_hash(key, p, c)) for p, c in zip(phones, codes, strict=True)]
    with psycopg.connect(libpq_dsn(database_url), autocommit=True) as db, db.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO otp_codes (phone, code_hash, created_at, expires_at, attempts)"
            " VALUES (%s, %s, now(), now() + interval '10 minutes', 0)",
            rows,
        )
    return codes


@dataclass
class Targets:
    """What the rounds book: distinct slots, the raced slot, the raced session."""

    distinct: list[dict[str, Any]]
    raced_slot: dict[str, Any]
    raced_session: dict[str, Any]


async def set_up(stations: Service, bookings: Service, distinct: int) -> Targets:
    """A station, enough livestream points for `distinct` slots, one more point and a
    session of CONTENDED_SEATS seats."""
    day = datetime.now(SHANGHAI).date() + timedelta(days=1)
    async with client(stations.http) as registry:
        login = await registry.post(
            "/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD}
        )
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        station = f"BENCH-{uuid.uuid4().hex[:8]}"
        made = await registry.post(
            "/api/v1/stations",
            json={"id": station, "name": {"zh": "压测驿站", "en": "Bench"}, "district": "压测区"},
            headers=auth,
        )
        made.raise_for_status()
    async with client(bookings.http) as http:

        async def point() -> list[dict[str, Any]]:
            made = await http.post(
                "/api/v1/livestream-points",
                json={"station_id": station, "name": "直播点", "slot_minutes": 30},
                headers=auth,
            )
            made.raise_for_status()
            point_id: int = made.json()["id"]
            slots = await http.get(
                f"/api/v1/livestream-points/{point_id}/slots", params={"date": day.isoformat()}
            )
            return [
                {"livestream_point_id": point_id, "start": s["start"], "end": s["end"]}
                for s in slots.json()["items"]
                if s["available"]
            ]

        free: list[dict[str, Any]] = []
        while len(free) < distinct:
            free += await point()
        raced = (await point())[0]
        start = datetime.now(SHANGHAI) + timedelta(days=2)
        session = await http.post(
            "/api/v1/forum-sessions",
            json={
                "station_id": station,
                "topic": "压测议事会",
                "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(),
                "seats": CONTENDED_SEATS,
            },
            headers=auth,
        )
        session.raise_for_status()
    return Targets(free[:distinct], raced, {"forum_session_id": session.json()["id"]})


def calls_for(targets: list[dict[str, Any]], phones: list[str], codes: list[str]) -> list[Call]:
    """One POST /api/v1/bookings per target, each with its own phone, code and key."""
    return [
        Call(
            "POST",
            "/api/v1/bookings",
            body={**t, "phone": p, "name": "骑手", "otp": c},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        for t, p, c in zip(targets, phones, codes, strict=True)
    ]


def prepared(database_url: str, phones: Phones, targets: list[dict[str, Any]]) -> list[Call]:
    """The round's requests, with fresh one-time codes (made now, not timed)."""
    numbers = phones.take(len(targets))
    return calls_for(targets, numbers, seed_codes(database_url, numbers))


PHASE_LINE = re.compile(r'^yz_booking_phase_seconds_(sum|count)\{phase="([a-z_]+)"\} (\S+)$')


def phase_totals(base_url: str) -> dict[str, tuple[float, float]]:
    """(seconds, count) per booking phase so far, from the service's /metrics."""
    text = httpx.get(f"{base_url}/metrics", timeout=30).text
    totals: dict[str, list[float]] = {}
    for line in text.splitlines():
        found = PHASE_LINE.match(line)
        if found:
            kind, phase, value = found.groups()
            totals.setdefault(phase, [0.0, 0.0])[0 if kind == "sum" else 1] += float(value)
    return {phase: (pair[0], pair[1]) for phase, pair in totals.items()}


def phase_means(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]
) -> dict[str, float]:
    """Mean milliseconds per booking in each phase between two readings."""
    means = {}
    for phase, (seconds, count) in after.items():
        seconds0, count0 = before.get(phase, (0.0, 0.0))
        if count > count0:
            means[phase] = round((seconds - seconds0) / (count - count0) * 1000, 3)
    return means


def booking_figures(result: Round, expected_created: int | None = None) -> dict[str, Any]:
    """The round's figures plus bookings made per second and how many seats were confirmed."""
    figures = result.figures()
    created = sum(1 for o in result.outcomes if o.status == 201)
    figures["bookings_per_s"] = round(created / result.seconds, 1)
    figures["confirmed"] = sum(1 for o in result.outcomes if o.body_status == "confirmed")
    if expected_created is not None:
        figures["created_as_expected"] = created == expected_created
    return figures


@contextmanager
def bare_framework(workers: int, logs: Path) -> Iterator[Service]:
    """The baseline server (bench/bare_app.py) with `workers` processes, until the block ends."""
    port = free_port()
    root = Path(__file__).resolve().parent.parent
    with (logs / "bare.log").open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.bare_app",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            cwd=root,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the bare framework did not start; see {logs / 'bare.log'}")
            try:
                if httpx.get(f"{url}/docs", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield Service(url, "", process.pid)
    finally:
        # The server and the workers it forked: one process group of their own.
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)


@dataclass
class Meter:
    """CPU time of the server's processes over a round: the service's (supervisor and
    workers) and the database's (the postmaster and its backends)."""

    server_pid: int
    database_pid: int | None = None

    def __post_init__(self) -> None:
        self._start = self._read()

    def _read(self) -> tuple[float, float]:
        database = cpu_seconds(self.database_pid) if self.database_pid else 0.0
        return cpu_seconds(self.server_pid), database

    def per_request(self, requests: int) -> dict[str, float]:
        """Milliseconds of CPU per request since the meter was made."""
        server, database = self._read()
        figures = {
            "server_cpu_ms_per_request": round((server - self._start[0]) * 1000 / requests, 3)
        }
        if self.database_pid:
            figures["database_cpu_ms_per_request"] = round(
                (database - self._start[1]) * 1000 / requests, 3
            )
        return figures


def metered(
    generator: LoadGenerator,
    target: Service,
    calls: list[Call],
    rate: float | None,
    database_pid: int | None = None,
) -> tuple[Round, dict[str, float]]:
    """Run a round and measure what it cost the server in CPU."""
    meter = Meter(target.pid, database_pid)
    result = generator.run(target.http, calls, rate)
    return result, meter.per_request(len(calls))


def run_rounds(
    generator: LoadGenerator,
    stations: Service,
    bookings: Service,
    database: tuple[str, int | None],
    bare: Service,
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    """The three rounds against bookings, then the same load against the bare framework."""
    database_url, database_pid = database
    distinct = int(rate * seconds)
    warmup = int(rate * WARMUP_SECONDS)
    phones = Phones()
    targets = asyncio.run(set_up(stations, bookings, warmup + distinct))

    # A rush meets a service that has been running: its pools open, its code paths taken
    # once (the booking function compiled by each database connection, the SMS text's
    # calendar data loaded). Not counted in any figure.
    say(f"warm-up: {warmup} bookings at {rate}/s, not counted")
    generator.run(bookings.http, prepared(database_url, phones, targets.distinct[:warmup]), rate)

    say(f"making {distinct} one-time codes")
    calls = prepared(database_url, phones, targets.distinct[warmup:])
    say(f"distinct slots: {distinct} bookings offered at {rate}/s")
    phases_before = phase_totals(bookings.http)
    distinct_round, distinct_cpu = metered(generator, bookings, calls, rate, database_pid)
    phases = phase_means(phases_before, phase_totals(bookings.http))

    slot_calls = prepared(database_url, phones, [targets.raced_slot] * SLOT_RACERS)
    say(f"one slot raced by {SLOT_RACERS}")
    slot_round, slot_cpu = metered(generator, bookings, slot_calls, None, database_pid)

    seat_calls = prepared(database_url, phones, [targets.raced_session] * SEAT_RACERS)
    say(f"{CONTENDED_SEATS} seats raced by {SEAT_RACERS}")
    seat_round, seat_cpu = metered(generator, bookings, seat_calls, None, database_pid)

    say("baseline: the same three rounds against the bare framework")
    bare_figures = {}
    for name, round_calls, round_rate in (
        ("distinct_slots", calls, rate),
        ("one_slot_race", slot_calls, None),
        ("seat_race", seat_calls, None),
    ):
        result, cpu = metered(generator, bare, round_calls, round_rate)
        bare_figures[name] = {**result.figures(), **cpu}
    bookings_figures = {
        "distinct_slots": {**booking_figures(distinct_round, distinct), **distinct_cpu},
        "one_slot_race": {**booking_figures(slot_round, 1), **slot_cpu},
        "seat_race": {**booking_figures(seat_round), **seat_cpu},
    }
    return {
        "bookings": bookings_figures,
        "bare_framework": bare_figures,
        "p99_vs_bare": {
            name: round(bookings_figures[name]["p99_ms"] / bare_figures[name]["p99_ms"], 1)
            if bare_figures[name]["p99_ms"]
            else None
            for name in bookings_figures
        },
        "phases_ms": phases,
    }


def verdict(figures: dict[str, Any], rate: float) -> dict[str, bool]:
    """Issue 16's acceptance, judged on this run."""
    made = figures["bookings"]
    return {
        "distinct_500_per_s": made["distinct_slots"]["bookings_per_s"] >= 500
        and made["distinct_slots"]["statuses"].get("201", 0) == made["distinct_slots"]["requests"],
        "distinct_p99_100ms": made["distinct_slots"]["p99_ms"] <= 100,
        "one_slot_exactly_one_201": made["one_slot_race"]["statuses"].get("201", 0) == 1
        and made["one_slot_race"]["statuses"].get("409", 0) == SLOT_RACERS - 1,
        "one_slot_p99_100ms": made["one_slot_race"]["p99_ms"] <= 100,
        "seats_exactly_30_confirmed": made["seat_race"]["confirmed"] == CONTENDED_SEATS,
        "no_5xx": all(made[r]["server_errors"] == 0 and made[r]["no_answer"] == 0 for r in made),
    }


def main() -> None:
    """Run the benchmark and print its figures as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=550.0, help="bookings offered a second")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the distinct round")
    add_generator_arguments(parser)
    args = parser.parse_args()
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="yz-bench-") as folder, ExitStack() as stack:
        work = Path(folder)
        cluster = postgres(stack, work, ("bench_stations", "bench_bookings"))
        stations, bookings = booking_services(stack, work, cluster)
        workers = http_workers(bookings.http)
        bare = stack.enter_context(bare_framework(workers, work))
        generator = LoadGenerator(args.generators, args.client)
        stack.callback(generator.close)
        say(f"services up ({workers} HTTP worker processes); {args.generators} generators")
        figures = run_rounds(
            generator,
            stations,
            bookings,
            (cluster.url("bench_bookings"), postmaster_pid(work / "postgres")),
            bare,
            args.rate,
            args.seconds,
        )
    result = {
        "bench": "bookings",
        "date": date.today().isoformat(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "http_workers": workers,
        "generators": args.generators,
        "client": args.client,
        "warmup_seconds": WARMUP_SECONDS,
        **figures,
        "acceptance": verdict(figures, args.rate),
    }
    print(json.dumps(result, ensure_ascii=False, separators=(",", ":")))


def postmaster_pid(data_dir: Path) -> int | None:
    """The cluster's main process (its first line of postmaster.pid), if it can be read."""
    try:
        return int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def http_workers(base_url: str) -> int:
    """How many HTTP worker processes the service runs (its metrics say; 1 when silent)."""
    text = httpx.get(f"{base_url}/metrics", timeout=30).text
    found = re.search(r"^yz_http_workers(?:\{[^}]*\})? (\S+)$", text, re.MULTILINE)
    return int(float(found.group(1))) if found else 1


if __name__ == "__main__":
    main()
