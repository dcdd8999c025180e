"""Registry details over real HTTP: opening-hour exceptions, filters, field errors, the
device lifecycle without a managed broker, and the audit log."""

import httpx
import pytest

from tests.stations.conftest import create_operator, login
from tests.support.services import RunningService

pytestmark = pytest.mark.integration


def _station(station_id: str, district: str = "南岸区", **extra: object) -> dict[str, object]:
    return {
        "id": station_id,
        "name": {"zh": "登记驿站", "en": "Registry station"},
        "district": district,
        **extra,
    }


def test_opening_exceptions_are_kept_and_validated(admin: httpx.Client) -> None:
    holiday = {"start": "2026-10-01", "end": "2026-10-07", "hours": [], "note": "国庆"}
    short_day = {"start": "2026-12-31", "hours": [["09:00", "12:00"]]}
    body = _station("T-EXC-1", opening_exceptions=[holiday, short_day])
    created = admin.post("/api/v1/stations", json=body)
    assert created.status_code == 201, created.text
    kept = created.json()["opening_exceptions"]
    assert kept[0] == {**holiday, "hours": []}
    assert kept[1]["end"] == "2026-12-31"

    overlapping = [holiday, {"start": "2026-10-07", "hours": []}]
    reply = admin.patch("/api/v1/stations/T-EXC-1", json={"opening_exceptions": overlapping})
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["field"] == "body.opening_exceptions"
    backwards = [{"start": "2026-10-07", "end": "2026-10-01"}]
    assert (
        admin.patch("/api/v1/stations/T-EXC-1", json={"opening_exceptions": backwards}).status_code
        == 422
    )
    cleared = admin.patch("/api/v1/stations/T-EXC-1", json={"opening_exceptions": []})
    assert cleared.json()["opening_exceptions"] == []


def test_list_filters_by_amenity_status_and_text_in_both_languages(admin: httpx.Client) -> None:
    admin.post(
        "/api/v1/stations",
        json={
            **_station("T-FLT-1", amenities=["water", "charging"]),
            "name": {"zh": "茶园驿站", "en": "Tea Garden"},
        },
    )
    admin.post(
        "/api/v1/stations",
        json={**_station("T-FLT-2", amenities=["water"], status="suspended")},
    )

    def ids(**params: str | list[str]) -> list[str]:
        reply = admin.get("/api/v1/stations", params={"q": "T-FLT", **params})
        assert reply.status_code == 200, reply.text
        return [item["id"] for item in reply.json()["items"]]

    assert ids(amenity="water") == ["T-FLT-1", "T-FLT-2"]
    assert ids(amenity=["water", "charging"]) == ["T-FLT-1"]
    assert ids(status="suspended") == ["T-FLT-2"]
    by_name = admin.get("/api/v1/stations", params={"q": "茶园"}).json()["items"]
    assert [s["id"] for s in by_name] == ["T-FLT-1"]
    by_english = admin.get("/api/v1/stations", params={"q": "tea gar"}).json()["items"]
    assert [s["id"] for s in by_english] == ["T-FLT-1"]
    # A wildcard typed by a user is searched for, not expanded.
    assert admin.get("/api/v1/stations", params={"q": "T-FLT%"}).json()["items"] == []


def test_field_errors_for_nulls_and_unstorable_text(admin: httpx.Client) -> None:
    admin.post("/api/v1/stations", json=_station("T-NUL-1"))
    for change in ({"district": None}, {"timezone": None}, {"name": None}):
        reply = admin.patch("/api/v1/stations/T-NUL-1", json=change)
        assert reply.status_code == 422, (change, reply.text)
    nul = admin.patch("/api/v1/stations/T-NUL-1", json={"address": "a\x00b"})
    assert nul.status_code == 422
    assert nul.json()["errors"][0]["field"] == "body.address"
    assert admin.patch("/api/v1/stations/T-NUL-1", json={"latitude": None}).status_code == 200
    assert admin.get("/api/v1/stations/bad%20id").status_code == 422


