"""Every operator route of every service, found by walking its OpenAPI document: 401 without
a valid token, 403 for a viewer on anything that changes data, and a district operator kept
out (403/404) of another district's stations, devices, usage and bookings."""

import re
from typing import Any

import httpx
import pytest

from tests.security.conftest import DISTRICT_A, DISTRICT_B, Network, unique
from tests.support.services import RunningService

pytestmark = pytest.mark.integration

# The public part of the operator-facing prefix: the worker booking API of CONTRACT §4 and
# the login itself. Anything else under /api/v1 is an operator route and needs a token.
# Adding a public route means adding it here, on purpose, with its reason.
PUBLIC_ROUTES = {
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/otp"),
    ("GET", "/api/v1/dev/otp"),
    ("GET", "/api/v1/livestream-points"),
    ("GET", "/api/v1/livestream-points/{}/slots"),
    ("GET", "/api/v1/forum-sessions"),
    ("POST", "/api/v1/bookings"),
    ("GET", "/api/v1/bookings/{}"),
    ("DELETE", "/api/v1/bookings/{}"),
    # The worker records a slot's outcome with the booking's manage token (CONTRACT §4);
    # operators use the same path with their token (tests/bookings/test_outcomes.py).
    ("PUT", "/api/v1/bookings/{}/outcome"),
    # The public station API for other apps (CONTRACT §5).
    ("GET", "/api/v1/public/stations"),
    # The SMS a phone received, with YZ_ENV=dev only (CONTRACT §4), like /dev/otp.
    ("GET", "/api/v1/dev/sms"),
}
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
_PARAM = re.compile(r"\{[^}]*\}")


