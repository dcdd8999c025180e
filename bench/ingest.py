"""Ingest benchmark: many simulated kiosks publish telemetry (QoS 1, 3 metrics a message)
through a real Mosquitto into the real telemetry service and PostgreSQL, all started here.

    uv run python bench/ingest.py                 # both sources, replay, naive, ceiling
    uv run python bench/ingest.py --quick         # shorter phases
    uv run python bench/ingest.py --sources wire --rates 1000,5000,10000
    uv run python bench/ingest.py --replicas 2    # two ingest processes sharing the subscription

For each ingest source (`paho`, `wire`: YZ_TELEMETRY_MQTT_SOURCE), in a database of its own:
the fixed rates asked for, flat out, and then half the flat-out rate; each phase prints stored
msgs/s, publish-to-queryable latency (PostgreSQL's commit timestamp of the message's row minus
the moment the kiosk wrote it to its socket), lost and duplicated messages and the CPU each
process used. Then the replay scenario (a city back online: many kiosks publish a backlog
while others publish live; drain rate and the live messages' latency), then the same load
through a naive consumer (paho, one INSERT per message) and through mosquitto_sub alone (the
broker's ceiling). Every phase notes the machine's load average (the machine is shared), so
compare the ratios within one run. The last line printed is one JSON object.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import directory
from bench.kiosks import Fleet
from yizhan.devstack.broker import MosquittoBroker
from yizhan.devstack.postgres import PostgresCluster
from yizhan.devstack.processes import free_port

METRICS_PER_MESSAGE = 3
# A phase is over when everything published is stored, or nothing new came for this long.
SETTLE_SECONDS = 20.0
READY_TIMEOUT_SECONDS = 60.0


@dataclass
class Processes:
    """What the benchmark watches: name -> processes (CPU and memory are summed by name)."""

    groups: dict[str, list[psutil.Process]] = field(default_factory=dict)

    def cpu(self, part: str = "both") -> dict[str, float]:
        """CPU seconds used so far per group: user + system, or only `user` or `system`."""
        totals: dict[str, float] = {}
        for name, procs in self.groups.items():
            total = 0.0
            for proc in procs:
                try:
                    times = proc.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                if part in ("both", "user"):
                    total += times.user
                if part in ("both", "system"):
                    total += times.system
            totals[name] = total
        return totals


def postgres_processes(cluster: PostgresCluster) -> list[psutil.Process]:
    """The postmaster and its backends."""
    pid = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
    master = psutil.Process(pid)
    return [master, *master.children(recursive=True)]


def refresh_postgres(procs: Processes, cluster: PostgresCluster) -> None:
    """Backends come and go: look again."""
    procs.groups["postgres"] = postgres_processes(cluster)


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The value below which `fraction` of the values fall (nearest rank)."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


class Bench:
    """The parts started for one run, and the measurements."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.procs = Processes()
        self.telemetry: list[subprocess.Popen[bytes]] = []
        os.environ["YZ_PG_TIMESCALEDB"] = "off" if args.timescaledb == "off" else "auto"
        self.cluster = PostgresCluster(workdir / "pg", free_port())
        self.cluster.init()
        with (self.cluster.data_dir / "postgresql.conf").open("a") as conf:
            # Commit time of every row: publish-to-queryable without polling.
            conf.write("track_commit_timestamp = on\n")
        self.cluster.start()
        self.cluster.create_database("bench_naive")
        self.broker = MosquittoBroker(workdir / "mqtt", free_port())
        self.broker.start(log_path=workdir / "mosquitto.log")
        assert self.broker.process is not None
        self.procs.groups["mosquitto"] = [psutil.Process(self.broker.process.pid)]
        self.procs.groups["bench"] = [psutil.Process()]
        self.directory_port = free_port()
        self.directory, self.seeded = directory.start(self.directory_port)
        self.database = ""
        self.dsn = ""

    def use_database(self, name: str) -> None:
        """A fresh database for the next ingest runs (a source, or the replay)."""
        self.cluster.create_database(name)
        self.database = name
        self.dsn = self.cluster.dsn(name)

    def close(self) -> None:
        """Stop everything started."""
        self.stop_telemetry()
        self.directory.stop(grace=None)
        self.broker.stop()
        self.cluster.stop()

    def telemetry_env(self, replica: int, source: str) -> dict[str, str]:
        """Environment of one telemetry process."""
        env = dict(os.environ)
        env.update(
            {
                "YZ_ENV": "test",
                "YZ_LOG_LEVEL": "WARNING",
                "YZ_TELEMETRY_DATABASE_URL": self.cluster.url(self.database),
                "YZ_TELEMETRY_MQTT_SOURCE": source,
                "YZ_TELEMETRY_TIMESCALEDB": self.args.timescaledb,
                "YZ_TELEMETRY_INGEST_HTTP_PORT": str(free_port()),
                "YZ_TELEMETRY_MQTT_CLIENT_ID": f"yz-telemetry-bench-{self.database}-{replica}",
                "YZ_MQTT_HOST": self.broker.host,
                "YZ_MQTT_PORT": str(self.broker.port),
                "YZ_STATIONS_GRPC": f"127.0.0.1:{self.directory_port}",
                "YZ_BOOKINGS_GRPC": f"127.0.0.1:{self.directory_port}",
            }
        )
        if self.args.replicas > 1:
            env["YZ_TELEMETRY_MQTT_SHARE_GROUP"] = "bench"
        for setting in self.args.set or []:
            name, _, value = setting.partition("=")
            env[name] = value
        return env

    def start_telemetry(self, source: str) -> None:
        """Migrate, then start the ingest replicas and wait until they are ready."""
        env = self.telemetry_env(0, source)
        subprocess.run(["yz-telemetry", "migrate"], env=env, check=True, capture_output=True)
        for replica in range(self.args.replicas):
            env = self.telemetry_env(replica, source)
            log_file = (self.workdir / f"telemetry-{self.database}-{replica}.log").open("wb")
            process = subprocess.Popen(
                ["yz-telemetry", "ingest"], env=env, stdout=log_file, stderr=subprocess.STDOUT
            )
            self.telemetry.append(process)
            url = f"http://127.0.0.1:{env['YZ_TELEMETRY_INGEST_HTTP_PORT']}/readyz"
            deadline = time.monotonic() + READY_TIMEOUT_SECONDS
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"telemetry exited; see {log_file.name}")
                try:
                    if httpx.get(url, timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"telemetry not ready; see {log_file.name}")
                time.sleep(0.2)
        self.procs.groups["ingest"] = [psutil.Process(p.pid) for p in self.telemetry]

    def stop_telemetry(self) -> None:
        """SIGTERM the ingest replicas and wait for them."""
        for process in self.telemetry:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.telemetry:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.telemetry = []

    def storage(self) -> str:
        """What the migration chose."""
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
            ).fetchone()
        return "timescaledb" if row and row[0] else "postgresql"

    def stored_count(self, lo: int, hi: int) -> int:
        """Messages of the seq range [lo, hi) that are stored."""
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute(
                "SELECT count(*) FROM message_keys WHERE seq >= %s AND seq < %s", (lo, hi)
            ).fetchone()
        return int(row[0]) if row else 0

    def wait_stored(self, lo: int, hi: int) -> int:
        """Wait until [lo, hi) is stored or stops growing; how many are stored."""
        last, last_change = -1, time.monotonic()
        while True:
            count = self.stored_count(lo, hi)
            if count >= hi - lo:
                return count
            if count != last:
                last, last_change = count, time.monotonic()
            elif time.monotonic() - last_change > SETTLE_SECONDS:
                return count
            time.sleep(0.1)

    def phase(
        self,
        fleet: Fleet,
        name: str,
        rate: float | None,
        seconds: float,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """Publish one phase, wait for it to be stored, and measure it."""
        refresh_postgres(self.procs, self.cluster)
        cpu_before = self.procs.cpu()
        system_before = self.procs.cpu("system")
        wall = time.monotonic()
        lo, hi = fleet.run(rate, seconds, limit)
        published_seconds = fleet.sent_at[hi - 1] - fleet.sent_at[lo]
        stored = self.wait_stored(lo, hi)
        cpu_after = self.procs.cpu()
        system_after = self.procs.cpu("system")
        wall = time.monotonic() - wall
        with psycopg.connect(self.dsn) as conn:
            commits = conn.execute(
                "SELECT seq, extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8"
                " FROM message_keys WHERE seq >= %s AND seq < %s",
                (lo, hi),
            ).fetchall()
            start_ms = int(fleet.sent_at[lo] * 1000) - 1
            end_ms = int(fleet.sent_at[hi - 1] * 1000) + 1
            row = conn.execute(
                "SELECT count(*) FROM metrics WHERE time >= to_timestamp(%s / 1000.0)"
                " AND time <= to_timestamp(%s / 1000.0) AND device_id LIKE 'bd-%%'",
                (start_ms, end_ms),
            ).fetchone()
        metric_rows = int(row[0]) if row else 0
        latencies = sorted(commit - fleet.sent_at[seq] for seq, commit in commits)
        last_commit = max((commit for _, commit in commits), default=fleet.sent_at[lo])
        span = max(last_commit - fleet.sent_at[lo], 1e-9)
        result = {
            "phase": name,
            "load_1m": round(os.getloadavg()[0], 2),
            "offered_msgs_per_s": rate,
            "published": hi - lo,
            "publish_msgs_per_s": round((hi - lo) / max(published_seconds, 1e-3)),
            "stored": stored,
            "stored_msgs_per_s": round(stored / span),
            "lost": (hi - lo) - stored,
            "duplicated": metric_rows // METRICS_PER_MESSAGE - stored,
            "latency_p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
            "latency_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
            "latency_max_ms": round((latencies[-1] if latencies else float("nan")) * 1000, 1),
            "cpu_percent": {
                key: round(100 * (cpu_after[key] - cpu_before.get(key, 0.0)) / wall)
                for key in cpu_after
            },
            # CPU time per stored message: what a message costs each process, whatever else
            # runs on the machine (the percentages above depend on that, these much less).
            "cpu_us_per_msg": {
                key: round(1e6 * (cpu_after[key] - cpu_before.get(key, 0.0)) / max(stored, 1), 1)
                for key in cpu_after
            },
            # The part of that spent in the kernel (sockets, waking threads).
            "system_share": {
                key: round(
                    (system_after[key] - system_before.get(key, 0.0))
                    / max(cpu_after[key] - cpu_before.get(key, 0.0), 1e-9),
                    2,
                )
                for key in cpu_after
            },
        }
        print(_describe(result), flush=True)
        return result

    def seqs_stored(self, seqs: list[int]) -> int:
        """How many of these seqs are stored."""
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute(
                "SELECT count(*) FROM message_keys WHERE seq = ANY(%s)", (seqs,)
            ).fetchone()
        return int(row[0]) if row else 0

    def replay(self, source: str) -> dict[str, Any]:
        """A city back online: `--replay-kiosks` kiosks publish a backlog of day-old
        messages at once while `--live-kiosks` others publish live at one a second each."""
        args = self.args
        self.use_database("bench_replay")
        self.start_telemetry(source)
        fleet = Fleet(self.broker.host, self.broker.port, args.live_kiosks + args.replay_kiosks, 1)
        self.phase(fleet, "replay_warmup", 2000.0, 2.0)
        first = fleet.seq
        backlog_total = args.replay_backlog

        def drained() -> bool:
            # All but the last two seconds of live messages stored: the backlog is through.
            behind = fleet.seq - first - self.stored_count(first, fleet.seq)
            return bool(behind <= 2 * int(args.live_kiosks))

        started = time.time()
        backlog, live = fleet.replay(
            backlog_total, args.live_kiosks, float(args.live_kiosks), -86_400.0, drained
        )
        end = fleet.seq
        self.wait_stored(first, end)
        with psycopg.connect(self.dsn) as conn:
            commits: dict[int, float] = dict(
                conn.execute(
                    "SELECT seq, extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8"
                    " FROM message_keys WHERE seq >= %s AND seq < %s",
                    (first, end),
                ).fetchall()
            )
        live_latencies = sorted(commits[seq] - fleet.sent_at[seq] for seq in live if seq in commits)
        backlog_commits = [commits[seq] for seq in backlog if seq in commits]
        drain_seconds = max(max(backlog_commits, default=started) - started, 1e-9)
        result = {
            "phase": "replay",
            "source": source,
            "load_1m": round(os.getloadavg()[0], 2),
            "replay_kiosks": args.replay_kiosks,
            "live_kiosks": args.live_kiosks,
            "backlog": len(backlog),
            "backlog_stored": len(backlog_commits),
            "drain_msgs_per_s": round(len(backlog_commits) / drain_seconds),
            "drain_seconds": round(drain_seconds, 1),
            "live": len(live),
            "live_stored": len(live_latencies),
            "live_p50_ms": round(percentile(live_latencies, 0.50) * 1000, 1),
            "live_p99_ms": round(percentile(live_latencies, 0.99) * 1000, 1),
            "live_max_ms": round((live_latencies[-1] if live_latencies else float("nan")) * 1000),
        }
        fleet.close()
        self.stop_telemetry()
        print(_describe(result), flush=True)
        return result

    def naive(self, seconds: float, limit: int) -> dict[str, Any]:
        """The same kind of load through paho with one INSERT per message."""
        naive_dsn = self.cluster.dsn("bench_naive")
        consumer = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).parent / "naive_consumer.py"),
                self.broker.host,
                str(self.broker.port),
                "yzn/v1/st/+/dev/+/+",
                naive_dsn,
            ],
            stdout=subprocess.PIPE,
        )
        assert consumer.stdout is not None
        consumer.stdout.readline()
        time.sleep(1.0)
        fleet = Fleet(
            self.broker.host, self.broker.port, self.args.kiosks, self.args.devices, root="yzn"
        )
        proc = psutil.Process(consumer.pid)
        cpu_before = sum(proc.cpu_times()[:2])
        started = time.time()
        lo, hi = fleet.run(None, seconds, limit)
        # It falls far behind: give it a fixed time, then count what it managed.
        time.sleep(min(seconds, 10.0))
        elapsed = time.time() - started
        cpu = sum(proc.cpu_times()[:2]) - cpu_before
        with psycopg.connect(naive_dsn) as conn:
            row = conn.execute("SELECT count(*) FROM naive_readings").fetchone()
        stored = int(row[0]) if row else 0
        consumer.send_signal(signal.SIGTERM)
        consumer.wait(30)
        fleet.close()
        result = {
            "phase": "naive",
            "load_1m": round(os.getloadavg()[0], 2),
            "published": hi - lo,
            "stored": stored,
            "stored_msgs_per_s": round(stored / elapsed),
            "consumer_cpu_percent": round(100 * cpu / elapsed),
        }
        print(_describe(result), flush=True)
        return result

    def ceiling(self, limit: int) -> dict[str, Any]:
        """mosquitto_sub as the only consumer (QoS 1): what the broker alone can pass on."""
        out_path = self.workdir / "ceiling.out"
        with out_path.open("wb") as out:
            sub = subprocess.Popen(
                [
                    "mosquitto_sub",
                    "-h",
                    self.broker.host,
                    "-p",
                    str(self.broker.port),
                    "-q",
                    "1",
                    "-i",
                    "bench-ceiling",
                    "-t",
                    "yzc/#",
                ],
                stdout=out,
            )
            time.sleep(1.0)
            fleet = Fleet(
                self.broker.host, self.broker.port, self.args.kiosks, self.args.devices, "yzc"
            )
            lo, hi = fleet.run(None, 600.0, limit)
            started = fleet.sent_at[lo]
            count, finished = _count_lines_until(out_path, hi - lo, SETTLE_SECONDS)
            sub.terminate()
            sub.wait(10)
            fleet.close()
        result = {
            "phase": "broker_ceiling",
            "load_1m": round(os.getloadavg()[0], 2),
            "published": hi - lo,
            "received": count,
            "msgs_per_s": round(count / max(finished - started, 1e-9)),
            "publish_msgs_per_s": round((hi - lo) / max(fleet.sent_at[hi - 1] - started, 1e-9)),
        }
        print(_describe(result), flush=True)
        return result


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    """The figures the ingest issue asks for: per source, and as ratios within this run."""
    ceiling = report.get("broker_ceiling", {}).get("msgs_per_s")
    naive = report.get("naive", {}).get("stored_msgs_per_s")
    summary: dict[str, Any] = {
        "naive_stored_msgs_per_s": naive,
        "broker_ceiling_msgs_per_s": ceiling,
        "replay": {
            key: report.get("replay", {}).get(key)
            for key in ("source", "backlog", "drain_msgs_per_s", "live_p99_ms", "load_1m")
        },
    }
    for source, run in report.get("sources", {}).items():
        phases = {phase["phase"]: phase for phase in run["phases"]}
        flat = phases.get("flat_out", {}).get("stored_msgs_per_s")
        half = phases.get("half_flat_out", {})
        summary[source] = {
            "flat_out_msgs_per_s": flat,
            "flat_out_load_1m": phases.get("flat_out", {}).get("load_1m"),
            "half_rate_msgs_per_s": half.get("offered_msgs_per_s"),
            "p99_ms_at_half": half.get("latency_p99_ms"),
            "of_ceiling": round(flat / ceiling, 2) if flat and ceiling else None,
            "x_naive": round(flat / naive, 1) if flat and naive else None,
            "lost": sum(phase["lost"] for phase in run["phases"]),
            "duplicated": sum(phase["duplicated"] for phase in run["phases"]),
            "cpu_us_per_msg_flat": phases.get("flat_out", {})
            .get("cpu_us_per_msg", {})
            .get("ingest"),
            "peak_rss_mb": run.get("ingest_peak_rss_mb"),
        }
    return summary