def test_device_lifecycle_without_a_managed_broker(admin: httpx.Client) -> None:
    admin.post("/api/v1/stations", json=_station("T-LIFE-1"))
    base = "/api/v1/stations/T-LIFE-1/devices"
    made = admin.post(
        base,
        json={
            "id": "T-LIFE-1-c",
            "kind": "charger",
            "model": "EV-2",
            "installed_at": "2026-05-01T09:00:00+08:00",
        },
    )
    assert made.status_code == 201, made.text
    assert made.json()["broker"] == "unmanaged"
    assert made.json()["installed_at"].startswith("2026-05-01T01:00:00")
    patched = admin.patch(f"{base}/T-LIFE-1-c", json={"firmware": "2.0.1"})
    assert patched.json()["firmware"] == "2.0.1"
    assert admin.patch(f"{base}/T-LIFE-1-c", json={"kind": None}).status_code == 422

    rotated = admin.post(f"{base}/T-LIFE-1-c/rotate")
    assert rotated.status_code == 200
    assert rotated.json()["mqtt"]["password"] != made.json()["mqtt"]["password"]
    revoked = admin.post(f"{base}/T-LIFE-1-c/revoke")
    assert (revoked.json()["status"], revoked.json()["revoked_at"] is not None) == ("revoked", True)
    assert admin.post(f"{base}/T-LIFE-1-c/revoke").status_code == 200
    assert admin.post(f"{base}/T-LIFE-1-c/rotate").status_code == 409
    # Another station's path does not reach the device.
    admin.post("/api/v1/stations", json=_station("T-LIFE-2"))
    assert admin.get("/api/v1/stations/T-LIFE-2/devices/T-LIFE-1-c").status_code == 404


def test_every_change_is_audited_with_before_and_after(
    admin: httpx.Client, stations: RunningService, stations_db: str
) -> None:
    admin.post("/api/v1/stations", json=_station("T-AUD-1", contact="old"))
    admin.patch("/api/v1/stations/T-AUD-1", json={"contact": "new"})
    admin.post("/api/v1/stations/T-AUD-1/devices", json={"id": "T-AUD-1-w", "kind": "water"})
    admin.post("/api/v1/stations/T-AUD-1/devices/T-AUD-1-w/rotate")
    admin.post("/api/v1/stations/T-AUD-1/devices/T-AUD-1-w/revoke")
    admin.post("/api/v1/stations", json=_station("T-AUD-2", district="渝中区"))

    entries = admin.get("/api/v1/audit", params={"station_id": "T-AUD-1"}).json()["items"]
    assert [e["action"] for e in entries] == [
        "device.revoke",
        "device.rotate",
        "device.provision",
        "station.update",
        "station.create",
    ]
    update = entries[3]
    assert (update["actor"], update["before"]["contact"], update["after"]["contact"]) == (
        "admin",
        "old",
        "new",
    )
    assert "password" not in str(entries)
    assert entries[0]["after"]["status"] == "revoked"

    create_operator(stations_db, "auditor", "auditor-password", "district", "南岸区")
    token = login(stations, "auditor", "auditor-password")
    headers = {"Authorization": f"Bearer {token}"}
    own = httpx.get(
        f"{stations.base_url}/api/v1/audit", params={"station_id": "T-AUD-1"}, headers=headers
    )
    assert len(own.json()["items"]) == len(entries)
    newest = httpx.get(f"{stations.base_url}/api/v1/audit?limit=200", headers=headers).json()
    assert "T-AUD-2" not in {e["station_id"] for e in newest["items"]}
    elsewhere = httpx.get(
        f"{stations.base_url}/api/v1/audit", params={"station_id": "T-AUD-2"}, headers=headers
    )
    assert elsewhere.status_code == 404
    # The operator account itself was audited too (made by the CLI).
    operators = admin.get("/api/v1/audit", params={"entity": "operator"}).json()["items"]
    assert any(e["entity_id"] == "auditor" and e["actor"] == "cli" for e in operators)


def test_audit_pages_walk_back_in_time(admin: httpx.Client) -> None:
    for n in range(3):
        admin.post("/api/v1/stations", json=_station(f"T-AUDP-{n}"))
    first = admin.get("/api/v1/audit", params={"limit": 2}).json()
    assert len(first["items"]) == 2
    assert first["next"]
    second = admin.get("/api/v1/audit", params={"limit": 2, "before": first["next"]}).json()
    assert second["items"][0]["id"] < first["items"][-1]["id"]
