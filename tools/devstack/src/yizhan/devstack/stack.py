"""`make run`: PostgreSQL, Mosquitto, migrations, the services (stations, telemetry, bookings
and the console), demo data and the kiosk simulator, in the foreground; Ctrl-C stops
everything it started."""

import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from yizhan.devstack import demo
from yizhan.devstack.locked_broker import (
    KIOSK_CREDENTIALS_FILE,
    LockedBroker,
    load_kiosk_credentials,
    save_kiosk_credentials,
)
from yizhan.devstack.postgres import PostgresCluster
from yizhan.devstack.processes import RestartPolicy

log = logging.getLogger(__name__)

# The services with a database and a gRPC port; the console (no data, HTTP only) is extra.
SERVICES = ("stations", "telemetry", "bookings")
CONSOLE = "console"
# Telemetry's second process: the MQTT ingest, `yz-telemetry ingest`.
INGEST = "telemetry-ingest"
READY_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 20
ADMIN_USERNAME = "admin"


@dataclass(frozen=True)
class StackConfig:
    """Where everything lives and listens; every value can be overridden by environment."""

    data_dir: Path
    pg_port: int
    mqtt_port: int
    mqtt_tls_port: int
    http_ports: dict[str, int]
    grpc_ports: dict[str, int]
    # Health and metrics of telemetry's ingest process (`yz-telemetry ingest`).
    ingest_http_port: int
    demo: bool
    simulator: bool
    backfill_days: int
    # Weeks of bookings, check-ins, opinions and livestream outcomes before today.
    history_weeks: int

    @classmethod
    def from_env(cls, root: Path) -> "StackConfig":
        """Defaults of CONTRACT §1, overridden by YZ_* variables."""
        env = os.environ
        return cls(
            data_dir=Path(env.get("YZ_DATA_DIR", root / ".data")).resolve(),
            pg_port=int(env.get("YZ_PG_PORT", "54329")),
            mqtt_port=int(env.get("YZ_MQTT_PORT", "1883")),
            mqtt_tls_port=int(env.get("YZ_MQTT_TLS_PORT", "8883")),
            http_ports={
                name: int(env.get(f"YZ_{name.upper()}_HTTP_PORT", str(8101 + i)))
                for i, name in enumerate((*SERVICES, CONSOLE))
            },
            grpc_ports={
                name: int(env.get(f"YZ_{name.upper()}_GRPC_PORT", str(50101 + i)))
                for i, name in enumerate(SERVICES)
            },
            ingest_http_port=int(env.get("YZ_TELEMETRY_INGEST_HTTP_PORT", "8105")),
            demo=env.get("YZ_DEMO", "on").lower() != "off",
            simulator=env.get("YZ_SIMULATOR", "on").lower() != "off",
            backfill_days=int(env.get("YZ_DEMO_BACKFILL_DAYS", "28")),
            history_weeks=int(env.get("YZ_DEMO_HISTORY_WEEKS", "6")),
        )

    def url(self, service: str) -> str:
        """Base URL of a service's HTTP API."""
        return f"http://127.0.0.1:{self.http_ports[service]}"

    def health_urls(self) -> dict[str, str]:
        """Every long-running process of the services, by name, and where it answers /readyz."""
        urls = {name: self.url(name) for name in SERVICES}
        urls[INGEST] = f"http://127.0.0.1:{self.ingest_http_port}"
        urls[CONSOLE] = self.url(CONSOLE)
        return urls