def _count_lines_until(path: Path, expected: int, settle: float) -> tuple[int, float]:
    count, last_change = 0, time.time()
    with path.open("rb") as file:
        while count < expected:
            chunk = file.read(1 << 20)
            if chunk:
                count += chunk.count(b"\n")
                last_change = time.time()
            elif time.time() - last_change > settle:
                break
            else:
                time.sleep(0.01)
    return count, last_change


def _describe(result: dict[str, Any]) -> str:
    return "  " + "  ".join(f"{key}={value}" for key, value in result.items())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--sources", default="wire,paho", help="ingest sources to compare")
    parser.add_argument("--rates", default="", help="fixed rates before flat out, msgs/s")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument(
        "--flat-messages",
        type=int,
        default=300_000,
        help="flat out: this many messages as fast as the broker takes them (they queue at the"
        " broker, which holds at most 1,000,000 for a session)",
    )
    parser.add_argument("--kiosks", type=int, default=200, help="MQTT connections")
    parser.add_argument("--devices", type=int, default=5, help="devices per kiosk")
    parser.add_argument("--replicas", type=int, default=1, help="ingest processes ($share)")
    parser.add_argument(
        "--replay-backlog",
        type=int,
        default=200_000,
        help="replay: old messages published at once (0: no replay; the issue's full scale"
        " is 1,000,000)",
    )
    parser.add_argument("--replay-kiosks", type=int, default=500, help="replay: backlog kiosks")
    parser.add_argument("--live-kiosks", type=int, default=200, help="replay: live kiosks, 1/s")
    parser.add_argument("--replay-source", default="", help="replay: source (first of --sources)")
    parser.add_argument("--timescaledb", choices=("auto", "on", "off"), default="auto")
    parser.add_argument("--quick", action="store_true", help="5 s phases, fewer comparisons")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive consumer")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the broker ceiling")
    parser.add_argument(
        "--profile", metavar="FILE", help="py-spy profile of ingest, flat out (.svg or .txt)"
    )
    parser.add_argument(
        "--set", action="append", metavar="NAME=VALUE", help="extra telemetry environment"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds = min(args.seconds, 5.0)
        args.flat_messages = min(args.flat_messages, 100_000)
        args.replay_backlog = min(args.replay_backlog, 50_000)
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    """One benchmark run; returns every figure."""
    workdir = Path(tempfile.mkdtemp(prefix="yz-bench-"))
    bench = Bench(args, workdir)
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()[0]},
        "config": {
            "rates": args.rates,
            "seconds": args.seconds,
            "flat_messages": args.flat_messages,
            "kiosks": args.kiosks,
            "devices_per_kiosk": args.devices,
            "metrics_per_message": METRICS_PER_MESSAGE,
            "qos": 1,
        },
        "phases": [],
    }
    report["sources"] = {}
    try:
        for source in [name for name in args.sources.split(",") if name]:
            report["sources"][source] = run_source(bench, source)
        if args.replay_backlog:
            report["replay"] = bench.replay(args.replay_source or args.sources.split(",")[0])
        if not args.no_naive:
            report["naive"] = bench.naive(5.0 if args.quick else 10.0, args.flat_messages)
        if not args.no_ceiling:
            report["broker_ceiling"] = bench.ceiling(args.flat_messages)
        report["summary"] = _summary(report)
    finally:
        bench.close()
        if not args.keep:
            subprocess.run(["rm", "-rf", str(workdir)], check=False)
    return report


