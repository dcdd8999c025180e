"""Operator accounts changed through the operators API reach every service on the very next
request (CONTRACT §3, issue 14), with the default settings (YZ_ACCOUNT_CACHE_SECONDS=0):
a disabled operator's old token is refused (401) by stations, telemetry and bookings and its
console session goes back to the login page; a new role is the scope of the next call."""

from typing import Any

import httpx

from tests.security.conftest import DISTRICT_A, Network, unique
from tests.support.operators import login

PASSWORD = "amber-kettle-harbour-9"


def _create(network: Network, role: str, districts: list[str]) -> tuple[str, str]:
    username = unique(role)
    network.admin_post(
        "/api/v1/operators",
        {"username": username, "password": PASSWORD, "role": role, "districts": districts},
    )
    return username, login(network.stations, username, PASSWORD)


def _change(network: Network, username: str, change: dict[str, Any]) -> None:
    with network.client(network.stations, "admin") as admin:
        reply = admin.patch(f"/api/v1/operators/{username}", json=change)
    assert reply.status_code == 200, reply.text


def _status(network: Network, service: str, method: str, path: str, token: str, **kw: Any) -> int:
    base = getattr(network, service).base_url
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.request(method, f"{base}{path}", headers=headers, timeout=10, **kw).status_code


def test_a_disabled_operator_is_refused_on_the_next_request_everywhere(
    network: Network,
) -> None:
    username, token = _create(network, "district", [DISTRICT_A])
    reads = {
        "stations": "/api/v1/stations",
        "telemetry": "/api/v1/dead-letters",
        "bookings": "/api/v1/stats?from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z",
    }
    assert {s: _status(network, s, "GET", p, token) for s, p in reads.items()} == dict.fromkeys(
        reads, 200
    )
    console = httpx.Client(base_url=network.console.base_url, cookies={"yz_console": token})
    assert console.get("/console/alarms").status_code == 200

    _change(network, username, {"disabled": True})
    # No waiting: the very next call of each service.
    assert {s: _status(network, s, "GET", p, token) for s, p in reads.items()} == dict.fromkeys(
        reads, 401
    )
    refused = console.get("/console/alarms")
    assert (refused.status_code, refused.headers["location"]) == (303, "/console/login")
    console.close()


def test_a_new_role_is_the_scope_of_the_next_call(network: Network) -> None:
    station = network.admin_post(
        "/api/v1/stations",
        {
            "id": unique("OPS"),
            "name": {"zh": "角色驿站", "en": "Role station"},
            "district": DISTRICT_A,
        },
    )["id"]
    username, token = _create(network, "viewer", [])
    channel = {
        "name": "role-test",
        "kind": "webhook",
        # Never called: the channel is deleted at the end (a public name: no DNS at creation).
        "url": "https://hooks.example.org/yizhan",
        "secret": "a-secret-of-sixteen-plus",
        "districts": [DISTRICT_A],
    }

    def writes() -> dict[str, int]:
        point = {"station_id": station, "name": "直播点"}
        return {
            "stations": _status(
                network,
                "stations",
                "PATCH",
                f"/api/v1/stations/{station}",
                token,
                json={"contact": "x"},
            ),
            "telemetry": _status(
                network, "telemetry", "POST", "/api/v1/notification-channels", token, json=channel
            ),
            "bookings": _status(
                network, "bookings", "POST", "/api/v1/livestream-points", token, json=point
            ),
        }

    assert writes() == dict.fromkeys(["stations", "telemetry", "bookings"], 403)
    _change(network, username, {"role": "district", "districts": [DISTRICT_A]})
    assert writes() == {"stations": 200, "telemetry": 201, "bookings": 201}
    _change(network, username, {"role": "viewer", "districts": []})
    assert writes() == dict.fromkeys(["stations", "telemetry", "bookings"], 403)
    with network.client(network.telemetry, "admin") as admin:
        for made in admin.get("/api/v1/notification-channels").json()["items"]:
            if made["name"] == "role-test":
                admin.delete(f"/api/v1/notification-channels/{made['id']}").raise_for_status()
