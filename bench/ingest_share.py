"""Horizontal ingest: 1, 2 and 3 ingest processes on one shared subscription
(`$share/bench-<phase>/yz/v1/st/+/dev/+/+`), and one of three killed mid-stream (SIGKILL,
no goodbye) and started again under its client id, as Kubernetes restarts a StatefulSet's pod.

    uv run python bench/ingest_share.py              # 3,000 msgs/s, 20 s phases
    uv run python bench/ingest_share.py --rate 5000 --seconds 10

Reuses bench/ingest.py's parts (real Mosquitto, PostgreSQL, `yz-telemetry ingest` processes,
simulated kiosks). For each phase it prints stored msgs/s, lost and duplicated messages (every
seq published is looked up; a duplicate would be a second set of metric rows) and the CPU of
each part; the kill phase also reports how many messages were stored after the restart. The
baseline in the same run is the one-process phase. The last line printed is one JSON object.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import READY_TIMEOUT_SECONDS, Bench, parse_args
from bench.kiosks import Fleet

SHARE_GROUP = "bench"


def start_replica(bench: Bench, replica: int, source: str) -> subprocess.Popen[bytes]:
    """One `yz-telemetry ingest` process under replica `replica`'s client id, once ready."""
    env = bench.telemetry_env(replica, source)
    log_file = (bench.workdir / f"telemetry-{bench.database}-{replica}.log").open("ab")
    process = subprocess.Popen(
        ["yz-telemetry", "ingest"], env=env, stdout=log_file, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{env['YZ_TELEMETRY_INGEST_HTTP_PORT']}/readyz"
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"ingest exited; see {log_file.name}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"ingest not ready; see {log_file.name}")
        time.sleep(0.2)


def run_group(bench: Bench, replicas: int, kill: bool) -> dict[str, Any]:
    """A fresh database, `replicas` processes on the share group, one phase at the rate."""
    args = bench.args
    source = args.sources.split(",")[0]
    name = f"{replicas}" + ("_kill" if kill else "")
    bench.use_database(f"bench_share_{name}")
    bench.args.replicas = replicas
    # A group of its own per phase: the earlier phases' processes left persistent sessions
    # in their group, and Mosquitto goes on giving those offline members their share.
    bench.args.set = [f"YZ_TELEMETRY_MQTT_SHARE_GROUP={SHARE_GROUP}-{name}"]
    bench.start_telemetry(source)
    fleet = Fleet(bench.broker.host, bench.broker.port, args.kiosks, args.devices)
    bench.phase(fleet, f"warmup_{name}", 1000.0, 2.0)
    killed: dict[str, Any] = {}
    if kill:

        def kill_and_restart() -> None:
            victim = bench.telemetry[-1]
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            killed["at_s"] = round(args.seconds / 2, 1)
            # Kubernetes restarts the container of the same pod: the same client id.
            time.sleep(args.restart_after)
            started = time.monotonic()
            bench.telemetry[-1] = start_replica(bench, replicas - 1, source)
            bench.procs.groups["ingest"] = [psutil.Process(p.pid) for p in bench.telemetry]
            killed["restart_ready_s"] = round(time.monotonic() - started, 1)

        timer = threading.Timer(args.seconds / 2, kill_and_restart)
        timer.start()
    result = bench.phase(fleet, f"{name}", float(args.rate), args.seconds)
    if kill:
        timer.join()
        result["killed"] = killed
    result["replicas"] = replicas
    fleet.close()
    bench.stop_telemetry()
    return result


def main() -> None:
    """The three group sizes and the kill; one JSON line at the end."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=3000, help="offered msgs/s")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--source", default="wire", help="ingest source (paho or wire)")
    parser.add_argument("--restart-after", type=float, default=2.0, help="seconds down")
    own, rest = parser.parse_known_args()
    args = parse_args(
        [
            "--sources",
            own.source,
            "--seconds",
            str(own.seconds),
            *rest,
        ]
    )
    args.rate, args.restart_after = own.rate, own.restart_after
    workdir = Path(tempfile.mkdtemp(prefix="yz-bench-share-"))
    bench = Bench(args, workdir)
    results: list[dict[str, Any]] = []
    try:
        for replicas, kill in ((1, False), (2, False), (3, False), (3, True)):
            results.append(run_group(bench, replicas, kill))
    finally:
        bench.close()
        subprocess.run(["rm", "-rf", str(workdir)], check=False)
    report = {
        "machine": {"cpus": os.cpu_count(), "load_average_end": os.getloadavg()[0]},
        "rate": own.rate,
        "seconds": own.seconds,
        "source": own.source,
        "phases": results,
        "lost": sum(r["lost"] for r in results),
        "duplicated": sum(r["duplicated"] for r in results),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
