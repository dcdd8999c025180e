"""Property-based run of the whole stations operator API (schemathesis strategies from its
published OpenAPI, driven by Hypothesis): whatever an admin sends, valid or not, the answer
is never a server error.

Schemathesis' own pytest integration (`from_fixture`) does not work with our pytest, so
each operation gets a plain Hypothesis run here instead."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from hypothesis.strategies import SearchStrategy
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from tests.stations.conftest import ADMIN_PASSWORD, login
from tests.support.services import RunningService

pytestmark = pytest.mark.integration
# Per operation and mode; about a dozen operations, so some hundreds of requests in all:
# enough to meet NUL bytes, nulls, huge numbers and odd dates, small enough for `make test`.
EXAMPLES_PER_OPERATION = 15
KNOWN = {"station_id": "FUZZ-1", "device_id": "FUZZ-1-kiosk"}


@pytest.fixture(scope="module")
def admin_headers(stations: RunningService, admin: httpx.Client) -> dict[str, str]:
    """An admin's token, so that requests reach past authentication, and a station with a
    device for half of the generated requests to hit (random ids would only find 404s)."""
    admin.post(
        "/api/v1/stations",
        json={"id": KNOWN["station_id"], "name": {"zh": "模糊", "en": "Fuzz"}, "district": "x"},
    )
    admin.post(
        f"/api/v1/stations/{KNOWN['station_id']}/devices",
        json={"id": KNOWN["device_id"], "kind": "kiosk"},
    )
    return {"Authorization": f"Bearer {login(stations, 'admin', ADMIN_PASSWORD)}"}


def _server_error(status: int, headers: Any) -> bool:
    """5xx, except a 503 problem: stations runs here without telemetry, and routes that
    need it must say so with a 503, never fail with a 500."""
    content_type = headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    return status >= 500 and not (status == 503 and "problem+json" in content_type)


def _runner(
    strategy: SearchStrategy[Any], headers: dict[str, str], http: requests.Session
) -> Callable[[], None]:
    @given(case=strategy, known=st.booleans())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case[Any], known: bool) -> None:
        if known and case.path_parameters:
            case.path_parameters = {
                name: KNOWN.get(name, value) for name, value in case.path_parameters.items()
            }
        response = case.call(session=http, headers=headers, timeout=10)
        assert not _server_error(response.status_code, response.headers), (
            f"{response.status_code} for {case.as_curl_command()}:\n{response.text[:500]}"
        )

    runner: Callable[[], None] = run
    return runner


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_makes_a_server_error(
    stations: RunningService, admin_headers: dict[str, str], mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(f"{stations.base_url}/openapi.json")
    failures: list[str] = []
    operations = 0
    # One connection pool, closed at the end: the service must not wait for idle sockets.
    with requests.Session() as http:
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result
            operation = result.ok()
            operations += 1
            strategy = operation.as_strategy(generation_mode=mode)
            try:
                _runner(strategy, admin_headers, http)()
            except Unsatisfiable:
                continue  # nothing to make invalid (an operation without parameters)
            except Exception as exc:  # every operation is tried, then all are reported
                failures.append(f"{operation.label}: {exc}"[:3000])
    assert operations >= 10
    assert failures == [], "\n\n".join(failures)
