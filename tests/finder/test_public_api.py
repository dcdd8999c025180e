"""GET /api/v1/public/stations over real processes: stations' facts, telemetry's live device
state from a real broker, bookings answering (CONTRACT.md §5)."""

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.mqtt import Kiosk, unique
from tests.support.services import RunningService, RunningTelemetry, run_service
from tests.support.waiting import wait_until
from yizhan.common.db import libpq_dsn
from yizhan.devstack.processes import free_port

# CONTRACT.md §5: changes from devices show within 5 s.
WITHIN_SECONDS = 5.0


def new_station(registry: httpx.Client, lat: float, lng: float, **extra: Any) -> str:
    """A station near Chongqing with a charger and a water dispenser."""
    station_id = unique("fd")
    body = {
        "id": station_id,
        "name": {"zh": f"驿站{station_id}", "en": f"Station {station_id}"},
        "district": extra.pop("district", "渝中区"),
        "address": extra.pop("address", "解放碑步行街1号"),
        "latitude": lat,
        "longitude": lng,
        "amenities": ["charging", "water"],
        **extra,
    }
    assert registry.post("/api/v1/stations", json=body).status_code == 201
    for device_id, kind in ((f"{station_id}-c", "charger"), (f"{station_id}-w", "water")):
        reply = registry.post(
            f"/api/v1/stations/{station_id}/devices", json={"id": device_id, "kind": kind}
        )
        assert reply.status_code == 201, reply.text
    return station_id


class Device:
    """One device publishing through the broker with increasing seq numbers."""

    def __init__(self, kiosk: Kiosk, station_id: str, device_id: str) -> None:
        self.kiosk, self.topic = kiosk, f"yz/v1/st/{station_id}/dev/{device_id}"
        self.seq = 0

    def event(self, type_: str, **fields: Any) -> None:
        self.seq += 1
        now = datetime.now(UTC).isoformat()
        body = {"v": 1, "seq": self.seq, "ts": now, "type": type_, **fields}
        self.kiosk.publish(f"{self.topic}/event", body)

    def online(self) -> None:
        now = datetime.now(UTC).isoformat()
        self.kiosk.publish(f"{self.topic}/status", {"v": 1, "state": "online", "ts": now})


def find(bookings: RunningService, station_id: str, **params: Any) -> dict[str, Any]:
    # Looked up by its name (which carries its id): a page of the first 200 stations by id
    # need not hold it once the tests have made more.
    reply = httpx.get(
        f"{bookings.base_url}/api/v1/public/stations",
        params={"limit": 200, "q": station_id, **params},
    )
    assert reply.status_code == 200, reply.text
    items: list[dict[str, Any]] = [i for i in reply.json()["items"] if i["id"] == station_id]
    assert len(items) == 1, reply.json()
    return items[0]


def find_any(bookings: RunningService, station_id: str) -> bool:
    reply = httpx.get(
        f"{bookings.base_url}/api/v1/public/stations", params={"limit": 200, "q": station_id}
    )
    return any(i["id"] == station_id for i in reply.json()["items"])


def until_within(check: Any) -> float:
    """Seconds until `check()` holds; fails past the contract's 5 s."""
    start = time.monotonic()
    wait_until(check, WITHIN_SECONDS)
    return time.monotonic() - start


@pytest.fixture
def live(finder_bookings: RunningService, finder_telemetry: RunningTelemetry) -> RunningService:
    """Bookings with telemetry up."""
    return finder_bookings


