"""Tokens follow the account (issue 9, hole 4): once an operator's role, districts or
password change, every token issued before is refused, at once by stations (and its
console) and within YZ_ACCOUNT_CACHE_SECONDS (5 s) by telemetry and bookings."""

import time

import httpx

from tests.security.conftest import DISTRICT_A, DISTRICT_B, PASSWORD, Network, unique
from tests.services import RunningService
from tests.stations.conftest import create_operator, login

CACHE_BOUND_SECONDS = 5.0


def _status(service: RunningService, path: str, token: str) -> int:
    reply = httpx.get(
        f"{service.base_url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    return reply.status_code


def test_a_demoted_operators_old_token_is_refused_everywhere(network: Network) -> None:
    username = unique("demoted")
    create_operator(network.stations_db, username, PASSWORD, "district", DISTRICT_A)
    old = login(network.stations, username, PASSWORD)
    console = httpx.Client(base_url=network.stations.base_url, cookies={"yz_console": old})
    checks = [
        (network.stations, "/api/v1/stations"),
        (network.telemetry, "/api/v1/dead-letters"),
        (network.bookings, "/api/v1/stats"),
    ]
    assert all(_status(service, path, old) != 401 for service, path in checks)
    assert console.get("/console/alarms").status_code == 200

    # Demoted: new role, new districts, new password (the CLI an admin uses).
    create_operator(network.stations_db, username, "a-new-password-1", "viewer", DISTRICT_B)
    changed_at = time.monotonic()
    assert _status(network.stations, "/api/v1/stations", old) == 401
    assert console.get("/console/alarms").status_code == 303  # back to the login page
    for service, path in checks[1:]:
        while _status(service, path, old) != 401:
            assert time.monotonic() - changed_at < CACHE_BOUND_SECONDS + 2, service.name
            time.sleep(0.2)
    # A token issued after the change works, with the new role and districts.
    new = login(network.stations, username, "a-new-password-1")
    assert all(_status(service, path, new) != 401 for service, path in checks)
    console.close()
