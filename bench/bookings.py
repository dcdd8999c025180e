"""Benchmark of booking under contention: many workers racing for a few livestream slots and
for the seats of one session, against the same number of bookings that never collide (the
baseline), in one run on this machine.

Starts what it needs: a PostgreSQL cluster (yizhan.devstack.postgres) in a temporary folder,
then the stations and bookings services as processes (`yz-stations`, `yz-bookings`). One-time
codes are fetched before each round; only POST /api/v1/bookings is timed. Progress goes to
stderr; the last line on stdout is ONE JSON object of figures.

    uv run python bench/bookings.py [--requests 300] [--concurrency 50]
"""

import argparse
import asyncio
import json
import os
import statistics
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

from yizhan.devstack.postgres import PostgresCluster
from yizhan.devstack.processes import free_port

SHANGHAI = ZoneInfo("Asia/Shanghai")
ADMIN_PASSWORD = "bench-admin-password"
STARTUP_SECONDS = 60
# Slots the contended round races for, and seats of the contended session.
CONTENDED_SLOTS = 5
CONTENDED_SEATS = 30
# Fetching one-time codes before a round (not timed).
PREPARE_CONCURRENCY = 16


def say(message: str) -> None:
    """Progress, on stderr (stdout carries only the figures)."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


@dataclass
class Service:
    """A started service: where it answers."""

    http: str
    grpc: str


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
        yield Service(url, f"127.0.0.1:{grpc_port}")
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


async def codes_for(client: httpx.AsyncClient, phones: list[str]) -> list[str]:
    """Ask for a one-time code for each phone and read it from the development endpoint."""
    limit = asyncio.Semaphore(PREPARE_CONCURRENCY)

    async def one(phone: str) -> str:
        async with limit:
            sent = await client.post("/api/v1/otp", json={"phone": phone})
            sent.raise_for_status()
            reply = await client.get("/api/v1/dev/otp", params={"phone": phone})
            reply.raise_for_status()
            code: str = reply.json()["code"]
            return code

    return list(await asyncio.gather(*(one(p) for p in phones)))


async def timed_round(
    client: httpx.AsyncClient, bodies: list[dict[str, Any]], concurrency: int
) -> dict[str, Any]:
    """POST every body with at most `concurrency` in flight; figures of the round."""
    limit = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    statuses: dict[str, int] = {}

    async def one(body: dict[str, Any]) -> None:
        async with limit:
            started = time.perf_counter()
            reply = await client.post(
                "/api/v1/bookings", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
            )
            latencies.append(time.perf_counter() - started)
            key = str(reply.status_code)
            statuses[key] = statuses.get(key, 0) + 1

    began = time.perf_counter()
    await asyncio.gather(*(one(body) for body in bodies))
    wall = time.perf_counter() - began
    latencies.sort()
    created = statuses.get("201", 0)
    return {
        "requests": len(bodies),
        "statuses": dict(sorted(statuses.items())),
        "seconds": round(wall, 3),
        "requests_per_second": round(len(bodies) / wall, 1),
        "bookings_per_second": round(created / wall, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1),
        "server_errors": sum(n for s, n in statuses.items() if s.startswith("5")),
    }


async def run_rounds(
    stations: Service, bookings: Service, requests: int, concurrency: int
) -> dict[str, Any]:
    """Set up a station, points and a session; run the baseline and the contended rounds."""
    day = datetime.now(SHANGHAI).date() + timedelta(days=1)
    limits = httpx.Limits(max_connections=concurrency + 10)
    phones = Phones()
    async with httpx.AsyncClient(base_url=stations.http, timeout=30) as registry:
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
    async with httpx.AsyncClient(base_url=bookings.http, timeout=60, limits=limits) as client:

        async def point() -> tuple[int, list[dict[str, Any]]]:
            made = await client.post(
                "/api/v1/livestream-points",
                json={"station_id": station, "name": "直播点", "slot_minutes": 30},
                headers=auth,
            )
            made.raise_for_status()
            point_id: int = made.json()["id"]
            slots = await client.get(
                f"/api/v1/livestream-points/{point_id}/slots", params={"date": day.isoformat()}
            )
            return point_id, [s for s in slots.json()["items"] if s["available"]]

        async def bodies(targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
            numbers = phones.take(len(targets))
            codes = await codes_for(client, numbers)
            return [
                {**t, "phone": p, "name": "骑手", "otp": c}
                for t, p, c in zip(targets, numbers, codes, strict=True)
            ]

        # Baseline: every request books a slot of its own (points enough to hold them all).
        free: list[dict[str, Any]] = []
        while len(free) < requests:
            point_id, slots = await point()
            free += [
                {"livestream_point_id": point_id, "start": s["start"], "end": s["end"]}
                for s in slots
            ]
        say(f"baseline: {requests} bookings of distinct slots")
        baseline = await timed_round(client, await bodies(free[:requests]), concurrency)

        point_id, slots = await point()
        few = [
            {"livestream_point_id": point_id, "start": s["start"], "end": s["end"]}
            for s in slots[:CONTENDED_SLOTS]
        ]
        say(f"contended slots: {requests} requests for {CONTENDED_SLOTS} slots")
        racing = [few[i % len(few)] for i in range(requests)]
        contended_slots = await timed_round(client, await bodies(racing), concurrency)

        start = datetime.now(SHANGHAI) + timedelta(days=2)
        session = await client.post(
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
        seat = {"forum_session_id": session.json()["id"]}
        say(f"contended seats: {requests} requests for {CONTENDED_SEATS} seats")
        contended_seats = await timed_round(client, await bodies([seat] * requests), concurrency)
    return {
        "baseline": baseline,
        "contended_slots": contended_slots,
        "contended_seats": contended_seats,
    }


def main() -> None:
    """Run the benchmark and print its figures as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per round")
    parser.add_argument("--concurrency", type=int, default=50, help="requests in flight")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yz-bench-") as folder, ExitStack() as stack:
        work = Path(folder)
        cluster = PostgresCluster(work / "postgres", free_port())
        say("starting PostgreSQL")
        cluster.start()
        stack.callback(cluster.stop)
        for name in ("bench_stations", "bench_bookings"):
            cluster.create_database(name)
        stations = stack.enter_context(service("stations", cluster.url("bench_stations"), {}, work))
        bookings_env = {
            "YZ_STATIONS_GRPC": stations.grpc,
            # Every request of the benchmark comes from this one address.
            "YZ_BOOKINGS_OTP_SENDS_PER_CLIENT_PER_HOUR": "1000000",
        }
        bookings = stack.enter_context(
            service("bookings", cluster.url("bench_bookings"), bookings_env, work)
        )
        say("services up")
        figures = asyncio.run(run_rounds(stations, bookings, args.requests, args.concurrency))
    base_p99 = figures["baseline"]["p99_ms"]
    result = {
        "bench": "bookings",
        "date": date.today().isoformat(),
        "cpus": os.cpu_count(),
        "requests_per_round": args.requests,
        "concurrency": args.concurrency,
        **figures,
        "p99_vs_baseline": {
            name: round(figures[name]["p99_ms"] / base_p99, 2) if base_p99 else None
            for name in ("contended_slots", "contended_seats")
        },
    }
    print(json.dumps(result, ensure_ascii=False, separators=(",", ":")))


if __name__ == "__main__":
    main()
