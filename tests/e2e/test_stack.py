"""The whole network started as `make run` starts it, driven only through CONTRACT.md:
HTTP with an operator token, MQTT with mosquitto_pub/mosquitto_sub (devices over TLS with the
development CA, against a broker that enforces their credentials), Ctrl-C at the end."""

import json
import os
import queue
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import paho.mqtt.client as mqtt
import psutil
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from yizhan.devstack.processes import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "e2e-admin-password"
READY_TIMEOUT_SECONDS = 150


@dataclass
class Stack:
    process: subprocess.Popen[str]
    data_dir: Path
    ports: dict[str, int]
    output: Path

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("stack")
    ports = {
        "stations": free_port(),
        "telemetry": free_port(),
        "bookings": free_port(),
        "console": free_port(),
        "mqtt": free_port(),
        "mqtt_tls": free_port(),
        "telemetry-ingest": free_port(),
    }
    env = dict(os.environ)
    env.update(
        {
            "YZ_DATA_DIR": str(data_dir),
            "YZ_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "YZ_PG_PORT": str(free_port()),
            "YZ_MQTT_PORT": str(ports["mqtt"]),
            "YZ_MQTT_TLS_PORT": str(ports["mqtt_tls"]),
            "YZ_TELEMETRY_INGEST_HTTP_PORT": str(ports["telemetry-ingest"]),
            "YZ_DEMO_BACKFILL_DAYS": "1",
        }
    )
    for name in ("stations", "telemetry", "bookings", "console"):
        env[f"YZ_{name.upper()}_HTTP_PORT"] = str(ports[name])
        env[f"YZ_{name.upper()}_GRPC_PORT"] = str(free_port())
    output = data_dir / "run-output.txt"
    with output.open("w") as out:
        process = subprocess.Popen(
            ["yz-dev", "run"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True
        )
    running = Stack(process, data_dir, ports, output)
    try:
        _wait_for_banner(running)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(60)


def _wait_for_banner(stack: Stack) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        text = stack.output.read_text()
        if "Yizhan is running" in text:
            return
        if stack.process.poll() is not None:
            raise AssertionError(f"make run exited early:\n{text}")
        time.sleep(0.5)
    raise AssertionError(f"not running after {READY_TIMEOUT_SECONDS}s:\n{stack.output.read_text()}")


@pytest.fixture(scope="module")
def admin(stack: Stack) -> dict[str, str]:
    reply = httpx.post(
        f"{stack.url('stations')}/api/v1/auth/token",
        data={"username": "admin", "password": ADMIN_PASSWORD},
    )
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


def _usage(stack: Stack, headers: dict[str, str], scope: str, **extra: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    params = {
        "scope": scope,
        "from": (now - timedelta(days=1)).isoformat(),
        "to": (now + timedelta(hours=1)).isoformat(),
        "bucket": "day",
        **extra,
    }
    reply = httpx.get(f"{stack.url('telemetry')}/api/v1/usage", params=params, headers=headers)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def _mosquitto_pub(
    stack: Stack, topic: str, payload: dict[str, Any], *login: str, tls: bool = False
) -> subprocess.CompletedProcess[str]:
    """mosquitto_pub at QoS 1 (MQTT 5, so a refused publish is reported), over TLS trusting
    only the development CA, or plain; its exit status and output are the caller's to check."""
    if tls:
        address = ["-h", "localhost", "-p", str(stack.ports["mqtt_tls"])]
        address += ["--cafile", str(stack.data_dir / "tls" / "ca.crt")]
    else:
        address = ["-h", "127.0.0.1", "-p", str(stack.ports["mqtt"])]
    # A device's username is its device id, the only client id the broker lets it use.
    client_id = ["-i", login[login.index("-u") + 1]] if "-u" in login else []
    return subprocess.run(
        ["mosquitto_pub", "-V", "5", *address, "-q", "1", *client_id, *login, "-t", topic, "-s"],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=10,
    )


def _scan_at_kiosk(
    stack: Stack, topic: str, scan: dict[str, Any], user: str, password: str
) -> dict[str, Any]:
    """A kiosk's one connection (its device id as client id, the only one the broker lets it
    use): listen on `down`, publish the scan, return the answer."""
    answers: queue.Queue[dict[str, Any]] = queue.Queue()
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5
    )
    client.username_pw_set(user, password)
    client.on_message = lambda _client, _data, message: answers.put(json.loads(message.payload))
    client.connect("127.0.0.1", stack.ports["mqtt"])
    client.loop_start()
    try:
        assert client.subscribe(f"{topic}/down", qos=1)[0] == mqtt.MQTT_ERR_SUCCESS
        time.sleep(0.5)  # the SUBACK
        client.publish(f"{topic}/event", json.dumps(scan), qos=1).wait_for_publish(10)
        return answers.get(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()


def _publish(
    stack: Stack, topic: str, payload: dict[str, Any], user: str, password: str, tls: bool = False
) -> None:
    """Publish as a device; fails unless the broker accepted it."""
    result = _mosquitto_pub(stack, topic, payload, "-u", user, "-P", password, tls=tls)
    assert result.returncode == 0, result.stderr
    assert "failed" not in result.stderr, result.stderr


def test_every_service_is_ready(stack: Stack) -> None:
    for name in ("stations", "telemetry", "telemetry-ingest", "bookings"):
        reply = httpx.get(f"{stack.url(name)}/readyz")
        assert reply.status_code == 200, (name, reply.text)


def test_demo_usage_is_non_zero_within_a_minute(stack: Stack, admin: dict[str, str]) -> None:
    deadline = time.monotonic() + 60
    totals: dict[str, Any] = {}
    while time.monotonic() < deadline:
        totals = _usage(stack, admin, "network")["totals"]
        if totals["visits"] > 0 and totals["water_liters"] > 0:
            break
        time.sleep(2)
    assert totals["visits"] > 0, totals
    assert totals["water_liters"] > 0, totals


def test_the_broker_refuses_anonymous_clients(stack: Stack) -> None:
    message = {"v": 1, "seq": 1, "ts": datetime.now(UTC).isoformat(), "type": "visit", "count": 1}
    for tls in (False, True):
        result = _mosquitto_pub(
            stack, "yz/v1/st/CQ-NC-0001/dev/CQ-NC-0001-counter-1/event", message, tls=tls
        )
        assert result.returncode != 0
        assert "not authori" in result.stderr.lower(), result.stderr


def test_a_device_cannot_publish_as_another_station(stack: Stack, admin: dict[str, str]) -> None:
    stations = stack.url("stations")
    station = {"id": "E2E-INTRUDER", "name": {"zh": "别站", "en": "Other"}, "district": "测试区"}
    assert httpx.post(f"{stations}/api/v1/stations", json=station, headers=admin).status_code == 201
    device = httpx.post(
        f"{stations}/api/v1/stations/E2E-INTRUDER/devices",
        json={"id": "E2E-INTRUDER-kiosk", "kind": "kiosk"},
        headers=admin,
    )
    assert device.status_code == 201, device.text
    login = ("-u", device.json()["mqtt"]["username"], "-P", device.json()["mqtt"]["password"])
    message = {"v": 1, "seq": 1, "ts": datetime.now(UTC).isoformat(), "type": "visit", "count": 1}
    own = _mosquitto_pub(
        stack, "yz/v1/st/E2E-INTRUDER/dev/E2E-INTRUDER-kiosk/event", message, *login, tls=True
    )
    assert own.returncode == 0
    assert own.stderr == ""
    other = _mosquitto_pub(
        stack, "yz/v1/st/CQ-NC-0001/dev/CQ-NC-0001-counter-1/event", message, *login, tls=True
    )
    assert "Publish 1 failed: Not authorized" in other.stderr, other.stderr


def test_a_new_station_counts_exactly_what_its_device_sent(
    stack: Stack, admin: dict[str, str]
) -> None:
    stations = stack.url("stations")
    station = {
        "id": "E2E-0001",
        "name": {"zh": "端到端驿站", "en": "E2E station"},
        "district": "测试区",
    }
    assert httpx.post(f"{stations}/api/v1/stations", json=station, headers=admin).status_code == 201
    device = httpx.post(
        f"{stations}/api/v1/stations/E2E-0001/devices",
        json={"id": "E2E-0001-multi", "kind": "other"},
        headers=admin,
    )
    assert device.status_code == 201, device.text
    mqtt = device.json()["mqtt"]
    base = "yz/v1/st/E2E-0001/dev/E2E-0001-multi"
    now = datetime.now(UTC)

    def ts(minutes_ago: int) -> str:
        return (now - timedelta(minutes=minutes_ago)).isoformat()

    messages = [
        ("telemetry", {"v": 1, "seq": 1, "ts": ts(9), "metrics": {"power_w": 10.5, "tank_l": 9}}),
        ("event", {"v": 1, "seq": 2, "ts": ts(9), "type": "visit", "count": 3}),
        ("event", {"v": 1, "seq": 3, "ts": ts(8), "type": "visit", "count": 2}),
        (
            "event",
            {"v": 1, "seq": 4, "ts": ts(8), "type": "charge.start", "session": "A", "connector": 1},
        ),
        (
            "event",
            {
                "v": 1,
                "seq": 5,
                "ts": ts(7),
                "type": "charge.stop",
                "session": "A",
                "energy_wh": 1500,
            },
        ),
        (
            "event",
            {
                "v": 1,
                "seq": 6,
                "ts": ts(6),
                "type": "charge.stop",
                "session": "B",
                "energy_wh": 250,
            },
        ),
        ("event", {"v": 1, "seq": 7, "ts": ts(5), "type": "water.dispense", "liters": 0.5}),
        (
            "event",
            {
                "v": 1,
                "seq": 8,
                "ts": ts(4),
                "type": "water.dispense",
                "liters": 1.25,
                "temp": "hot",
            },
        ),
        (
            "event",
            {"v": 1, "seq": 9, "ts": ts(3), "type": "fault", "code": "E1", "severity": "warning"},
        ),
        ("telemetry", {"v": 1, "seq": 10, "ts": ts(2), "metrics": {"power_w": 0}}),
    ]
    # Over TLS on the devices' port, as a kiosk in the field sends.
    for channel, payload in messages:
        _publish(stack, f"{base}/{channel}", payload, mqtt["username"], mqtt["password"], tls=True)
    # One of them twice: stored and counted once.
    _publish(stack, f"{base}/event", messages[2][1], mqtt["username"], mqtt["password"], tls=True)

    expected = {
        "visits": 5,
        "charge_sessions": 2,
        "energy_kwh": 1.75,
        "water_liters": 1.75,
        "dispenses": 2,
    }
    deadline = time.monotonic() + 20
    totals: dict[str, Any] = {}
    while time.monotonic() < deadline:
        totals = _usage(stack, admin, "station:E2E-0001")["totals"]
        if totals == expected:
            break
        time.sleep(0.5)
    assert totals == expected

    state = httpx.get(
        f"{stack.url('telemetry')}/api/v1/stations/E2E-0001/devices/state", headers=admin
    )
    assert state.status_code == 200, state.text
    (item,) = state.json()["items"]
    assert item["device_id"] == "E2E-0001-multi"
    assert item["online"] is True
    assert [a["code"] for a in item["alarms"]] == ["E1"]


def _book(
    stack: Stack, point_id: str, slot: dict[str, str], phone: str, key: str
) -> httpx.Response:
    bookings = stack.url("bookings")
    assert httpx.post(f"{bookings}/api/v1/otp", json={"phone": phone}).status_code == 202
    otp = httpx.get(f"{bookings}/api/v1/dev/otp", params={"phone": phone}).json()["code"]
    return httpx.post(
        f"{bookings}/api/v1/bookings",
        json={
            "livestream_point_id": point_id,
            "start": slot["start"],
            "end": slot["end"],
            "phone": phone,
            "name": "李师傅",
            "otp": otp,
        },
        headers={"Idempotency-Key": key},
    )


def test_booking_checkin_over_the_kiosk(stack: Stack, admin: dict[str, str]) -> None:
    stations, bookings = stack.url("stations"), stack.url("bookings")
    for station_id in ("E2E-LIVE", "E2E-OTHER"):
        station = {"id": station_id, "name": {"zh": "直播驿站", "en": "Live"}, "district": "测试区"}
        assert (
            httpx.post(f"{stations}/api/v1/stations", json=station, headers=admin).status_code
            == 201
        )
    kiosks = {}
    for station_id in ("E2E-LIVE", "E2E-OTHER"):
        reply = httpx.post(
            f"{stations}/api/v1/stations/{station_id}/devices",
            json={"id": f"{station_id}-kiosk", "kind": "kiosk"},
            headers=admin,
        )
        kiosks[station_id] = reply.json()["mqtt"]
    point = httpx.post(
        f"{bookings}/api/v1/livestream-points",
        json={"station_id": "E2E-LIVE", "name": "直播点", "slot_minutes": 15},
        headers=admin,
    )
    assert point.status_code == 201, point.text
    point_id = point.json()["id"]
    local_today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    slots = httpx.get(
        f"{bookings}/api/v1/livestream-points/{point_id}/slots",
        params={"date": local_today.isoformat()},
    ).json()["items"]
    free = [s for s in slots if s["available"]]
    assert free, slots
    slot = free[0]

    first = _book(stack, point_id, slot, "13800138000", "key-1")
    assert first.status_code == 201, first.text
    second = _book(stack, point_id, slot, "13900139000", "key-2")
    assert second.status_code == 409, second.text
    retry = _book(stack, point_id, slot, "13800138000", "key-1")
    assert retry.status_code in (200, 201), retry.text
    assert retry.json()["code"] == first.json()["code"]
    code = first.json()["code"]

    # A kiosk scans the code: the answer comes back on its `down` topic.
    for station_id, expected_ok, expected_reason in (
        ("E2E-OTHER", False, "wrong_station"),
        ("E2E-LIVE", True, None),
    ):
        creds = kiosks[station_id]
        topic = f"yz/v1/st/{station_id}/dev/{station_id}-kiosk"
        scan = {
            "v": 1,
            "seq": int(time.time() * 1000),
            "ts": datetime.now(UTC).isoformat(),
            "type": "checkin.scan",
            "code": code,
        }
        answer = _scan_at_kiosk(stack, topic, scan, creds["username"], creds["password"])
        assert answer["type"] == "checkin.result"
        assert answer["code"] == code
        assert answer["ok"] is expected_ok, answer
        assert answer["reason"] == expected_reason, answer
        assert set(answer["message"]) == {"zh", "en"}


def test_console_lists_demo_stations_with_figures(stack: Stack) -> None:
    assert f"{stack.url('console')}/console/" in stack.output.read_text()
    with httpx.Client(base_url=stack.url("console"), follow_redirects=True) as browser:
        page = browser.post(
            "/console/login", data={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert page.status_code == 200
        assert "CQ-NC-0001" in page.text
        assert "金佛山西坡工会驿站" in page.text


def test_stations_old_console_address_redirects_to_the_console(stack: Stack) -> None:
    moved = httpx.get(f"{stack.url('stations')}/console/alarms?lang=en")
    assert moved.status_code == 308
    assert moved.headers["location"] == f"{stack.url('console')}/console/alarms?lang=en"
    # The console has no gRPC port and no database: /readyz is about itself only.
    assert httpx.get(f"{stack.url('console')}/readyz").status_code == 200


def test_every_service_answers_errors_as_problems_with_codes(stack: Stack) -> None:
    for service in ("stations", "telemetry", "bookings", "console"):
        reply = httpx.get(f"{stack.url(service)}/api/v1/no-such-thing")
        assert reply.status_code == 404, service
        assert reply.headers["content-type"] == "application/problem+json", service
        assert reply.json()["code"] == "not_found", service


def test_ctrl_c_leaves_nothing_running(stack: Stack) -> None:
    data_dir = str(stack.data_dir)
    stack.process.send_signal(signal.SIGINT)
    assert stack.process.wait(60) == 0, stack.output.read_text()[-3000:]
    leftovers = []
    for proc in psutil.process_iter(["pid", "cmdline", "environ"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            environ = proc.info["environ"] or {}
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if data_dir in cmdline or environ.get("YZ_DATA_DIR") == data_dir:
            leftovers.append(cmdline)
    assert leftovers == []
    for port in stack.ports.values():
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
