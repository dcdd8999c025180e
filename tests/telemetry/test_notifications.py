"""Alarm notifications (CONTRACT §3): channels scoped like everything else, signed webhook
deliveries to a real HTTP receiver within 10 s, retried with backoff until a 2xx, recorded."""

import asyncio
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.support.operators import create_operator, login
from tests.support.services import RunningService
from tests.telemetry.conftest import Database, Kiosk, Registry, unique, wait_until
from yizhan.telemetry.notifications import targets, webhook

SECRET = "a-webhook-secret-of-some-length"


@dataclass
class Received:
    """One POST as the receiver got it, and when."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A real HTTP server that records POSTs; answers 500 to the first `fail_first` ones."""

    port: int = 0
    fail_first: int = 0
    received: list[Received] = field(default_factory=list)
    refused: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def on(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if state.refused < state.fail_first:
                state.refused += 1
                self.send_response(500)
            else:
                state.received.append(
                    Received(self.path, dict(self.headers.items()), body, time.monotonic())
                )
                self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def test_the_signature_is_hmac_sha256_of_the_body() -> None:
    # RFC 4231-style known vector (key "key", the quick brown fox).
    assert webhook.signature("key", b"The quick brown fox jumps over the lazy dog") == (
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.5/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fd00::1]/hook",
        "ftp://example.com/hook",
        "https:///no-host",
    ],
)
def test_production_refuses_loopback_and_private_targets(url: str) -> None:
    with pytest.raises(targets.TargetRefused):
        targets.check_url(url, allow_private=False)


def test_public_targets_and_allowed_private_ones_pass() -> None:
    assert targets.check_url("https://hooks.example.com/x", allow_private=False) == (
        "hooks.example.com"
    )
    assert targets.check_url("http://127.0.0.1:9/x", allow_private=True) == "127.0.0.1"


def test_a_name_resolving_to_loopback_is_refused_before_sending() -> None:
    # The machine's own name passes the check by name; its address (loopback or the host's
    # private network) does not.
    url = f"http://{socket.gethostname()}:8080/hook"
    assert targets.check_url(url, allow_private=False)
    with pytest.raises(targets.TargetRefused):
        asyncio.run(targets.check_resolved(url, allow_private=False))


@dataclass
class DistrictOperator:
    client: httpx.Client
    district: str


@pytest.fixture(scope="module")
def district_operator(
    stations_db: str, stations: RunningService, telemetry: RunningService
) -> Iterator[DistrictOperator]:
    district = unique("Yubei")
    name, password = unique("ops"), "district-operator-password"
    create_operator(stations_db, name, password, "district", district)
    headers = {"Authorization": f"Bearer {login(stations, name, password)}"}
    with httpx.Client(base_url=telemetry.base_url, headers=headers) as client:
        yield DistrictOperator(client, district)


