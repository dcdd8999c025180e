"""Start a service as a real process, the way `make run` does, for integration tests."""

import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from yizhan.devstack.processes import free_port

STARTUP_TIMEOUT_SECONDS = 60


@dataclass
class RunningService:
    """A service process and where it listens."""

    name: str
    http_port: int
    grpc_port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base_url(self) -> str:
        """Root of its HTTP API."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_address(self) -> str:
        """host:port of its gRPC server."""
        return f"127.0.0.1:{self.grpc_port}"

    def log_text(self) -> str:
        """What the process printed so far."""
        return self.log_path.read_text(errors="replace")


def service_env(name: str, database_url: str, extra: Mapping[str, str]) -> dict[str, str]:
    """Environment for `yz-<name>`: its database plus whatever the test adds."""
    env = dict(os.environ)
    env.update({f"YZ_{name.upper()}_DATABASE_URL": database_url, "YZ_ENV": "test"})
    env.update(extra)
    return env


@contextmanager
def run_service(
    name: str,
    database_url: str,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    http_port: int | None = None,
    grpc_port: int | None = None,
    command: str = "serve",
) -> Iterator[RunningService]:
    """Migrate and run `yz-<name> <command>` (`serve`, or telemetry's `ingest`) on free ports;
    stop it (SIGTERM) afterwards. No database URL (the console): nothing to migrate."""
    http_port = http_port or free_port()
    grpc_port = grpc_port or free_port()
    # The ingest process has only an HTTP port, for its health and metrics.
    http_port_variable = "INGEST_HTTP_PORT" if command == "ingest" else "HTTP_PORT"
    full_env = service_env(
        name,
        database_url,
        {
            f"YZ_{name.upper()}_{http_port_variable}": str(http_port),
            f"YZ_{name.upper()}_GRPC_PORT": str(grpc_port),
            **(env or {}),
        },
    )
    if database_url:
        migrated = subprocess.run([f"yz-{name}", "migrate"], env=full_env, capture_output=True)
        if migrated.returncode != 0:
            output = (migrated.stdout + migrated.stderr).decode(errors="replace")
            raise RuntimeError(f"yz-{name} migrate failed:\n{output[-4000:]}")
    log_path = log_dir / f"{name}-{command}-{http_port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [f"yz-{name}", command], env=full_env, stdout=log_file, stderr=subprocess.STDOUT
        )
    service = RunningService(name, http_port, grpc_port, process, log_path)
    try:
        _wait_healthy(service)
        yield service
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_healthy(service: RunningService) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"{service.name} exited:\n{service.log_text()[-4000:]}")
        try:
            if httpx.get(f"{service.base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{service.name} not healthy:\n{service.log_text()[-4000:]}")


@dataclass
class RunningTelemetry:
    """Telemetry's two processes: the API (`serve`) and the MQTT ingest (`ingest`)."""

    api: RunningService
    ingest: RunningService


@contextmanager
def run_telemetry(
    database_url: str,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    http_port: int | None = None,
    grpc_port: int | None = None,
) -> Iterator[RunningTelemetry]:
    """Both processes of the telemetry service on one database, as `make run` starts them."""
    with (
        run_service("telemetry", database_url, log_dir, env, http_port, grpc_port) as api,
        run_service("telemetry", database_url, log_dir, env, command="ingest") as ingest,
    ):
        yield RunningTelemetry(api, ingest)
