"""A PostgreSQL cluster in a folder of ours, on the system's binaries."""

import glob
import logging
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from yizhan.devstack.processes import as_user, chown_to, ensure_parents_traversable, is_root

log = logging.getLogger(__name__)

SUPERUSER = "yizhan"
# The system account that owns the cluster when we run as root (PostgreSQL refuses root).
OS_USER = "postgres"
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 30


def find_bindir() -> Path:
    """The newest installed PostgreSQL's binaries (Debian keeps them out of PATH)."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    if candidates:
        return Path(candidates[-1])
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise RuntimeError("PostgreSQL is not installed (make installs it with apt-get)")


def timescaledb_available(bindir: Path) -> bool:
    """Whether the TimescaleDB extension is installed for this server."""
    pkglibdir = subprocess.run(
        [str(bindir / "pg_config"), "--pkglibdir"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return bool(pkglibdir) and bool(glob.glob(os.path.join(pkglibdir, "timescaledb*.so")))


@dataclass
class PostgresCluster:
    """One cluster: its data folder, port, and the process while it runs."""

    data_dir: Path
    port: int
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        self.bindir = find_bindir()
        self.socket_dir = self.data_dir / "sockets"
        self.log_file = self.data_dir / "server.log"
        # YZ_PG_TIMESCALEDB=off runs plain PostgreSQL even where the extension is installed,
        # so both storage paths can be exercised on one machine.
        wanted = os.environ.get("YZ_PG_TIMESCALEDB", "auto").lower() != "off"
        self.with_timescaledb = wanted and timescaledb_available(self.bindir)

    def url(self, database: str) -> str:
        """SQLAlchemy URL of a database of this cluster."""
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def dsn(self, database: str) -> str:
        """libpq DSN of a database of this cluster."""
        return f"host={self.host} port={self.port} user={SUPERUSER} dbname={database}"

    def _run(self, argv: list[str]) -> None:
        # A session of its own: a Ctrl-C in the terminal must not reach the server directly;
        # whoever started it stops it after the services that use it.
        subprocess.run(
            as_user(OS_USER, argv), check=True, stdout=subprocess.DEVNULL, start_new_session=True
        )

    def init(self) -> None:
        """Create the cluster unless its folder already holds one."""
        if (self.data_dir / "PG_VERSION").exists():
            return
        log.info("initialising PostgreSQL cluster", extra={"data_dir": str(self.data_dir)})
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if is_root():
            ensure_parents_traversable(self.data_dir)
            chown_to(self.data_dir, OS_USER)
        self.data_dir.chmod(0o700)
        self._run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        )
        settings = [
            f"port = {self.port}",
            f"listen_addresses = '{self.host}'",
            f"unix_socket_directories = '{self.socket_dir}'",
            "max_connections = 300",
            "shared_buffers = 256MB",
            "timezone = 'UTC'",
            "log_timezone = 'UTC'",
        ]
        if self.with_timescaledb:
            settings += [
                "shared_preload_libraries = 'timescaledb'",
                "timescaledb.telemetry_level = off",
                # TimescaleDB runs a job scheduler per database that has the extension, and a
                # test session makes dozens: with PostgreSQL's default 8 worker processes the
                # later databases' refresh policies would never run.
                "max_worker_processes = 96",
                "timescaledb.max_background_workers = 80",
            ]
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# yizhan dev stack\n" + "\n".join(settings) + "\n")

    def start(self) -> None:
        """Start the server (after init) and wait until it accepts connections."""
        self.init()
        self.socket_dir.mkdir(exist_ok=True)
        chown_to(self.socket_dir, OS_USER)
        if not self.running():
            self._run(
                [
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-o",
                    f"-p {self.port}",
                    "start",
                ]
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                    log.info("PostgreSQL ready", extra={"port": self.port})
                    return
            except psycopg.OperationalError:
                time.sleep(0.2)
        raise TimeoutError(f"PostgreSQL did not start; see {self.log_file}")

    def running(self) -> bool:
        """Whether a server runs on this data folder."""
        result = subprocess.run(
            as_user(OS_USER, [str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "status"]),
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    def stop(self) -> None:
        """Stop the server: fast mode, which still checkpoints everything committed."""
        if self.running():
            self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "stop"])
            log.info("PostgreSQL stopped")

    def create_database(self, name: str) -> None:
        """Create a database unless it exists."""
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if found.fetchone() is None:
                conn.execute(f'CREATE DATABASE "{name}"')

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever still uses it."""
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
