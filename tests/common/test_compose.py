"""docker-compose.yml cannot be started here (no Docker engine): check what can be checked."""

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_every_part_of_the_stack_is_there() -> None:
    services = _compose()["services"]
    assert set(services) == {
        "db",
        "mosquitto",
        "migrate",
        "stations",
        "telemetry",
        "telemetry-ingest",
        "bookings",
    }
    assert "timescaledb" in services["db"]["image"]
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:")


def test_mounted_files_and_build_context_exist() -> None:
    compose = _compose()
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
        build = service.get("build")
        if build:
            assert (ROOT / build["context"] / build["dockerfile"]).exists()


def test_services_run_our_console_scripts_on_contract_ports() -> None:
    services = _compose()["services"]
    for name, port in (("stations", 8101), ("telemetry", 8102), ("bookings", 8103)):
        assert services[name]["command"] == [f"yz-{name}", "serve"]
        assert services[name]["ports"] == [f"{port}:{port}"]
        env = services[name]["environment"]
        assert env["YZ_ENV"] == "prod"
        assert env[f"YZ_{name.upper()}_DATABASE_URL"].endswith(f"@db:5432/yz_{name}")
    scripts = (ROOT / "services").glob("*/pyproject.toml")
    declared = "".join(path.read_text() for path in scripts)
    for name in ("stations", "telemetry", "bookings"):
        assert f'yz-{name} = "yizhan.{name}.__main__:main"' in declared


def test_databases_created_by_init_match_the_urls() -> None:
    init = (ROOT / "deploy" / "postgres" / "init.sql").read_text()
    for name in ("stations", "telemetry", "bookings"):
        assert f"CREATE DATABASE yz_{name};" in init


def test_bookings_sends_codes_through_a_real_gateway_in_prod() -> None:
    env = _compose()["services"]["bookings"]["environment"]
    assert env["YZ_ENV"] == "prod"
    assert env["YZ_BOOKINGS_SMS_SENDER"] == "webhook"
    assert env["YZ_JWT_SECRET"].startswith("${YZ_JWT_SECRET:?")


def test_the_broker_enforces_accounts_that_stations_keeps() -> None:
    conf = (ROOT / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    lines = {line.strip() for line in conf.splitlines()}
    assert "allow_anonymous false" in lines
    assert "plugin /usr/lib/mosquitto_dynamic_security.so" in lines
    services = _compose()["services"]
    assert services["mosquitto"]["entrypoint"][-1] == "/mosquitto/init-dynsec.sh"
    assert "mosquitto_ctrl dynsec init" in (ROOT / "deploy/mosquitto/init-dynsec.sh").read_text()
    stations = services["stations"]["environment"]
    assert stations["YZ_STATIONS_BROKER_SECURITY"] == "dynsec"
    assert stations["YZ_STATIONS_BROKER_ADMIN_PASSWORD"].startswith("${YZ_BROKER_ADMIN_PASSWORD:?")
    assert stations["YZ_STATIONS_DEVICE_KEY"].startswith("${YZ_DEVICE_KEY:?")
    telemetry = services["telemetry-ingest"]["environment"]
    assert telemetry["YZ_MQTT_USERNAME"] == stations["YZ_STATIONS_TELEMETRY_MQTT_USERNAME"]
    assert telemetry["YZ_MQTT_PASSWORD"] == stations["YZ_STATIONS_TELEMETRY_MQTT_PASSWORD"]