class Stack:
    """The processes of one `make run`, started in order and stopped in reverse."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.postgres = PostgresCluster(config.data_dir / "postgres", config.pg_port)
        # Locked as in production: accounts kept by stations, TLS for devices.
        self.locked = LockedBroker.prepare(config.data_dir, config.mqtt_port, config.mqtt_tls_port)
        self.broker = self.locked.broker
        self.logs = config.data_dir / "logs"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        # How each process was started (to start it again) and when.
        self._commands: dict[str, tuple[list[str], dict[str, str]]] = {}
        self._started_at: dict[str, float] = {}
        self._restart_at: dict[str, float] = {}
        self.restart_policy = RestartPolicy()
        self.restarts = 0
        self._stopping = threading.Event()

    def service_env(self) -> dict[str, str]:
        """Environment shared by the services and tools of this stack."""
        env = dict(os.environ)
        env.setdefault("YZ_ENV", "dev")
        env["YZ_MQTT_PORT"] = str(self.config.mqtt_port)
        env.update(self.locked.service_env())
        for name in SERVICES:
            env[f"YZ_{name.upper()}_DATABASE_URL"] = self.postgres.url(f"yz_{name}")
            env[f"YZ_{name.upper()}_HTTP_PORT"] = str(self.config.http_ports[name])
            env[f"YZ_{name.upper()}_GRPC_PORT"] = str(self.config.grpc_ports[name])
            env[f"YZ_{name.upper()}_GRPC"] = f"127.0.0.1:{self.config.grpc_ports[name]}"
        env["YZ_CONSOLE_HTTP_PORT"] = str(self.config.http_ports[CONSOLE])
        env["YZ_STATIONS_CONSOLE_URL"] = self.config.url(CONSOLE)
        # The link in a monthly report's delivery (console report_schedule.py).
        env["YZ_CONSOLE_PUBLIC_URL"] = self.config.url(CONSOLE)
        # Credentials sheets name the TLS port kiosks use.
        env["YZ_CONSOLE_DEVICE_BROKER_PORT"] = str(self.config.mqtt_tls_port)
        env["YZ_TELEMETRY_INGEST_HTTP_PORT"] = str(self.config.ingest_http_port)
        # Alarm webhooks to a receiver on the developer's machine (refused in production).
        env.setdefault("YZ_TELEMETRY_NOTIFY_ALLOW_PRIVATE_TARGETS", "true")
        # SMS alarm channels write their messages to the log (no gateway in development).
        env.setdefault("YZ_TELEMETRY_SMS_SENDER", "log")
        return env

    def start(self) -> None:
        """Bring everything up; raises when a part fails to start."""
        started = time.monotonic()
        self.logs.mkdir(parents=True, exist_ok=True)
        _say(f"PostgreSQL on 127.0.0.1:{self.config.pg_port} (data in {self.postgres.data_dir})")
        self.postgres.start()
        _say(
            f"Mosquitto on 127.0.0.1:{self.config.mqtt_port}, TLS on {self.config.mqtt_tls_port}"
            f" (CA {self.locked.tls.ca_cert}; accounts kept by stations)"
        )
        self.broker.start(log_path=self.logs / "mosquitto.log")
        env = self.service_env()
        for name in SERVICES:
            self.postgres.create_database(f"yz_{name}")
            _run([f"yz-{name}", "migrate"], env, self.logs / f"{name}.log")
        admin_password = self._ensure_admin(env)
        for name in (*SERVICES, CONSOLE):
            self._spawn(name, [f"yz-{name}", "serve"], env)
        self._spawn(INGEST, ["yz-telemetry", "ingest"], env)
        self._wait_ready()
        _say(f"all services ready in {time.monotonic() - started:.1f}s")
        if self.config.demo:
            token = _login(self.config.url("stations"), ADMIN_USERNAME, admin_password)
            kiosks = self.config.data_dir / KIOSK_CREDENTIALS_FILE
            seeded = demo.seed(
                self.config.url("stations"),
                self.config.url("bookings"),
                token,
                have_credentials=load_kiosk_credentials(kiosks).keys(),
            )
            save_kiosk_credentials(kiosks, seeded.credentials)
            _say(f"demo network: {len(demo.STATIONS)} stations in 3 districts")
            if self.config.simulator:
                self._start_simulator(env)
            # Weeks of bookings do not hold up the start: they arrive seconds after.
            threading.Thread(
                target=self._demo_bookings, args=(env, seeded.new_sessions), daemon=True
            ).start()
        self._print_banner(admin_password)

    def _demo_bookings(self, env: dict[str, str], new_sessions: list[int]) -> None:
        """The demo's bookings: its past written by bookings itself (the booking API rightly
        refuses the past), once; seats in the coming sessions booked through the worker API."""
        try:
            _run(
                [
                    *("yz-bookings", "demo-history", "--weeks", str(self.config.history_weeks)),
                    *("--stations", ",".join(station.id for station in demo.STATIONS)),
                ],
                env,
                self.logs / "bookings.log",
            )
            booked = demo.book_as_workers(self.config.url("bookings"), new_sessions)
        except (RuntimeError, httpx.HTTPError) as exc:
            _say(f"demo bookings failed: {exc}")
            return
        _say(f"demo bookings ready (history written once; {booked} seats booked now)")

    def _ensure_admin(self, env: dict[str, str]) -> str:
        """The admin's password: YZ_ADMIN_PASSWORD, or one generated on the first run and
        kept in .data/admin-password (readable only by you) for later runs."""
        saved = self.config.data_dir / "admin-password"
        password = os.environ.get("YZ_ADMIN_PASSWORD")
        if not password and saved.exists():
            return saved.read_text().strip()
        if not password:
            password = secrets.token_urlsafe(12)
            saved.write_text(password + "\n")
            saved.chmod(0o600)
        admin_env = {**env, "YZ_RUN_ADMIN_PASSWORD": password}
        _run(
            [
                "yz-stations",
                "create-operator",
                "--username",
                ADMIN_USERNAME,
                "--role",
                "admin",
                "--password-env",
                "YZ_RUN_ADMIN_PASSWORD",
            ],
            admin_env,
            self.logs / "stations.log",
        )
        return password

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log_file = (self.logs / f"{name}.log").open("ab")
        # A session of its own: Ctrl-C reaches only us, and we stop the children in order.
        self.processes[name] = subprocess.Popen(
            argv, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._commands[name] = (argv, env)
        self._started_at[name] = time.monotonic()

    def _start_simulator(self, env: dict[str, str]) -> None:
        backfill_days = self.config.backfill_days
        marker = self.config.data_dir / "demo-backfilled"
        if marker.exists():
            backfill_days = 0
        else:
            marker.write_text("history published once by the simulator\n")
        # The kiosks log in with their provisioned credentials over TLS, as real ones do.
        argv = [
            *("yz-dev", "simulate", "--backfill-days", str(backfill_days)),
            *("--credentials", str(self.config.data_dir / KIOSK_CREDENTIALS_FILE)),
            *("--tls-port", str(self.config.mqtt_tls_port)),
            *("--ca", str(self.locked.tls.ca_cert)),
            *("--outbox-dir", str(self.config.data_dir / "kiosks")),
        ]
        self._spawn("simulator", argv, env)
        _say(f"kiosk simulator: {len(demo.STATIONS) * len(demo.DEVICE_KINDS)} devices publishing")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        urls = self.config.health_urls()
        pending = set(urls)
        last: dict[str, str] = {}
        while pending and time.monotonic() < deadline:
            for name in sorted(pending):
                process = self.processes[name]
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited ({process.returncode}); see {self.logs}/{name}.log"
                    )
                try:
                    reply = httpx.get(f"{urls[name]}/readyz", timeout=2)
                    if reply.status_code == 200:
                        pending.discard(name)
                        _say(f"{name} ready at {urls[name]}")
                    else:
                        last[name] = reply.text
                except httpx.HTTPError as exc:
                    last[name] = str(exc)
            time.sleep(0.3)
        if pending:
            details = "; ".join(f"{n}: {last.get(n, '?')}" for n in sorted(pending))
            raise RuntimeError(f"not ready after {READY_TIMEOUT_SECONDS}s: {details}")

    def _print_banner(self, admin_password: str) -> None:
        c = self.config
        lines = [
            "",
            "Yizhan is running. Ctrl-C stops everything.",
            f"  worker booking form   {c.url('bookings')}/",
            f"  operator console      {c.url(CONSOLE)}/console/   (user admin)",
            f"  admin password        {admin_password}",
            f"  stations API          {c.url('stations')}/docs",
            f"  telemetry API         {c.url('telemetry')}/docs",
            f"  bookings API          {c.url('bookings')}/docs",
            f"  MQTT broker           127.0.0.1:{c.mqtt_port} (inside), "
            f"TLS 127.0.0.1:{c.mqtt_tls_port} (devices)",
            f"  development CA        {self.locked.tls.ca_cert}",
            f"  logs                  {self.logs}/",
            "",
        ]
        print("\n".join(lines), flush=True)

    def wait(self, poll_seconds: float = 1.0) -> int:
        """Block until Ctrl-C/SIGTERM (0), starting again any process that exits meanwhile
        (as a production supervisor would), with a growing delay if it keeps failing."""
        while not self._stopping.wait(poll_seconds):
            now = time.monotonic()
            for name, process in list(self.processes.items()):
                if name in self._restart_at:
                    if now >= self._restart_at[name]:
                        del self._restart_at[name]
                        self.restarts += 1
                        _say(f"starting {name} again")
                        self._spawn(name, *self._commands[name])
                    continue
                if process.poll() is None:
                    continue
                ran = now - self._started_at[name]
                delay = self.restart_policy.delay_after_exit(name, ran)
                _say(
                    f"{name} exited with {process.returncode} after {ran:.0f}s; "
                    f"restarting in {delay:.0f}s (see {self.logs}/{name}.log)"
                )
                self._restart_at[name] = now + delay
        return 0

    def request_stop(self) -> None:
        """Called from the signal handler."""
        self._stopping.set()

    def stop(self) -> None:
        """Stop in reverse order: simulator, services, broker, database."""
        for name in reversed(list(self.processes)):
            process = self.processes[name]
            if process.poll() is None:
                process.terminate()
        for name, process in self.processes.items():
            try:
                process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                _say(f"{name} did not stop in {STOP_TIMEOUT_SECONDS}s; killing it")
                process.kill()
                process.wait()
        self.processes.clear()
        self.broker.stop()
        self.postgres.stop()
        _say("stopped; nothing of the stack is running")


def _run(argv: list[str], env: dict[str, str], log_path: Path) -> None:
    with log_path.open("ab") as log_file:
        result = subprocess.run(argv, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:2])} failed; see {log_path}")


def _login(stations_url: str, username: str, password: str) -> str:
    reply = httpx.post(
        f"{stations_url}/api/v1/auth/token", data={"username": username, "password": password}
    )
    reply.raise_for_status()
    token: str = reply.json()["access_token"]
    return token


def _say(message: str) -> None:
    print(f"[yz] {message}", flush=True)


def run(root: Path) -> int:
    """Run the stack in the foreground until Ctrl-C; returns the exit status."""
    stack = Stack(StackConfig.from_env(root))
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stack.request_stop())
    try:
        stack.start()
        return stack.wait()
    except Exception as exc:  # any start failure: say why, then clean up what did start
        _say(f"error: {exc}")
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()


if __name__ == "__main__":
    sys.exit(run(Path.cwd()))
