"""Operator endpoints: bearer tokens from stations, district scope checked with stations,
plus readiness and metrics."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.bookings.conftest import ADMIN_PASSWORD, Network, tomorrow
from tests.support.operators import create_operator, login

pytestmark = pytest.mark.integration


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_writes_need_a_token_and_the_station_in_scope(network: Network, stations_db: str) -> None:
    mine, theirs = network.station(district="南岸区"), network.station(district="渝中区")
    create_operator(stations_db, "nanan", ADMIN_PASSWORD, "district", "南岸区")
    create_operator(stations_db, "viewer", ADMIN_PASSWORD, "viewer")
    district = _headers(login(network.stations, "nanan", ADMIN_PASSWORD))
    viewer = _headers(login(network.stations, "viewer", ADMIN_PASSWORD))
    url = f"{network.bookings.base_url}/api/v1/livestream-points"

    assert httpx.post(url, json={"station_id": mine, "name": "x"}).status_code == 401
    bad = httpx.post(url, json={"station_id": mine, "name": "x"}, headers=_headers("forged"))
    assert bad.status_code == 401
    assert (
        httpx.post(url, json={"station_id": mine, "name": "x"}, headers=viewer).status_code == 403
    )
    outside = httpx.post(url, json={"station_id": theirs, "name": "x"}, headers=district)
    assert outside.status_code == 404
    unknown = httpx.post(url, json={"station_id": "NOPE-404", "name": "x"}, headers=district)
    assert unknown.status_code == 404
    created = httpx.post(url, json={"station_id": mine, "name": "直播点"}, headers=district)
    assert created.status_code == 201, created.text
    assert created.json()["slot_minutes"] == 30
    odd = httpx.post(
        url, json={"station_id": mine, "name": "x", "slot_minutes": 7}, headers=district
    )
    assert odd.status_code == 422

    # Without station_id, an operator sees the points of their own districts.
    listed = httpx.get(url, headers=district).json()["items"]
    assert {p["station_id"] for p in listed} == {mine}
    anonymous = httpx.get(url)
    assert anonymous.status_code == 422
    assert anonymous.json()["errors"][0]["field"] == "query.station_id"

    session = {
        "station_id": theirs,
        "topic": "t",
        "start": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        "end": (datetime.now(UTC) + timedelta(days=1, hours=1)).isoformat(),
        "seats": 10,
    }
    sessions_url = f"{network.bookings.base_url}/api/v1/forum-sessions"
    assert httpx.post(sessions_url, json=session, headers=district).status_code == 404
    backwards = {**session, "station_id": mine, "end": session["start"]}
    assert httpx.post(sessions_url, json=backwards, headers=district).status_code == 422


def test_operators_list_a_stations_bookings_page_by_page(network: Network) -> None:
    station = network.station()
    point = network.point(station)
    free = [s for s in network.slots(point, tomorrow()) if s["available"]][:3]
    codes = []
    for slot in free:
        target = {"livestream_point_id": point, "start": slot["start"], "end": slot["end"]}
        codes.append(network.book(target).json()["code"])
    url = f"{network.bookings.base_url}/api/v1/bookings"
    assert httpx.get(url, params={"station_id": station}).status_code == 401

    seen, cursor = [], None
    while True:
        params: dict[str, str | int] = {"station_id": station, "limit": 2}
        if cursor:
            params["after"] = cursor
        page = httpx.get(url, params=params, headers=network.auth)
        assert page.status_code == 200, page.text
        seen += [item["code"] for item in page.json()["items"]]
        cursor = page.json()["next"]
        if cursor is None:
            break
    assert seen == codes
    item = httpx.get(url, params={"station_id": station}, headers=network.auth).json()["items"][0]
    assert item["title"] == "直播点"
    assert "****" in item["phone"]


def test_readyz_checks_database_and_reports_stations_as_a_peer(network: Network) -> None:
    ready = httpx.get(f"{network.bookings.base_url}/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok"}
    assert ready.json()["peers"]["stations"] == "ok"
    # No telemetry runs beside these tests: the station finder's peer is degraded, and
    # bookings stays ready.
    assert ready.json()["degraded"] == ["telemetry"]


def test_metrics_count_bookings_and_conflicts(network: Network) -> None:
    point = network.point(network.station())
    slot = next(s for s in network.slots(point, tomorrow()) if s["available"])
    target = {"livestream_point_id": point, "start": slot["start"], "end": slot["end"]}
    assert network.book(target).status_code == 201
    assert network.book(target).status_code == 409
    metrics = httpx.get(f"{network.bookings.base_url}/metrics").text
    assert 'yz_bookings_created_total{kind="livestream",status="confirmed"}' in metrics
    assert 'yz_booking_conflicts_total{kind="livestream",reason="slot_taken"}' in metrics
