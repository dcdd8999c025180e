"""Faults under load: what ingest loses, doubles and how fast it recovers.

    uv run python bench/faults.py            # the issue's scale: 5,000 msg/s, 100 s/60 s faults
    uv run python bench/faults.py --quick    # small and short (make test runs this one)

Starts PostgreSQL, Mosquitto, a stations stand-in (its own process, so it can hang) and the
ingest process (`yz-telemetry ingest`, restarted here whenever it exits, as a supervisor
would), puts a steady QoS 1 load on it from many device connections, and meanwhile: kills
the ingest with SIGKILL several times, hangs PostgreSQL (SIGSTOP), stops it, restarts the
broker and hangs stations. Afterwards every published message is looked up: lost (never
stored) and doubled (stored twice). Recovery of a fault is the time from its end until
everything published before that moment is stored. The last line is one JSON object.

The load pauses only across the broker restart (devices cannot publish while it is down;
they publish again once it is back); every other fault happens under the full load.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import METRICS_PER_MESSAGE, peak_rss_mb, postgres_processes
from bench.kiosks import Fleet
from yizhan.devstack.broker import MosquittoBroker
from yizhan.devstack.postgres import PostgresCluster
from yizhan.devstack.processes import free_port

READY_TIMEOUT_SECONDS = 60.0
RESTART_DELAY_SECONDS = 1.0


class Load:
    """The devices: a steady rate from a background thread, pausable."""

    def __init__(self, broker: MosquittoBroker, kiosks: int, rate: float) -> None:
        self.broker = broker
        self.kiosks = kiosks
        self.rate = rate
        self.fleet = Fleet(broker.host, broker.port, kiosks, 1)
        self.running = threading.Event()
        self.idle = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        """Start publishing."""
        self.running.set()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.running.is_set():
                self.idle.set()
                self.running.wait(0.2)
                continue
            self.idle.clear()
            self.fleet.run(self.rate, 0.5)

    def pause(self) -> None:
        """Stop publishing once what was sent is acknowledged by the broker."""
        self.running.clear()
        self.idle.wait(60)

    def reconnect(self) -> None:
        """New device connections (after a broker restart), numbering carried on."""
        old = self.fleet
        old.close()
        fleet = Fleet(self.broker.host, self.broker.port, self.kiosks, 1)
        fleet.seq, fleet.sent_at, fleet.acked = old.seq, old.sent_at, old.acked
        self.fleet = fleet

    def resume(self) -> None:
        """Publish again."""
        self.idle.clear()
        self.running.set()

    def stop(self) -> int:
        """Stop for good; the end of the seq range published."""
        self.pause()
        self._stop.set()
        self._thread.join(10)
        self.fleet.close()
        return self.fleet.seq


class Faults:
    """The parts, the supervised ingest process and the bookkeeping."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.cluster = PostgresCluster(workdir / "pg", free_port())
        self.cluster.start()
        self.cluster.create_database("faults")
        self.dsn = self.cluster.dsn("faults")
        self.broker = MosquittoBroker(workdir / "mqtt", free_port())
        self.broker.start(log_path=workdir / "mosquitto.log")
        self.directory_port = free_port()
        self.directory = subprocess.Popen(
            [sys.executable, str(Path(__file__).parent / "directory.py"), str(self.directory_port)],
            stdout=subprocess.PIPE,
        )
        assert self.directory.stdout is not None
        self.directory.stdout.readline()
        self.http_port = free_port()
        self.env = self._env()
        subprocess.run(["yz-telemetry", "migrate"], env=self.env, check=True, capture_output=True)
        self.ingest: subprocess.Popen[bytes] | None = None
        self.ingest_starts = 0
        self.peak_rss_mb = 0.0
        self._supervising = threading.Event()
        self._lock = threading.Lock()
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "YZ_ENV": "test",
                "YZ_LOG_LEVEL": "WARNING",
                "YZ_TELEMETRY_DATABASE_URL": self.cluster.url("faults"),
                "YZ_TELEMETRY_TIMESCALEDB": "off",
                "YZ_TELEMETRY_INGEST_HTTP_PORT": str(self.http_port),
                "YZ_TELEMETRY_MQTT_CLIENT_ID": "yz-telemetry-faults",
                "YZ_TELEMETRY_MQTT_SOURCE": self.args.source,
                "YZ_MQTT_HOST": self.broker.host,
                "YZ_MQTT_PORT": str(self.broker.port),
                "YZ_STATIONS_GRPC": f"127.0.0.1:{self.directory_port}",
                "YZ_BOOKINGS_GRPC": f"127.0.0.1:{self.directory_port}",
            }
        )
        return env

    def start_ingest(self) -> None:
        """Start the ingest process, wait until ready, and keep it running from now on."""
        self._spawn()
        self._wait_ready()
        self._supervising.set()
        self._supervisor.start()

    def _spawn(self) -> None:
        log_file = (self.workdir / "ingest.log").open("ab")
        with self._lock:
            self.ingest = subprocess.Popen(
                ["yz-telemetry", "ingest"], env=self.env, stdout=log_file, stderr=subprocess.STDOUT
            )
            self.ingest_starts += 1

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            try:
                url = f"http://127.0.0.1:{self.http_port}/readyz"
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"ingest not ready; see {self.workdir}/ingest.log")

    def _supervise(self) -> None:
        """Start the ingest again whenever it exits (as make run or systemd would)."""
        while self._supervising.is_set():
            with self._lock:
                process = self.ingest
            if process is not None and process.poll() is not None:
                time.sleep(RESTART_DELAY_SECONDS)
                if self._supervising.is_set():
                    self._spawn()
            time.sleep(0.05)

    def sample(self) -> None:
        """Note the running ingest's peak memory (before it goes)."""
        with self._lock:
            process = self.ingest
        if process is None or process.poll() is not None:
            return
        try:
            self.peak_rss_mb = max(self.peak_rss_mb, peak_rss_mb(process.pid))
        except OSError:
            return

    def reconnects(self) -> int:
        """Connections the ingest lost and made again, over all its processes (its log)."""
        text = (self.workdir / "ingest.log").read_text(errors="replace")
        return text.count('"MQTT connection lost"')

    def kill_ingest(self) -> None:
        """SIGKILL: no goodbye, nothing flushed."""
        self.sample()
        with self._lock:
            assert self.ingest is not None
            self.ingest.kill()

    def stop_ingest(self) -> None:
        """End of the run: stop supervising, SIGTERM."""
        self.sample()
        self._supervising.clear()
        self._supervisor.join(5)
        with self._lock:
            if self.ingest is not None and self.ingest.poll() is None:
                self.ingest.terminate()
                self.ingest.wait(30)

    def stored(self, lo: int, hi: int) -> int:
        """Distinct messages of seqs [lo, hi) stored; -1 when PostgreSQL does not answer."""
        try:
            with psycopg.connect(self.dsn, connect_timeout=2) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM message_keys WHERE seq >= %s AND seq < %s", (lo, hi)
                ).fetchone()
        except psycopg.OperationalError:
            return -1
        return int(row[0]) if row else 0

    def recovery(self, load: Load, fault_ended: float, timeout: float) -> float | None:
        """Seconds from the end of a fault until everything published before it is stored."""
        end = load.fleet.seq
        deadline = fault_ended + timeout
        while time.time() < deadline:
            self.sample()
            if self.stored(0, end) >= end:
                return round(time.time() - fault_ended, 1)
            time.sleep(0.2)
        return None

    def close(self) -> None:
        """Stop everything started."""
        self.stop_ingest()
        self.directory.kill()
        self.directory.wait()
        self.broker.stop()
        self.cluster.stop()


