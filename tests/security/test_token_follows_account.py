"""Tokens follow the account (issue 9, hole 4; CONTRACT §3): after a change of role or
districts an older token acts with the new ones; after a password change (or once the
account is gone) it is refused. At once on stations; on telemetry, bookings and the console
within YZ_ACCOUNT_CACHE_SECONDS (0 by default: at once, see test_operator_accounts.py; this
test allows the bound a deployment may set, 5 s)."""

import time
from collections.abc import Callable

import httpx

from tests.security.conftest import DISTRICT_A, DISTRICT_B, PASSWORD, Network, unique
from tests.services import RunningService
from tests.stations.conftest import create_operator, login

CACHE_BOUND_SECONDS = 5.0


def _get(service: RunningService, path: str, token: str) -> int:
    reply = httpx.get(
        f"{service.base_url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    return reply.status_code


def _within_bound(condition: Callable[[], bool], since: float) -> None:
    while not condition():
        assert time.monotonic() - since < CACHE_BOUND_SECONDS + 2
        time.sleep(0.2)


def test_a_demoted_operators_old_token_follows_the_account(network: Network) -> None:
    username = unique("demoted")
    create_operator(network.stations_db, username, PASSWORD, "district", DISTRICT_A)
    old = login(network.stations, username, PASSWORD)
    auth = {"Authorization": f"Bearer {old}"}
    point = {"station_id": "nowhere", "name": "直播点", "slot_minutes": 30}

    def new_point_status() -> int:
        reply = httpx.post(
            f"{network.bookings.base_url}/api/v1/livestream-points",
            json=point,
            headers=auth,
            timeout=10,
        )
        return reply.status_code

    def station_write_status() -> int:
        reply = httpx.patch(
            f"{network.stations.base_url}/api/v1/stations/nowhere",
            json={"contact": "x"},
            headers=auth,
            timeout=10,
        )
        return reply.status_code

    assert station_write_status() == 404  # a writer: only the station is unknown
    assert new_point_status() != 403

    # Demoted to a viewer of another district, same password: the old token reads, as a
    # viewer, and writes nothing any more.
    create_operator(network.stations_db, username, PASSWORD, "viewer", DISTRICT_B)
    demoted_at = time.monotonic()
    assert station_write_status() == 403
    assert _get(network.stations, "/api/v1/stations", old) == 200
    _within_bound(lambda: new_point_status() == 403, demoted_at)

    # A new password ends the old token everywhere (the console's cookie too).
    console = httpx.Client(base_url=network.console.base_url, cookies={"yz_console": old})
    assert console.get("/console/alarms").status_code == 200
    create_operator(network.stations_db, username, "a-new-password-1", "viewer", DISTRICT_B)
    changed_at = time.monotonic()
    assert _get(network.stations, "/api/v1/stations", old) == 401
    # The console asks stations too (cached within the same bound): back to the login page.
    _within_bound(lambda: console.get("/console/alarms").status_code == 303, changed_at)
    console.close()
    _within_bound(lambda: _get(network.telemetry, "/api/v1/dead-letters", old) == 401, changed_at)
    _within_bound(lambda: _get(network.bookings, "/api/v1/stats", old) == 401, changed_at)
    # A token of the new password works.
    new = login(network.stations, username, "a-new-password-1")
    assert _get(network.telemetry, "/api/v1/dead-letters", new) != 401
