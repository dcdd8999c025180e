"""The console with its peers away: it stays ready (it owns nothing it could lose), names them
as degraded, and answers the calls that need them with 503 rather than an error page."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.support.services import RunningService, run_service
from yizhan.common.auth import Operator, issue_token
from yizhan.common.settings import DEV_JWT_SECRET
from yizhan.devstack.processes import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lonely_console(workdir: Path) -> Iterator[RunningService]:
    """A console whose stations, telemetry and bookings addresses answer nothing."""
    env = {
        f"YZ_{peer}_GRPC": f"127.0.0.1:{free_port()}"
        for peer in ("STATIONS", "TELEMETRY", "BOOKINGS")
    }
    with run_service("console", "", workdir, env=env) as service:
        yield service


def test_ready_with_every_peer_degraded(lonely_console: RunningService) -> None:
    ready = httpx.get(f"{lonely_console.base_url}/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
    assert ready.json()["degraded"] == ["stations", "telemetry", "bookings"]
    metrics = httpx.get(f"{lonely_console.base_url}/metrics", timeout=5).text
    assert 'yz_peer_up{peer="telemetry"} 0.0' in metrics


def test_a_login_without_stations_is_503_with_a_page(lonely_console: RunningService) -> None:
    reply = httpx.post(
        f"{lonely_console.base_url}/console/login",
        data={"username": "admin", "password": "whatever"},
        headers={"Accept-Language": "zh"},
        timeout=15,
    )
    assert reply.status_code == 503
    assert "驿站服务暂不可用" in reply.text


def test_the_console_api_without_stations_is_a_problem_with_a_code(
    lonely_console: RunningService,
) -> None:

    token = issue_token(DEV_JWT_SECRET, Operator("admin", "admin"), timedelta(minutes=5))
    reply = httpx.get(
        f"{lonely_console.base_url}/api/v1/console/overview",
        headers={"Authorization": f"Bearer {token}"},
        timeout=15,
    )
    assert reply.status_code == 503, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["code"] == "stations_unavailable"
