"""The stations operator API over real HTTP against a real PostgreSQL."""

import httpx
import pytest

from tests.stations.conftest import create_operator, login
from tests.support.services import RunningService

pytestmark = pytest.mark.integration


def _station(station_id: str, district: str = "南岸区") -> dict[str, object]:
    return {
        "id": station_id,
        "name": {"zh": "测试驿站", "en": "Test station"},
        "district": district,
    }


def test_create_read_patch_and_list_stations(admin: httpx.Client) -> None:
    created = admin.post("/api/v1/stations", json=_station("T-API-1"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["timezone"] == "Asia/Shanghai"
    assert body["opening_hours"] is None

    assert admin.post("/api/v1/stations", json=_station("T-API-1")).status_code == 409

    patched = admin.patch(
        "/api/v1/stations/T-API-1", json={"opening_hours": {"mon": [["08:00", "20:00"]]}}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["opening_hours"] == {"mon": [["08:00", "20:00"]]}

    listed = admin.get("/api/v1/stations", params={"q": "T-API"}).json()
    assert [item["id"] for item in listed["items"]] == ["T-API-1"]
    assert set(listed["items"][0]) >= {"id", "name", "district"}


def test_paging_walks_every_station_once(admin: httpx.Client) -> None:
    for n in range(5):
        assert admin.post("/api/v1/stations", json=_station(f"T-PAGE-{n}")).status_code == 201
    seen: list[str] = []
    after = None
    while True:
        params: dict[str, str | int] = {"q": "T-PAGE", "limit": 2}
        if after:
            params["after"] = after
        page = admin.get("/api/v1/stations", params=params).json()
        seen += [item["id"] for item in page["items"]]
        after = page["next"]
        if after is None:
            break
    assert seen == [f"T-PAGE-{n}" for n in range(5)]


def test_field_errors_name_the_field(admin: httpx.Client) -> None:
    reply = admin.post(
        "/api/v1/stations",
        json={"id": "bad id!", "name": {"zh": "", "en": "x"}, "district": "x", "timezone": "Mars"},
    )
    assert reply.status_code == 422
    fields = {error["field"] for error in reply.json()["errors"]}
    assert {"body.id", "body.name.zh", "body.timezone"} <= fields


def test_device_credentials_are_shown_once(admin: httpx.Client) -> None:
    admin.post("/api/v1/stations", json=_station("T-DEV-1"))
    created = admin.post(
        "/api/v1/stations/T-DEV-1/devices", json={"id": "T-DEV-1-water-1", "kind": "water"}
    )
    assert created.status_code == 201, created.text
    mqtt = created.json()["mqtt"]
    assert mqtt["username"] == "T-DEV-1-water-1"
    assert len(mqtt["password"]) >= 24
    listed = admin.get("/api/v1/stations/T-DEV-1/devices").json()["items"]
    assert [d["id"] for d in listed] == ["T-DEV-1-water-1"]
    assert "password" not in str(listed)
    bad_kind = admin.post("/api/v1/stations/T-DEV-1/devices", json={"id": "x", "kind": "toaster"})
    assert bad_kind.status_code == 422


def test_every_route_needs_a_token(stations: RunningService) -> None:
    for method, path in [
        ("GET", "/api/v1/stations"),
        ("POST", "/api/v1/stations"),
        ("GET", "/api/v1/stations/T-API-1"),
        ("PATCH", "/api/v1/stations/T-API-1"),
        ("GET", "/api/v1/stations/T-API-1/devices"),
        ("POST", "/api/v1/stations/T-API-1/devices"),
    ]:
        reply = httpx.request(method, f"{stations.base_url}{path}", json={})
        assert reply.status_code == 401, (method, path)
    forged = httpx.get(
        f"{stations.base_url}/api/v1/stations", headers={"Authorization": "Bearer forged"}
    )
    assert forged.status_code == 401


def test_wrong_password_is_refused(stations: RunningService) -> None:
    reply = httpx.post(
        f"{stations.base_url}/api/v1/auth/token", data={"username": "admin", "password": "nope"}
    )
    assert reply.status_code == 401


def test_district_operator_sees_only_their_district(
    admin: httpx.Client, stations: RunningService, stations_db: str
) -> None:
    admin.post("/api/v1/stations", json=_station("T-SCOPE-NA", "南岸区"))
    admin.post("/api/v1/stations", json=_station("T-SCOPE-YZ", "渝中区"))
    create_operator(stations_db, "nanan", "nanan-password", "district", "南岸区")
    token = login(stations, "nanan", "nanan-password")
    with httpx.Client(
        base_url=stations.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as nanan:
        ids = {
            s["id"] for s in nanan.get("/api/v1/stations", params={"q": "T-SCOPE"}).json()["items"]
        }
        assert ids == {"T-SCOPE-NA"}
        assert nanan.get("/api/v1/stations/T-SCOPE-YZ").status_code == 404
        assert nanan.get("/api/v1/stations/T-SCOPE-NA").status_code == 200
        assert nanan.post("/api/v1/stations", json=_station("T-X", "渝中区")).status_code == 403
        other = nanan.post("/api/v1/stations/T-SCOPE-YZ/devices", json={"id": "d", "kind": "other"})
        assert other.status_code == 404


def test_viewer_cannot_change_anything(
    admin: httpx.Client, stations: RunningService, stations_db: str
) -> None:
    admin.post("/api/v1/stations", json=_station("T-VIEW-1"))
    create_operator(stations_db, "viewer", "viewer-password", "viewer")
    token = login(stations, "viewer", "viewer-password")
    headers = {"Authorization": f"Bearer {token}"}
    base = stations.base_url
    assert httpx.get(f"{base}/api/v1/stations/T-VIEW-1", headers=headers).status_code == 200
    assert (
        httpx.post(f"{base}/api/v1/stations", json=_station("T-V2"), headers=headers).status_code
        == 403
    )
    patch = httpx.patch(f"{base}/api/v1/stations/T-VIEW-1", json={"contact": "x"}, headers=headers)
    assert patch.status_code == 403


def test_health_endpoints(stations: RunningService) -> None:
    assert httpx.get(f"{stations.base_url}/healthz").status_code == 200
    metrics = httpx.get(f"{stations.base_url}/metrics")
    assert "yz_http_requests_total" in metrics.text
    ready = httpx.get(f"{stations.base_url}/readyz")
    # No other service runs beside this one, and stations needs none: it is ready.
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok"}