@pytest.mark.integration
def test_channels_are_scoped_and_checked(
    district_operator: DistrictOperator,
    operator: httpx.Client,
    stations_db: str,
    stations: RunningService,
    telemetry: RunningService,
    receiver: Receiver,
) -> None:
    mine = district_operator.client
    body = {"name": "ops", "kind": "webhook", "url": f"{receiver.url}/x", "secret": SECRET}
    other = mine.post("/api/v1/notification-channels", json={**body, "districts": ["Elsewhere"]})
    assert other.status_code == 403, other.text
    bad = mine.post(
        "/api/v1/notification-channels",
        json={**body, "min_severity": "fatal", "secret": "short", "kind": "fax"},
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"body.min_severity", "body.kind"} <= fields
    # What a kind needs is judged once the kind is known: a webhook signs with its secret.
    weak = mine.post("/api/v1/notification-channels", json={**body, "secret": "short"})
    assert weak.status_code == 422
    assert [e["field"] for e in weak.json()["errors"]] == ["body.secret"]

    created = mine.post("/api/v1/notification-channels", json=body)
    assert created.status_code == 201, created.text
    channel_id = created.json()["id"]
    network = operator.post("/api/v1/notification-channels", json={**body, "name": "network"})
    assert network.status_code == 201, network.text

    # No districts: the creator's whole scope, for a district operator their own district.
    listed = mine.get("/api/v1/notification-channels").json()["items"]
    assert [(c["id"], c["districts"]) for c in listed] == [
        (channel_id, [district_operator.district])
    ]
    assert "secret" not in listed[0]
    admin_sees = {c["id"] for c in operator.get("/api/v1/notification-channels").json()["items"]}
    assert {channel_id, network.json()["id"]} <= admin_sees
    # A channel outside one's scope does not exist for the operator.
    assert mine.delete(f"/api/v1/notification-channels/{network.json()['id']}").status_code == 404
    assert operator.delete(f"/api/v1/notification-channels/{network.json()['id']}").status_code == (
        204
    )

    viewer, password = unique("viewer"), "viewer-operator-password"
    create_operator(stations_db, viewer, password, "viewer", district_operator.district)
    headers = {"Authorization": f"Bearer {login(stations, viewer, password)}"}
    refused = httpx.post(
        f"{telemetry.base_url}/api/v1/notification-channels", json=body, headers=headers
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "read_only"
    assert mine.delete(f"/api/v1/notification-channels/{channel_id}").status_code == 204


@pytest.mark.integration
def test_alarm_deliveries_are_signed_timely_retried_and_recorded(
    district_operator: DistrictOperator,
    registry: Registry,
    kiosk: Kiosk,
    telemetry_database: Database,
    receiver: Receiver,
) -> None:
    mine = district_operator.client
    station = registry.station(unique("ST"), district=district_operator.district)
    device = registry.device(station, unique("water"), "water")
    critical_only = {
        "name": "critical",
        "kind": "webhook",
        "url": f"{receiver.url}/critical",
        "secret": SECRET + "-2",
        "min_severity": "critical",
    }
    assert mine.post("/api/v1/notification-channels", json=critical_only).status_code == 201
    created = mine.post(
        "/api/v1/notification-channels",
        json={"name": "all", "kind": "webhook", "url": f"{receiver.url}/all", "secret": SECRET},
    )
    assert created.status_code == 201, created.text
    channel_id = created.json()["id"]
    # The receiver is down for the first attempt: the delivery is retried with backoff.
    receiver.fail_first = 1

    base = f"yz/v1/st/{station}/dev/{device}/event"
    fault_ts = datetime.now(UTC).isoformat()
    published = time.monotonic()
    kiosk.publish(
        base,
        {"v": 1, "seq": 1, "ts": fault_ts, "type": "fault", "code": "LEAK", "severity": "warning"},
    )
    wait_until(lambda: receiver.on("/all"), timeout=15)
    (opened,) = receiver.on("/all")
    assert opened.at - published < 10.0
    assert receiver.refused == 1
    expected = "sha256=" + hmac.new(SECRET.encode(), opened.body, hashlib.sha256).hexdigest()
    assert opened.headers["X-Yizhan-Signature"] == expected
    payload = json.loads(opened.body)
    assert payload["event"] == "alarm.opened"
    assert payload["station"] == {
        "id": station,
        "name": {"zh": "驿站", "en": "Station"},
        "district": district_operator.district,
    }
    assert payload["device_id"] == device
    assert payload["alarm"]["code"] == "LEAK"
    assert payload["alarm"]["severity"] == "warning"
    assert datetime.fromisoformat(payload["alarm"]["since"]) == datetime.fromisoformat(fault_ts)

    kiosk.publish(base, {"v": 1, "seq": 2, "ts": fault_ts, "type": "fault.clear", "code": "LEAK"})
    wait_until(lambda: len(receiver.on("/all")) == 2, timeout=15)
    assert json.loads(receiver.on("/all")[1].body)["event"] == "alarm.cleared"
    # A warning is below the other channel's minimum severity.
    assert receiver.on("/critical") == []

    deliveries = mine.get(f"/api/v1/notification-channels/{channel_id}/deliveries").json()
    assert [(d["event"], d["status"]) for d in deliveries["items"]] == [
        ("alarm.cleared", "sent"),
        ("alarm.opened", "sent"),
    ]
    assert deliveries["items"][1]["attempts"] == 2

    # The outbox is in the database: an alarm changed by anyone (here straight in SQL, as
    # after a restart nothing in memory knows of it) is still delivered.
    telemetry_database.execute(
        "INSERT INTO alarms (device_id, station_id, code, severity, message, opened_at)"
        " VALUES (%s, %s, 'HOT', 'critical', 'boiler hot', now())",
        (device, station),
    )
    wait_until(lambda: receiver.on("/critical"), timeout=15)
    assert json.loads(receiver.on("/critical")[0].body)["alarm"]["message"] == "boiler hot"