def run_source(bench: Bench, source: str) -> dict[str, Any]:
    """The fixed rates, flat out and half of flat out through one ingest source."""
    args = bench.args
    bench.use_database(f"bench_{source}")
    bench.start_telemetry(source)
    run: dict[str, Any] = {"storage": bench.storage(), "replicas": args.replicas, "phases": []}
    fleet = Fleet(bench.broker.host, bench.broker.port, args.kiosks, args.devices)
    run["devices"] = fleet.device_count()
    print(f"source={source} storage={run['storage']} devices={run['devices']}", flush=True)
    # Warm up: every device resolved once, connections and caches settled.
    bench.phase(fleet, "warmup", 2000.0, 2.0)
    for rate in (float(r) for r in args.rates.split(",") if r):
        run["phases"].append(bench.phase(fleet, f"{int(rate)}/s", rate, args.seconds))
    profiler = _start_profiler(args.profile, bench.telemetry)
    flat = bench.phase(fleet, "flat_out", None, 600.0, limit=args.flat_messages)
    run["phases"].append(flat)
    if profiler is not None:
        profiler()
    half = max(float(flat["stored_msgs_per_s"]) / 2, 100.0)
    run["phases"].append(bench.phase(fleet, "half_flat_out", half, args.seconds))
    run["ingest_peak_rss_mb"] = [round(peak_rss_mb(p.pid)) for p in bench.telemetry]
    run["device_lookups"] = bench.seeded.resolved
    fleet.close()
    bench.stop_telemetry()
    return run


def _start_profiler(
    svg: str | None, processes: list[subprocess.Popen[bytes]]
) -> Callable[[], None] | None:
    if not svg or not processes:
        return None
    # A .txt name asks for collapsed stacks (one line per stack, for reading or grepping).
    fmt = "raw" if svg.endswith(".txt") else "flamegraph"
    spy = subprocess.Popen(
        # Only samples holding the GIL: where the process's one core of Python goes.
        [
            *("py-spy", "record", "--gil", "--threads", "--rate", "250", "--format", fmt),
            *("--pid", str(processes[0].pid), "-o", svg),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def stop() -> None:
        spy.send_signal(signal.SIGINT)
        spy.wait(60)

    return stop


def main() -> None:
    """Run, print the summary, end with one JSON line."""
    report = run(parse_args())
    print(json.dumps(report, separators=(",", ":")))


if __name__ == "__main__":
    main()
