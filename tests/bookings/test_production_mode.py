"""A bookings service configured as in production: SMS through a webhook (a real local HTTP
server here), no development endpoints, and no stations peer to talk to."""

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.bookings.conftest import new_phone
from tests.support.services import RunningService, run_service
from yizhan.common.db import libpq_dsn
from yizhan.devstack.processes import free_port

pytestmark = pytest.mark.integration


@dataclass
class Gateway:
    """A stand-in SMS gateway: records what it is sent, answers with `status`."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    status: int = 200


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    port = free_port()
    state = Gateway(url=f"http://127.0.0.1:{port}/sms")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            state.received.append(json.loads(self.rfile.read(length)))
            state.headers.append(self.headers.get("Authorization", ""))
            self.send_response(state.status)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()


@pytest.fixture(scope="module")
def lonely_db(new_database: Callable[[str], str]) -> str:
    return new_database("bk_prod")


@pytest.fixture(scope="module")
def lonely(lonely_db: str, workdir: Path, gateway: Gateway) -> Iterator[RunningService]:
    env = {
        "YZ_ENV": "prod",
        "YZ_JWT_SECRET": "a-production-like-secret-for-this-test-only",
        "YZ_SERVICE_TOKEN": "a-production-like-service-token",
        "YZ_BOOKINGS_SMS_SENDER": "webhook",
        "YZ_BOOKINGS_SMS_WEBHOOK_URL": gateway.url,
        "YZ_BOOKINGS_SMS_WEBHOOK_TOKEN": "gateway-token",
        # Nothing listens here: stations is "down".
        "YZ_STATIONS_GRPC": f"127.0.0.1:{free_port()}",
    }
    with run_service("bookings", lonely_db, workdir, env=env) as service:
        yield service


def test_codes_go_to_the_webhook_and_dev_endpoint_is_absent(
    lonely: RunningService, gateway: Gateway
) -> None:
    phone = new_phone()
    assert httpx.post(f"{lonely.base_url}/api/v1/otp", json={"phone": phone}).status_code == 202
    message = gateway.received[-1]
    assert message["phone"] == phone
    assert re.search(r"(?<!\d)\d{6}(?!\d)", message["text"])
    assert gateway.headers[-1] == "Bearer gateway-token"
    dev = httpx.get(f"{lonely.base_url}/api/v1/dev/otp", params={"phone": phone})
    assert dev.status_code == 404
    assert phone not in lonely.log_text()


def test_gateway_failure_is_503_and_not_counted(lonely: RunningService, gateway: Gateway) -> None:
    phone = new_phone()
    gateway.status = 500
    try:
        failed = httpx.post(f"{lonely.base_url}/api/v1/otp", json={"phone": phone})
    finally:
        gateway.status = 200
    assert failed.status_code == 503, failed.text
    assert failed.json()["code"] == "sms_failed"
    # The code that never left does not hold back the next request.
    assert httpx.post(f"{lonely.base_url}/api/v1/otp", json={"phone": phone}).status_code == 202


def test_stations_down_is_degraded_in_readiness_and_503_where_needed(
    lonely: RunningService, lonely_db: str
) -> None:
    ready = httpx.get(f"{lonely.base_url}/readyz")
    # Bookings can still serve what does not need stations: ready, with stations degraded.
    assert ready.status_code == 200, ready.text
    # (No telemetry runs beside these tests: the station finder's peer is degraded too.)
    assert ready.json()["degraded"] == ["stations", "telemetry"]
    assert 'yz_peer_up{peer="stations"} 0.0' in httpx.get(f"{lonely.base_url}/metrics").text
    assert httpx.get(f"{lonely.base_url}/healthz").status_code == 200

    # A point made while stations was up; its slots need the station's opening hours.
    with psycopg.connect(libpq_dsn(lonely_db), autocommit=True) as conn:
        (point_id,) = conn.execute(
            "INSERT INTO livestream_points (station_id, name) VALUES ('S-DOWN', 'p') RETURNING id"
        ).fetchone() or (0,)
    slots = httpx.get(
        f"{lonely.base_url}/api/v1/livestream-points/{point_id}/slots",
        params={"date": "2026-11-23"},
    )
    assert slots.status_code == 503
    assert slots.json()["code"] == "stations_unavailable"
    page = httpx.get(f"{lonely.base_url}/")
    assert page.status_code == 503
    assert "系统暂时忙" in page.text
