"""Request ids (W3C traceparent): one trace id from the HTTP request that enters the console,
over its gRPC call to stations, into stations' JSON log lines."""

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.services import RunningService, run_service
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def stations(new_database: Callable[[str], str], workdir: Path) -> Iterator[RunningService]:
    """A stations service of its own (its log is read)."""
    with run_service("stations", new_database("trace_stations"), workdir) as service:
        yield service


@pytest.fixture(scope="module")
def console(stations: RunningService, workdir: Path) -> Iterator[RunningService]:
    """The console, reading that stations."""
    env = {"YZ_STATIONS_GRPC": stations.grpc_address}
    with run_service("console", "", workdir, env=env) as service:
        yield service


def _logged(service: RunningService) -> list[dict[str, object]]:
    lines = service.log_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_the_callers_trace_crosses_grpc_into_the_peers_logs(
    console: RunningService, stations: RunningService
) -> None:
    reply = httpx.post(
        f"{console.base_url}/console/login",
        data={"username": "nobody-here", "password": "wrong"},
        headers={"traceparent": CALLER},
    )
    assert reply.status_code == 401
    # Our span of the caller's trace: same trace id, a span id of our own.
    version, trace_id, span_id, _ = reply.headers["traceparent"].split("-")
    assert (version, trace_id) == ("00", TRACE_ID)
    assert span_id != "00f067aa0ba902b7"

    def refused() -> list[dict[str, object]]:
        return [e for e in _logged(stations) if e.get("msg") == "login refused"]

    (entry,) = wait_until(refused)
    assert entry["trace_id"] == TRACE_ID
    assert entry["username"] == "nobody-here"


def test_a_request_without_a_valid_trace_starts_one(console: RunningService) -> None:
    for sent in (
        {},
        {"traceparent": "00-nonsense"},
        {"traceparent": f"00-{'0' * 32}-{'1' * 16}-01"},
    ):
        reply = httpx.get(f"{console.base_url}/healthz", headers=sent)
        _, trace_id, span_id, _ = reply.headers["traceparent"].split("-")
        assert len(trace_id) == 32
        assert trace_id != "0" * 32
        assert len(span_id) == 16