def test_charge_start_shows_in_use_and_fault_shows_water_down(
    live: RunningService, registry: httpx.Client, kiosk: Kiosk
) -> None:
    station = new_station(registry, 29.5630, 106.5770)
    wait_until(lambda: find_any(live, station), 10)
    charger = Device(kiosk, station, f"{station}-c")
    water = Device(kiosk, station, f"{station}-w")
    # Silence: never heard of, the station's availability is unknown and counts say nothing.
    first = find(live, station)
    assert first["availability"]["status"] == "unknown"
    assert first["availability"]["chargers"]["total"] == 0
    assert first["open_now"] is None  # always open by its hours, but the kiosk says nothing

    charger.online()
    water.online()
    until_within(lambda: find(live, station)["availability"]["status"] == "live")
    item = find(live, station)
    assert item["availability"]["chargers"] == {
        "total": 1,
        "free": 1,
        "in_use": 0,
        "out_of_order": 0,
    }
    assert item["availability"]["water"] == {"total": 1, "working": 1}
    assert item["open_now"] is True

    charger.event("charge.start", session="s1", connector=1)
    until_within(lambda: find(live, station)["availability"]["chargers"]["in_use"] == 1)
    charger.event("charge.stop", session="s1", energy_wh=12.5)
    until_within(lambda: find(live, station)["availability"]["chargers"]["free"] == 1)

    water.event("fault", code="PUMP", severity="critical")
    until_within(lambda: find(live, station)["availability"]["water"]["working"] == 0)


def test_three_minutes_of_silence_show_unknown(
    live: RunningService,
    registry: httpx.Client,
    kiosk: Kiosk,
    finder_telemetry_db: str,
) -> None:
    station = new_station(registry, 29.60, 106.60)
    wait_until(lambda: find_any(live, station), 10)
    Device(kiosk, station, f"{station}-c").online()
    until_within(lambda: find(live, station)["availability"]["status"] == "live")
    # Four minutes pass without a word from the station's devices.
    url = libpq_dsn(finder_telemetry_db)
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(
            "UPDATE device_state SET last_seen = last_seen - interval '4 minutes'"
            " WHERE station_id = %s",
            (station,),
        )
    until_within(lambda: find(live, station)["availability"]["status"] == "unknown")
    assert find(live, station)["availability"]["chargers"]["total"] == 0


def test_nearest_first_search_district_cache_and_limit(
    live: RunningService, registry: httpx.Client
) -> None:
    district = unique("区")
    near = new_station(registry, 29.5000, 106.5000, district=district, address="朝天门路8号")
    far = new_station(registry, 29.9000, 106.9000, district=district)
    closed = new_station(registry, 29.5001, 106.5001, district=district)
    assert registry.patch(f"/api/v1/stations/{closed}", json={"status": "suspended"}).is_success
    url = f"{live.base_url}/api/v1/public/stations"

    def ids(**params: Any) -> list[str]:
        reply = httpx.get(url, params={"district": district, **params})
        assert reply.status_code == 200, reply.text
        return [i["id"] for i in reply.json()["items"]]

    # Stations' facts are cached a while; wait for the new ones to appear.
    wait_until(lambda: set(ids()) == {near, far}, 10)
    assert ids(lat=29.91, lng=106.91) == [far, near]
    assert ids(lat=29.49, lng=106.49) == [near, far]
    assert ids(lat=29.49, lng=106.49, limit=1) == [near]
    assert ids(q="朝天门") == [near]  # the address is searched
    item = httpx.get(url, params={"district": district, "lat": 29.5, "lng": 106.5}).json()
    assert item["items"][0]["distance_m"] == 0
    assert item["items"][1]["distance_m"] > 50_000

    first = httpx.get(url, params={"district": district})
    assert "max-age=" in first.headers["cache-control"]
    assert int(first.headers["cache-control"].split("max-age=")[1].split(",")[0]) <= 60
    again = httpx.get(
        url, params={"district": district}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304
    assert httpx.get(url, params={"lat": 100}).status_code == 422


def test_telemetry_down_answers_unknown(
    finder_stations: RunningService,
    registry: httpx.Client,
    new_database: Any,
    workdir: Any,
) -> None:
    # A bookings whose telemetry never answers: the API still answers, availability unknown.
    station = new_station(registry, 29.70, 106.70)
    env = {
        "YZ_STATIONS_GRPC": finder_stations.grpc_address,
        "YZ_TELEMETRY_GRPC": f"127.0.0.1:{free_port()}",
        "YZ_BOOKINGS_PUBLIC_STATIONS_REFRESH_SECONDS": "1",
    }
    with run_service("bookings", new_database("fd_bookings_alone"), workdir, env=env) as alone:
        item = find(alone, station)
        assert item["availability"]["status"] == "unknown"
        assert item["open_now"] is None
        ready = httpx.get(f"{alone.base_url}/readyz")
        assert ready.status_code == 200, ready.text