def operator_routes(service: RunningService) -> list[tuple[str, str]]:
    """(method, path template) of every operator route in the service's OpenAPI."""
    document = httpx.get(f"{service.base_url}/openapi.json").json()
    routes = []
    for path, operations in document["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method in operations:
            if method.upper() not in {"GET", *MUTATING}:
                continue
            if (method.upper(), _PARAM.sub("{}", path)) not in PUBLIC_ROUTES:
                routes.append((method.upper(), path))
    return routes


def _fill(path: str, value: str) -> str:
    return _PARAM.sub(value, path)


@pytest.fixture(scope="module")
def all_routes(network: Network) -> list[tuple[RunningService, str, str]]:
    """Every operator route of the three services."""
    return [
        (service, method, path)
        for service in (network.stations, network.telemetry, network.bookings)
        for method, path in operator_routes(service)
    ]


def test_the_walk_finds_the_contract_routes(all_routes: list[Any]) -> None:
    seen = {(service.name, method, path) for service, method, path in all_routes}
    assert ("stations", "POST", "/api/v1/stations") in seen
    assert ("stations", "PATCH", "/api/v1/stations/{station_id}") in seen
    assert ("telemetry", "GET", "/api/v1/usage") in seen
    assert ("telemetry", "GET", "/api/v1/stations/{station_id}/devices/state") in seen
    assert ("bookings", "GET", "/api/v1/bookings") in seen
    assert ("stations", "POST", "/api/v1/operators") in seen
    assert ("stations", "PATCH", "/api/v1/operators/{username}") in seen


def test_every_operator_route_answers_401_without_a_valid_token(
    all_routes: list[tuple[RunningService, str, str]],
) -> None:
    failures = []
    for service, method, path in all_routes:
        url = f"{service.base_url}{_fill(path, 'SEC-X')}"
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            reply = httpx.request(method, url, headers=headers)
            if reply.status_code != 401:
                failures.append((service.name, method, path, headers, reply.status_code))
    assert failures == [], "\n".join(map(str, failures))


def test_a_viewer_cannot_change_anything(
    network: Network, all_routes: list[tuple[RunningService, str, str]]
) -> None:
    station_id = unique("SEC-V")
    network.admin_post(
        "/api/v1/stations",
        {"id": station_id, "name": {"zh": "驿站", "en": "Viewer"}, "district": DISTRICT_A},
    )
    mutating = [(s, m, p) for s, m, p in all_routes if m in MUTATING]
    assert len(mutating) >= 4
    failures = []
    for service, method, path in mutating:
        with network.client(service, "viewer") as viewer:
            reply = viewer.request(method, _fill(path, station_id), json={})
        if reply.status_code != 403:
            failures.append((service.name, method, path, reply.status_code))
    assert failures == [], "\n".join(map(str, failures))
    with network.client(network.stations, "admin") as admin:
        assert admin.get("/api/v1/audit", params={"station_id": station_id}).json()["items"]
        # Nothing the viewer tried left a trace beyond the station's creation.
        actions = [
            e["action"] for e in admin.get(f"/api/v1/audit?station_id={station_id}").json()["items"]
        ]
    assert actions == ["station.create"]


@pytest.fixture(scope="module")
def other_district(network: Network) -> dict[str, Any]:
    """A station of DISTRICT_B with a device and a livestream point, made by the admin."""
    station_id = unique("SEC-B")
    network.admin_post(
        "/api/v1/stations",
        {"id": station_id, "name": {"zh": "别区驿站", "en": "Elsewhere"}, "district": DISTRICT_B},
    )
    device = network.admin_post(
        f"/api/v1/stations/{station_id}/devices", {"id": unique("dev-b"), "kind": "water"}
    )
    with network.client(network.bookings, "admin") as admin:
        point = admin.post(
            "/api/v1/livestream-points",
            json={"station_id": station_id, "name": "直播点", "slot_minutes": 30},
        )
    assert point.status_code == 201, point.text
    return {"station": station_id, "device": device["id"], "point": point.json()["id"]}


def test_a_district_operator_is_kept_out_of_other_districts(
    network: Network, other_district: dict[str, Any]
) -> None:
    station, device = other_district["station"], other_district["device"]
    day = {"from": "2026-11-22T00:00:00+08:00", "to": "2026-11-23T00:00:00+08:00"}
    refused = {403, 404}
    with network.client(network.stations, "district") as stations:
        listed = stations.get("/api/v1/stations", params={"district": DISTRICT_B}).json()
        assert listed["items"] == []
        assert stations.get(f"/api/v1/stations/{station}").status_code in refused
        assert (
            stations.patch(f"/api/v1/stations/{station}", json={"contact": "x"}).status_code
            in refused
        )
        assert stations.get(f"/api/v1/stations/{station}/devices").status_code in refused
        device_path = f"/api/v1/stations/{station}/devices/{device}"
        assert stations.get(device_path).status_code in refused
        assert stations.post(f"{device_path}/rotate").status_code in refused
        assert stations.post(f"{device_path}/revoke").status_code in refused
        new_device = {"id": unique("intruder"), "kind": "other"}
        assert (
            stations.post(f"/api/v1/stations/{station}/devices", json=new_device).status_code
            in refused
        )
        moved = {"id": unique("SEC-M"), "name": {"zh": "x", "en": "x"}, "district": DISTRICT_B}
        assert stations.post("/api/v1/stations", json=moved).status_code in refused
        assert stations.get("/api/v1/audit", params={"station_id": station}).status_code in refused
        audit = stations.get("/api/v1/audit").json()["items"]
        assert all(entry["station_id"] != station for entry in audit)
    with network.client(network.telemetry, "district") as telemetry:
        for scope in (f"station:{station}", f"district:{DISTRICT_B}", "network"):
            usage = telemetry.get("/api/v1/usage", params={"scope": scope, **day})
            assert usage.status_code in refused, (scope, usage.status_code)
        state = telemetry.get(f"/api/v1/stations/{station}/devices/state")
        assert state.status_code in refused
        letters = telemetry.get("/api/v1/dead-letters", params={"station_id": station})
        assert letters.status_code in refused
    with network.client(network.bookings, "district") as bookings:
        listed_bookings = bookings.get("/api/v1/bookings", params={"station_id": station})
        assert listed_bookings.status_code in refused
        point = {"station_id": station, "name": "x", "slot_minutes": 30}
        assert bookings.post("/api/v1/livestream-points", json=point).status_code in refused
    # The devices stayed as they were.
    with network.client(network.stations, "admin") as admin:
        kept = admin.get(f"/api/v1/stations/{station}/devices/{device}").json()
    assert kept["status"] == "active"
    assert kept["broker"] == "synced"


def test_a_district_operator_works_in_their_own_district(network: Network) -> None:
    station_id = unique("SEC-A")
    body = {"id": station_id, "name": {"zh": "本区驿站", "en": "Home"}, "district": DISTRICT_A}
    day = {"from": "2026-11-22T00:00:00+08:00", "to": "2026-11-23T00:00:00+08:00"}
    with network.client(network.stations, "district") as stations:
        assert stations.post("/api/v1/stations", json=body).status_code == 201
        assert stations.get(f"/api/v1/stations/{station_id}").status_code == 200
    with network.client(network.telemetry, "district") as telemetry:
        usage = telemetry.get("/api/v1/usage", params={"scope": f"district:{DISTRICT_A}", **day})
        assert usage.status_code == 200, usage.text
    with network.client(network.bookings, "district") as bookings:
        assert (
            bookings.get("/api/v1/bookings", params={"station_id": station_id}).status_code == 200
        )
