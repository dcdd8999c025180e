"""docker-compose.yml started without a Docker engine: every service's command runs with the
environment compose would give it (interpolated from .env.example, filled as an operator
fills it), in compose's dependency order, each waited for as compose waits (one-shots to
finish, health checks to pass). Only what a container would provide is mapped: host names
(`db`, `mosquitto`, the services) to local PostgreSQL and Mosquitto and free ports, and the
mounted folders (certificates, secrets) to files made here. Mosquitto runs with the deployed
deploy/mosquitto/mosquitto.conf and Caddy (Debian's, not the image) with the deployed
deploy/caddy/Caddyfile, ports and upstreams mapped and its local CA instead of Let's Encrypt
(docs/deploy.md says what needs a real Docker engine).

Then the first admin logs in, a device's message sent over TLS is stored, and a backup of the
three databases restores into an empty cluster with that data in it."""

import os
import re
import secrets
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.deploy.compose import (
    ENV_EXAMPLE,
    ROOT,
    dependencies,
    environment,
    load,
    read_env_file,
    start_order,
)
from yizhan.common.settings import DEV_JWT_SECRET
from yizhan.devstack.broker import find_dynsec_plugin, find_mosquitto, find_mosquitto_ctrl
from yizhan.devstack.postgres import SUPERUSER, PostgresCluster
from yizhan.devstack.processes import (
    chown_to,
    ensure_parents_traversable,
    free_port,
    is_root,
    wait_for_port,
)
from yizhan.devstack.tls import ensure_dev_tls
from yizhan.stations.settings import DEV_DEVICE_KEY

pytestmark = pytest.mark.integration

# Images not our own, started here from local binaries with the deployed configuration: the
# database and broker before the services, the proxy after them (fixture `proxy`).
INFRASTRUCTURE = {"db", "mosquitto"}
STARTED_APART = {"proxy"}
READY_TIMEOUT_SECONDS = 120
ONE_SHOT_TIMEOUT_SECONDS = 180
# What the image's Dockerfile sets (ENV) beside compose's `environment`.
IMAGE_ENV = {"PYTHONUNBUFFERED": "1", "YZ_ENV": "prod", "YZ_BIND_HOST": "0.0.0.0"}


@dataclass
class ComposeRun:
    """The started stack: compose's view of it and where things ended up here."""

    workdir: Path
    services: dict[str, Any]
    postgres: PostgresCluster
    ports: dict[int, int]  # container port -> local port
    mqtt_tls_port: int
    mqtt_ca: Path
    admin_password: str
    env: dict[str, dict[str, str]] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)

    def url(self, service: str) -> str:
        """Local base URL of a compose service's HTTP port."""
        port = int(environment(self.services[service])[f"YZ_{service.upper()}_HTTP_PORT"])
        return f"http://127.0.0.1:{self.ports[port]}"

    def command(self, service: str) -> list[str]:
        """The service's command with mounted paths mapped."""
        return [self.translate(arg) for arg in self.services[service]["command"]]

    def translate(self, value: str) -> str:
        """A value as seen in a container, mapped to this machine."""
        value = value.replace("@db:5432/", f"@127.0.0.1:{self.postgres.port}/")
        value = value.replace("/certs/internal/", f"{self.workdir}/certs/internal/")
        value = value.replace("/run/secrets/", f"{self.workdir}/secrets/")
        peer = re.fullmatch(r"(stations|telemetry|bookings):(\d+)", value)
        if peer:
            # The internal certificate names `localhost` too.
            value = f"localhost:{self.ports[int(peer[2])]}"
        return value

    def run_one_shot(self, service: str, env: dict[str, str] | None = None) -> str:
        """Run a one-shot service's command to the end; its output (fails unless it exits 0)."""
        result = subprocess.run(
            self.command(service),
            env=env or self.env[service],
            capture_output=True,
            text=True,
            timeout=ONE_SHOT_TIMEOUT_SECONDS,
        )
        assert result.returncode == 0, f"{service}: {result.stdout}{result.stderr}"
        return result.stdout


def _service_env(run: ComposeRun, service: dict[str, Any], broker_port: int) -> dict[str, str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(run.workdir), "LANG": "C.UTF-8", **IMAGE_ENV}
    for key, value in environment(service).items():
        if key.endswith(("_HTTP_PORT", "_GRPC_PORT")):
            env[key] = str(run.ports[int(value)])
        elif key == "YZ_MQTT_HOST" and value == "mosquitto":
            env[key] = "127.0.0.1"
        elif key == "YZ_MQTT_PORT" and value == "1883":
            env[key] = str(broker_port)
        else:
            env[key] = run.translate(value)
    return env


