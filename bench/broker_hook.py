"""Broker hook benchmark: how many authentication and authorization answers one stations
process gives a clustering broker (EMQX's HTTP backends), against its real database.

    uv run python bench/broker_hook.py             # 10,000 devices, 3 phases of 15 s
    uv run python bench/broker_hook.py --seconds 5 # shorter

Starts PostgreSQL and one stations process (the hook on), seeds stations and devices, then
for each phase keeps `--concurrency` requests in flight from one asyncio client and counts
answers per second and their latency: `GET /healthz` (the HTTP stack alone: the baseline),
`authorize` (a device publishing on its own topic, one in ten on another's: one primary-key
read), `authenticate` (device id, client id and password of the current generation). The
client runs on the same machine and takes a share of the CPU. The last line printed is one
JSON object with every figure.
"""

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from yizhan.devstack.postgres import PostgresCluster
from yizhan.devstack.processes import free_port
from yizhan.stations.passwords import device_password, hash_secret

SECRET = "bench-hook-secret-0123456789abcdef0123"
KEY = "bench-device-key-0123456789abcdef012345"
STATIONS = 500


def seed(dsn: str, devices: int) -> None:
    """Stations and devices straight into the migrated database (one argon2 hash for all:
    the hook compares derived passwords first and needs the hash only for old devices)."""
    shared_hash = hash_secret("not-used")
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO stations (id, name_zh, name_en, district, address, host_type, timezone,"
            " status, opening_exceptions, amenities, contact)"
            " VALUES (%s, %s, %s, %s, '', 'other', 'Asia/Shanghai', 'active', '[]', '{}', '')",
            [(f"BS-{n}", f"站{n}", f"Station {n}", "bench") for n in range(STATIONS)],
        )
        cur.executemany(
            "INSERT INTO devices (id, station_id, kind, model, firmware, status, mqtt_username,"
            " mqtt_password_hash, credential_generation, broker_generation)"
            " VALUES (%s, %s, 'kiosk', '', '', 'active', %s, %s, 1, 0)",
            [(f"bd-{n}", f"BS-{n % STATIONS}", f"bd-{n}", shared_hash) for n in range(devices)],
        )


def percentile(values: list[float], fraction: float) -> float:
    """The value at this fraction of the sorted values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


async def phase(base_url: str, seconds: float, concurrency: int, make: Any) -> dict[str, float]:
    """Keep `concurrency` requests in flight for `seconds`; answers per second, latency."""
    latencies: list[float] = []
    failures = 0
    deadline = time.monotonic() + seconds
    headers = {"X-Yizhan-Broker-Secret": SECRET}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits) as client:

        async def worker() -> None:
            nonlocal failures
            while time.monotonic() < deadline:
                method, path, body = make()
                started = time.perf_counter()
                reply = await client.request(method, path, json=body)
                latencies.append(time.perf_counter() - started)
                if reply.status_code != 200:
                    failures += 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    return {
        "per_second": round(len(latencies) / elapsed),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "failures": failures,
    }


def main() -> None:
    """Run the phases and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yz-bench-hook-") as tmp:
        cluster = PostgresCluster(Path(tmp) / "pg", free_port())
        cluster.init()
        cluster.start()
        process: subprocess.Popen[bytes] | None = None
        try:
            cluster.create_database("bench_stations")
            port = free_port()
            env = {
                **os.environ,
                "YZ_ENV": "test",
                "YZ_LOG_LEVEL": "WARNING",
                "YZ_STATIONS_DATABASE_URL": cluster.url("bench_stations"),
                "YZ_STATIONS_HTTP_PORT": str(port),
                "YZ_STATIONS_GRPC_PORT": str(free_port()),
                "YZ_STATIONS_BROKER_HOOK_SECRET": SECRET,
                "YZ_STATIONS_DEVICE_KEY": KEY,
            }
            subprocess.run(["yz-stations", "migrate"], env=env, check=True, capture_output=True)
            seed(cluster.dsn("bench_stations"), args.devices)
            log = (Path(tmp) / "stations.log").open("wb")
            process = subprocess.Popen(["yz-stations", "serve"], env=env, stdout=log, stderr=log)
            base_url = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    if httpx.get(f"{base_url}/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            figures = run_phases(base_url, args)
        finally:
            if process is not None:
                process.terminate()
                process.wait(30)
            cluster.stop()
    figures.update(devices=args.devices, concurrency=args.concurrency, cpus=os.cpu_count())
    print(json.dumps(figures))


def run_phases(base_url: str, args: argparse.Namespace) -> dict[str, Any]:
    """The baseline and the two hook calls, one after the other."""

    def health() -> tuple[str, str, None]:
        return "GET", "/healthz", None

    def authorize() -> tuple[str, str, dict[str, str]]:
        n = random.randrange(args.devices)
        station = n % STATIONS if random.random() < 0.9 else (n + 1) % STATIONS
        return (
            "POST",
            "/internal/broker/authorize",
            {
                "username": f"bd-{n}",
                "clientid": f"bd-{n}",
                "topic": f"yz/v1/st/BS-{station}/dev/bd-{n}/telemetry",
                "action": "publish",
            },
        )

    def authenticate() -> tuple[str, str, dict[str, str]]:
        n = random.randrange(args.devices)
        return (
            "POST",
            "/internal/broker/authenticate",
            {
                "username": f"bd-{n}",
                "clientid": f"bd-{n}",
                "password": device_password(KEY, f"bd-{n}", 1),
            },
        )

    figures: dict[str, Any] = {}
    for label, make in (
        ("healthz", health),
        ("authorize", authorize),
        ("authenticate", authenticate),
    ):
        figures[label] = asyncio.run(phase(base_url, args.seconds, args.concurrency, make))
        print(label, figures[label], flush=True)
    return figures


if __name__ == "__main__":
    main()
