"""Account checks benchmark: what asking stations about the operator's account on every
request (YZ_ACCOUNT_CACHE_SECONDS=0, the default: a disabled operator is refused on the next
request, CONTRACT §3) costs an operator request to telemetry, against the same request with
the account cached for 5 s (the old default), in the same run.

    uv run python bench/account_checks.py                 # 1,000 requests to each
    uv run python bench/account_checks.py --requests 200  # a quick look

Two telemetry processes on one database and one stations; the same operator token asks
GET /api/v1/dead-letters?limit=1 of each in turn (interleaved, so both share the machine's
noise). The last line printed is one JSON object with p50/p95 of each and the difference.
"""

import argparse
import json
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bookings import ADMIN_PASSWORD, postgres, say, service
from bench.loadgen import percentiles

WARM_UP = 50
PATH = "/api/v1/dead-letters?limit=1"


def main() -> None:
    """Run the benchmark and print its figures as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests to each telemetry")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yz-bench-") as folder, ExitStack() as stack:
        work = Path(folder)
        cluster = postgres(stack, work, ("ac_stations", "ac_telemetry"))
        stations = stack.enter_context(service("stations", cluster.url("ac_stations"), {}, work))
        telemetry = {}
        for label, seconds in (("every_request", "0"), ("cached_5s", "5")):
            env = {"YZ_STATIONS_GRPC": stations.grpc, "YZ_ACCOUNT_CACHE_SECONDS": seconds}
            (work / label).mkdir()
            started = service("telemetry", cluster.url("ac_telemetry"), env, work / label)
            telemetry[label] = stack.enter_context(started)
        token = httpx.post(
            f"{stations.http}/api/v1/auth/token",
            data={"username": "admin", "password": ADMIN_PASSWORD},
        ).json()["access_token"]
        clients = {
            label: stack.enter_context(
                httpx.Client(base_url=running.http, headers={"Authorization": f"Bearer {token}"})
            )
            for label, running in telemetry.items()
        }
        say(f"services up; {args.requests} requests to each telemetry")
        timings: dict[str, list[float]] = {label: [] for label in clients}
        for n in range(WARM_UP + args.requests):
            for label, client in clients.items():
                began = time.perf_counter()
                reply = client.get(PATH)
                elapsed = time.perf_counter() - began
                assert reply.status_code == 200, reply.text
                if n >= WARM_UP:
                    timings[label].append(elapsed)
        figures = {label: percentiles(values) for label, values in timings.items()}
        every, cached = figures["every_request"], figures["cached_5s"]
        print(
            json.dumps(
                {
                    "bench": "account_checks",
                    "requests": args.requests,
                    "every_request": every,
                    "cached_5s": cached,
                    "added_p50_ms": round(every["p50_ms"] - cached["p50_ms"], 2),
                    "added_p95_ms": round(every["p95_ms"] - cached["p95_ms"], 2),
                }
            )
        )


if __name__ == "__main__":
    main()