def signal_all(processes: list[psutil.Process], sig: signal.Signals) -> None:
    """Send a signal to each process (SIGSTOP/SIGCONT a whole PostgreSQL)."""
    for process in processes:
        try:
            process.send_signal(sig)
        except psutil.NoSuchProcess:
            continue


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every fault in turn under load; returns the figures."""
    workdir = Path(tempfile.mkdtemp(prefix="yz-faults-"))
    faults = Faults(args, workdir)
    result: dict[str, Any] = {
        "bench": "faults",
        "source": args.source,
        "load_1m_at_start": round(os.getloadavg()[0], 2),
        "rate_msgs_per_s": args.rate,
        "device_connections": args.kiosks,
        "faults": [],
    }
    load = Load(faults.broker, args.kiosks, args.rate)
    try:
        faults.start_ingest()
        load.start()
        time.sleep(args.settle)

        def fault(name: str, act: Callable[[], None]) -> None:
            started = time.time()
            act()
            ended = time.time()
            recovery = faults.recovery(load, ended, args.recovery_timeout)
            entry = {
                "fault": name,
                "seconds": round(ended - started, 1),
                "recovery_s": recovery,
                "load_1m": round(os.getloadavg()[0], 2),
            }
            result["faults"].append(entry)
            print("  " + "  ".join(f"{k}={v}" for k, v in entry.items()), flush=True)

        def kill_ingest() -> None:
            faults.kill_ingest()
            time.sleep(args.between)

        for _ in range(args.kills):
            fault("kill -9 ingest", kill_ingest)

        def hang_postgres() -> None:
            backends = postgres_processes(faults.cluster)
            signal_all(backends, signal.SIGSTOP)
            time.sleep(args.pg_hang)
            signal_all(backends, signal.SIGCONT)

        fault("SIGSTOP PostgreSQL", hang_postgres)

        def stop_postgres() -> None:
            faults.cluster.stop()
            time.sleep(args.pg_stop)
            faults.cluster.start()

        fault("stop PostgreSQL", stop_postgres)

        def restart_broker() -> None:
            load.pause()
            faults.broker.stop()
            faults.broker.start(log_path=workdir / "mosquitto.log")
            load.reconnect()
            load.resume()

        fault("restart broker", restart_broker)

        def hang_stations() -> None:
            faults.directory.send_signal(signal.SIGSTOP)
            time.sleep(args.stations_hang)
            faults.directory.send_signal(signal.SIGCONT)

        fault("hang stations", hang_stations)
        end = load.stop()
        faults.recovery(load, time.time(), args.recovery_timeout)
        with psycopg.connect(faults.dsn) as conn:
            keys = conn.execute("SELECT count(DISTINCT seq) FROM message_keys").fetchone()
            rows = conn.execute("SELECT count(*) FROM metrics").fetchone()
        stored = int(keys[0]) if keys else 0
        metric_rows = int(rows[0]) if rows else 0
        result.update(
            {
                "published": end,
                "stored": stored,
                "lost": end - stored,
                "doubled": metric_rows // METRICS_PER_MESSAGE - stored,
                "ingest_starts": faults.ingest_starts,
                "ingest_reconnects": faults.reconnects(),
                "ingest_peak_rss_mb": round(faults.peak_rss_mb),
                "load_1m_at_end": round(os.getloadavg()[0], 2),
            }
        )
    finally:
        faults.close()
        if not args.keep:
            subprocess.run(["rm", "-rf", str(workdir)], check=False)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line (defaults: the issue's scale)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--source", choices=("wire", "paho"), default="wire")
    parser.add_argument("--rate", type=float, default=5000.0, help="steady load, msgs/s")
    parser.add_argument("--kiosks", type=int, default=200, help="device connections")
    parser.add_argument("--kills", type=int, default=5, help="kill -9 of the ingest")
    parser.add_argument("--between", type=float, default=5.0, help="seconds after each kill")
    parser.add_argument("--pg-hang", type=float, default=100.0, help="SIGSTOP seconds")
    parser.add_argument("--pg-stop", type=float, default=60.0, help="PostgreSQL down seconds")
    parser.add_argument("--stations-hang", type=float, default=60.0, help="stations hung")
    parser.add_argument("--settle", type=float, default=5.0, help="load before the faults")
    parser.add_argument("--recovery-timeout", type=float, default=300.0)
    parser.add_argument("--quick", action="store_true", help="small and short (make test)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)
    if args.quick:
        args.rate, args.kiosks, args.kills, args.between = 300.0, 20, 2, 1.0
        args.pg_hang = args.pg_stop = args.stations_hang = 3.0
        args.settle, args.recovery_timeout = 2.0, 90.0
    return args


def main() -> None:
    """Run, end with one JSON line."""
    print(json.dumps(run(parse_args()), separators=(",", ":")))


if __name__ == "__main__":
    main()