def _healthy(run: ComposeRun, name: str) -> bool:
    test = run.services[name]["healthcheck"]["test"]
    argv = test[1:] if test[0] == "CMD" else ["sh", "-c", test[1]]
    return subprocess.run(argv, env=run.env[name], capture_output=True, timeout=30).returncode == 0


def _satisfied(run: ComposeRun, name: str) -> bool:
    for dependency, condition in dependencies(run.services[name]).items():
        wanted = {"service_completed_successfully": "completed"}.get(condition, "healthy")
        if condition == "service_started" and run.states.get(dependency):
            continue
        if run.states.get(dependency) != wanted:
            return False
    return True


def _bring_up(run: ComposeRun, broker_port: int) -> None:
    """As `docker compose up`: start each service once its dependencies' conditions hold
    (one-shots run to the end, the others run on), until every service is healthy."""
    wanted = [n for n in start_order(run.services) if n not in INFRASTRUCTURE | STARTED_APART]
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS * 2
    while any(run.states.get(name) not in ("healthy", "completed") for name in wanted):
        if time.monotonic() > deadline:
            logs = {n: (run.workdir / f"{n}.log").read_text()[-1500:] for n in run.processes}
            raise AssertionError(f"not up in time: {run.states}\n{logs}")
        for name in wanted:
            state = run.states.get(name)
            if state is None and _satisfied(run, name):
                run.env[name] = _service_env(run, run.services[name], broker_port)
                if run.services[name].get("restart") == "no":
                    run.run_one_shot(name)
                    run.states[name] = "completed"
                    continue
                log_path = run.workdir / f"{name}.log"
                run.processes[name] = subprocess.Popen(
                    run.command(name),
                    env=run.env[name],
                    stdout=log_path.open("ab"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                run.states[name] = "started"
            elif state == "started":
                process = run.processes[name]
                if process.poll() is not None:
                    log_text = (run.workdir / f"{name}.log").read_text()
                    raise AssertionError(f"{name} exited {process.returncode}:\n{log_text}")
                if _healthy(run, name):
                    run.states[name] = "healthy"
        time.sleep(0.5)


def _start_broker(run: ComposeRun, env: dict[str, str], plain: int) -> subprocess.Popen[bytes]:
    """Mosquitto with the deployed config: data and certificates in our folder, loopback."""
    folder = run.workdir / "mosquitto"
    (folder / "data").mkdir(parents=True)
    conf = (ROOT / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    conf = conf.replace("/mosquitto/data/", f"{folder}/data/")
    conf = conf.replace("/mosquitto/certs/", f"{run.workdir}/certs/mqtt/")
    conf = conf.replace("/usr/lib/mosquitto_dynamic_security.so", find_dynsec_plugin())
    conf = conf.replace("listener 1883 0.0.0.0", f"listener {plain} 127.0.0.1")
    conf = conf.replace("listener 8883 0.0.0.0", f"listener {run.mqtt_tls_port} 127.0.0.1")
    (folder / "mosquitto.conf").write_text(conf)
    # What deploy/mosquitto/init-dynsec.sh does on the first start.
    subprocess.run(
        [
            find_mosquitto_ctrl(),
            *("dynsec", "init", str(folder / "data" / "dynamic-security.json")),
            env["YZ_BROKER_ADMIN_USERNAME"],
            env["YZ_BROKER_ADMIN_PASSWORD"],
        ],
        check=True,
        capture_output=True,
    )
    if is_root():
        chown_to(folder, "mosquitto")
        chown_to(run.workdir / "certs" / "mqtt", "mosquitto")
        ensure_parents_traversable(folder)
    process = subprocess.Popen(
        [find_mosquitto(), "-c", str(folder / "mosquitto.conf")],
        stdout=(run.workdir / "mosquitto.log").open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for_port("127.0.0.1", run.mqtt_tls_port, 15, process)
    return process


def _make_certificates(workdir: Path, domain: str) -> Path:
    ensure_dev_tls(
        workdir / "certs" / "internal", ["stations", "telemetry", "bookings", "localhost"]
    )
    # The kiosks' certificate: from ACME or the operator's CA in production; our own CA here.
    mqtt_ca = ensure_dev_tls(workdir / "certs" / "mqtt-ca", [domain, "localhost"])
    mounted = workdir / "certs" / "mqtt"
    mounted.mkdir()
    shutil.copyfile(mqtt_ca.server.cert, mounted / "fullchain.pem")
    shutil.copyfile(mqtt_ca.server.key, mounted / "privkey.pem")
    return mqtt_ca.ca_cert


@pytest.fixture(scope="module")
def compose(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeRun]:
    workdir = tmp_path_factory.mktemp("compose")
    # .env.example filled as docs/deploy.md says: every empty value a fresh secret.
    dotenv = {k: v or secrets.token_urlsafe(32) for k, v in read_env_file(ENV_EXAMPLE).items()}
    services = load(dotenv)["services"]
    (workdir / "secrets").mkdir()
    admin_password = secrets.token_urlsafe(16)
    (workdir / "secrets" / "admin_password").write_text(admin_password + "\n")
    mqtt_ca = _make_certificates(workdir, dotenv["YZ_DOMAIN"])

    container_ports = {
        int(value)
        for service in services.values()
        for key, value in environment(service).items()
        if key.endswith(("_HTTP_PORT", "_GRPC_PORT"))
    }
    postgres = PostgresCluster(workdir / "postgres", free_port())
    run = ComposeRun(
        workdir=workdir,
        services=services,
        postgres=postgres,
        ports={port: free_port() for port in container_ports},
        mqtt_tls_port=free_port(),
        mqtt_ca=mqtt_ca,
        admin_password=admin_password,
    )
    broker: subprocess.Popen[bytes] | None = None
    postgres.start()
    try:
        # What the PostgreSQL image runs on an empty volume.
        with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as conn:
            for statement in (ROOT / "deploy/postgres/init.sql").read_text().split(";"):
                if statement.strip() and not statement.strip().startswith("--"):
                    conn.execute(statement)
        plain_port = free_port()
        broker = _start_broker(run, environment(services["mosquitto"]), plain_port)
        run.states.update(dict.fromkeys(INFRASTRUCTURE, "healthy"))
        _bring_up(run, plain_port)
        yield run
    finally:
        for process in reversed(run.processes.values()):
            process.terminate()
        for process in run.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        if broker is not None:
            broker.terminate()
            broker.wait(10)
        postgres.stop()


def _admin_token(run: ComposeRun, password: str) -> httpx.Response:
    return httpx.post(
        f"{run.url('stations')}/api/v1/auth/token",
        data={"username": "admin", "password": password},
        timeout=10,
    )


def test_every_service_started_in_order_and_is_ready(compose: ComposeRun) -> None:
    expected = set(compose.services) - STARTED_APART
    assert set(compose.states) == expected
    for name, process in compose.processes.items():
        assert process.poll() is None, name
        assert _healthy(compose, name), name
    # gRPC listens beyond loopback here (YZ_BIND_HOST=0.0.0.0): only possible over TLS.
    assert compose.env["stations"]["YZ_GRPC_TLS_REQUIRE_CLIENT_CERT"] == "true"


def test_the_first_admin_logs_in_and_the_bootstrap_leaves_it_alone(compose: ComposeRun) -> None:
    assert _admin_token(compose, compose.admin_password).status_code == 200
    # Run again (as on every `docker compose up`) with another secret: the admin is kept.
    secret = compose.workdir / "secrets" / "admin_password"
    secret.write_text("another-password-entirely\n")
    try:
        assert "exists" in compose.run_one_shot("bootstrap-admin")
    finally:
        secret.write_text(compose.admin_password + "\n")
    assert _admin_token(compose, compose.admin_password).status_code == 200


def test_development_secrets_are_refused(compose: ComposeRun) -> None:
    for key, dev_value in (
        ("YZ_JWT_SECRET", DEV_JWT_SECRET),
        ("YZ_STATIONS_DEVICE_KEY", DEV_DEVICE_KEY),
    ):
        env = {**compose.env["migrate-stations"], key: dev_value}
        result = subprocess.run(
            compose.command("migrate-stations"), env=env, capture_output=True, text=True
        )
        assert result.returncode != 0
        assert key in result.stderr + result.stdout


@pytest.fixture(scope="module")
def stored_visit(compose: ComposeRun) -> dict[str, Any]:
    """A station and device made through the API, and a visit sent over TLS, counted."""
    token = _admin_token(compose, compose.admin_password).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    stations = compose.url("stations")
    station = {"id": "CMP-0001", "name": {"zh": "部署驿站", "en": "Deploy"}, "district": "测试区"}
    reply = httpx.post(f"{stations}/api/v1/stations", json=station, headers=headers)
    assert reply.status_code == 201, reply.text
    device = httpx.post(
        f"{stations}/api/v1/stations/CMP-0001/devices",
        json={"id": "CMP-0001-counter", "kind": "counter"},
        headers=headers,
    )
    assert device.status_code == 201, device.text
    mqtt = device.json()["mqtt"]
    now = datetime.now(UTC)
    message = f'{{"v":1,"seq":1,"ts":"{now.isoformat()}","type":"visit","count":7}}'
    sent = subprocess.run(
        [
            "mosquitto_pub",
            *("-V", "5", "-h", "localhost", "-p", str(compose.mqtt_tls_port)),
            *("--cafile", str(compose.mqtt_ca), "-i", mqtt["username"]),
            *("-u", mqtt["username"], "-P", mqtt["password"]),
            *("-q", "1", "-t", "yz/v1/st/CMP-0001/dev/CMP-0001-counter/event", "-m", message),
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert sent.returncode == 0, sent.stderr
    assert sent.stderr == ""
    params = {
        "scope": "station:CMP-0001",
        "from": (now - timedelta(hours=1)).isoformat(),
        "to": (now + timedelta(hours=1)).isoformat(),
        "bucket": "day",
    }
    deadline = time.monotonic() + 30
    totals: dict[str, Any] = {}
    while time.monotonic() < deadline:
        usage = httpx.get(
            f"{compose.url('telemetry')}/api/v1/usage", params=params, headers=headers
        )
        assert usage.status_code == 200, usage.text
        totals = usage.json()["totals"]
        if totals["visits"]:
            break
        time.sleep(0.5)
    assert totals["visits"] == 7, totals
    return {"station": "CMP-0001", "device": "CMP-0001-counter"}


def test_a_device_message_sent_over_tls_is_stored(stored_visit: dict[str, Any]) -> None:
    assert stored_visit["station"] == "CMP-0001"


def test_a_backup_restores_into_an_empty_cluster(
    compose: ComposeRun, stored_visit: dict[str, Any], tmp_path: Path
) -> None:
    backups = tmp_path / "backups"

    def pg_env(cluster: PostgresCluster) -> dict[str, str]:
        return {
            **os.environ,
            "PGHOST": "127.0.0.1",
            "PGPORT": str(cluster.port),
            "PGUSER": SUPERUSER,
        }

    made = subprocess.run(
        ["sh", str(ROOT / "deploy/backup/backup.sh"), str(backups)],
        env=pg_env(compose.postgres),
        capture_output=True,
        text=True,
        check=True,
    )
    folder = Path(made.stdout.strip().splitlines()[-1])
    assert sorted(p.name for p in folder.iterdir()) == [
        "SHA256SUMS",
        "yz_bookings.dump",
        "yz_stations.dump",
        "yz_telemetry.dump",
    ]
    empty = PostgresCluster(tmp_path / "empty-cluster", free_port())
    empty.start()
    try:
        restored = subprocess.run(
            ["sh", str(ROOT / "deploy/backup/restore.sh"), str(folder)],
            env=pg_env(empty),
            capture_output=True,
            text=True,
        )
        assert restored.returncode == 0, restored.stdout + restored.stderr
        with psycopg.connect(empty.dsn("yz_stations")) as conn:
            admins = conn.execute("SELECT count(*) FROM operators WHERE username = 'admin'")
            assert admins.fetchone() == (1,)
            device = conn.execute(
                "SELECT station_id FROM devices WHERE id = %s", (stored_visit["device"],)
            )
            assert device.fetchone() == (stored_visit["station"],)
        with psycopg.connect(empty.dsn("yz_telemetry")) as conn:
            visits = conn.execute(
                "SELECT count(*) FROM events WHERE device_id = %s", (stored_visit["device"],)
            )
            assert visits.fetchone() == (1,)
        with psycopg.connect(empty.dsn("yz_bookings")) as conn:
            assert conn.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
        # A corrupted backup is refused before anything is restored.
        (folder / "yz_stations.dump").write_bytes(b"not a dump")
        again = subprocess.run(
            ["sh", str(ROOT / "deploy/backup/restore.sh"), str(folder)],
            env=pg_env(empty),
            capture_output=True,
            text=True,
        )
        assert again.returncode != 0
    finally:
        empty.stop()


@dataclass
class Proxy:
    """Caddy in front of the stack: where HTTPS and HTTP listen, and the CA to trust."""

    domain: str
    https_port: int
    http_port: int
    ca: Path

    def get(self, host: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request over HTTPS for `host` (SNI and Host), verified against the proxy's CA."""
        return self.request("GET", host, path, **kwargs)

    def request(self, method: str, host: str, path: str, **kwargs: Any) -> httpx.Response:
        """Any method over HTTPS, as a browser that resolved `host` to this machine."""
        with httpx.Client(verify=ssl.create_default_context(cafile=str(self.ca))) as client:
            return client.request(
                method,
                f"https://127.0.0.1:{self.https_port}{path}",
                headers={"Host": host, **kwargs.pop("headers", {})},
                extensions={"sni_hostname": host},
                timeout=10,
                **kwargs,
            )


@pytest.fixture(scope="module")
def proxy(compose: ComposeRun) -> Iterator[Proxy]:
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.fail("caddy is not installed: run scripts/setup.sh (apt-get install caddy)")
    folder = compose.workdir / "caddy"
    folder.mkdir()
    ports = {"admin": free_port(), "http": free_port(), "https": free_port()}
    config = (ROOT / "deploy" / "caddy" / "Caddyfile").read_text()
    global_options = "{\n\temail {$YZ_ACME_EMAIL}\n}"
    assert global_options in config
    config = config.replace(
        global_options,
        "{\n\temail {$YZ_ACME_EMAIL}\n"
        # Caddy's own CA instead of Let's Encrypt, kept out of the system's trust store.
        "\tlocal_certs\n\tskip_install_trust\n"
        f"\tadmin 127.0.0.1:{ports['admin']}\n"
        f"\thttp_port {ports['http']}\n\thttps_port {ports['https']}\n}}",
    )
    upstreams = (("stations", 8101), ("telemetry", 8102), ("bookings", 8103), ("console", 8104))
    for service, port in upstreams:
        upstream = f"reverse_proxy {service}:{port}"
        assert upstream in config
        config = config.replace(upstream, f"reverse_proxy 127.0.0.1:{compose.ports[port]}")
    (folder / "Caddyfile").write_text(config)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(folder),
        "XDG_DATA_HOME": str(folder / "data"),
        "XDG_CONFIG_HOME": str(folder / "config"),
        **environment(compose.services["proxy"]),
    }
    process = subprocess.Popen(
        [caddy, "run", "--config", str(folder / "Caddyfile"), "--adapter", "caddyfile"],
        env=env,
        stdout=(folder / "caddy.log").open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port("127.0.0.1", ports["https"], 30, process)
        ca = folder / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        deadline = time.monotonic() + 30
        while not ca.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        yield Proxy(env["YZ_DOMAIN"], ports["https"], ports["http"], ca)
    finally:
        process.terminate()
        process.wait(15)


def _retry_tls(call: Any) -> httpx.Response:
    # Caddy issues its certificates right after it starts listening.
    deadline = time.monotonic() + 30
    while True:
        try:
            reply: httpx.Response = call()
            return reply
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_https_in_front_of_the_services(compose: ComposeRun, proxy: Proxy) -> None:
    stations_host = f"stations.{proxy.domain}"
    login = _retry_tls(
        lambda: proxy.request(
            "POST",
            stations_host,
            "/api/v1/auth/token",
            data={"username": "admin", "password": compose.admin_password},
        )
    )
    assert login.status_code == 200, login.text
    assert login.headers["strict-transport-security"].startswith("max-age=")
    token = {"Authorization": f"Bearer {login.json()['access_token']}"}
    worker_site = _retry_tls(lambda: proxy.get(proxy.domain, "/"))
    assert worker_site.status_code == 200
    assert "text/html" in worker_site.headers["content-type"]
    now = datetime.now(UTC)
    window = {"scope": "network", "bucket": "day", "from": now.isoformat()}
    window["to"] = (now + timedelta(days=1)).isoformat()
    usage = proxy.get(f"telemetry.{proxy.domain}", "/api/v1/usage", headers=token, params=window)
    assert usage.status_code == 200, usage.text
    # The console, reading the services over mutual-TLS gRPC, and stations' old address for it.
    console_login = proxy.get(f"console.{proxy.domain}", "/console/login")
    assert console_login.status_code == 200
    assert "text/html" in console_login.headers["content-type"]
    moved = proxy.get(stations_host, "/console/")
    assert moved.status_code == 308
    assert moved.headers["location"] == f"https://console.{proxy.domain}/console/"
    # Metrics stay inside; plain HTTP only redirects to HTTPS.
    assert proxy.get(stations_host, "/metrics").status_code == 404
    assert httpx.get(f"{compose.url('stations')}/metrics").status_code == 200
    plain = httpx.get(
        f"http://127.0.0.1:{proxy.http_port}/api/v1/auth/token", headers={"Host": stations_host}
    )
    assert plain.status_code in (301, 308)
    assert plain.headers["location"].startswith(f"https://{stations_host}")
