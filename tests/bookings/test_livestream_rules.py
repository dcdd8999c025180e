"""Livestream booking rules per point (notice, days ahead, length), no-shows that free the rest
of a slot and pause a phone, and the weekly quota."""

import time
from datetime import datetime, timedelta

import httpx
import pytest

from tests.bookings.conftest import SHANGHAI, Network, new_phone, tomorrow

pytestmark = pytest.mark.integration


def _target(point: int, start: str, end: str) -> dict[str, object]:
    return {"livestream_point_id": point, "start": start, "end": end}


def _wait_for(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_length_notice_and_days_ahead(network: Network) -> None:
    station = network.station()
    point = network.point(station, max_steps=2, min_notice_minutes=120, max_days_ahead=2)
    steps = [s for s in network.slots(point, tomorrow()) if s["available"]]

    two = network.book(_target(point, steps[0]["start"], steps[1]["end"]))
    assert two.status_code == 201, two.text
    three = network.book(_target(point, steps[2]["start"], steps[4]["end"]))
    assert three.status_code == 422
    assert three.json()["code"] == "slot_too_long"
    # A span that overlaps the two-step booking is refused by the database.
    overlap = network.book(_target(point, steps[1]["start"], steps[2]["end"]))
    assert overlap.status_code == 409

    today = datetime.now(SHANGHAI).date()
    soon = [
        s
        for s in network.slots(point, today)
        if datetime.fromisoformat(s["start"]) > datetime.now(SHANGHAI)
    ]
    if soon:  # the first step that has not started is within the two hours of notice
        assert soon[0]["available"] is False
        refused = network.book(_target(point, soon[0]["start"], soon[0]["end"]))
        assert refused.json()["code"] == "slot_too_soon"
    far = network.slots(point, today + timedelta(days=4))
    assert far
    assert not any(s["available"] for s in far)
    too_far = network.book(_target(point, far[-1]["start"], far[-1]["end"]))
    assert too_far.json()["code"] == "slot_too_far"


def test_operators_change_and_retire_a_point(network: Network) -> None:
    point = network.point(network.station())
    url = f"{network.bookings.base_url}/api/v1/livestream-points/{point}"
    changed = httpx.patch(url, json={"max_steps": 6, "name": "新直播点"}, headers=network.auth)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["max_steps"], changed.json()["name"]) == (6, "新直播点")
    assert httpx.patch(url, json={"active": False}).status_code == 401
    retired = httpx.patch(url, json={"active": False}, headers=network.auth)
    assert retired.json()["active"] is False
    assert httpx.get(f"{url}/slots", params={"date": tomorrow().isoformat()}).status_code == 404


def test_bookings_follow_a_point_changed_a_moment_ago(network: Network) -> None:
    # Each worker process keeps the points it read for the stations cache's seconds; a
    # change must count for the next booking anyway, in both directions.
    point = network.point(network.station(), max_steps=1)
    steps = [s for s in network.slots(point, tomorrow()) if s["available"]]
    for step in steps[:4]:  # read, and kept, by whichever worker answers
        assert network.book(_target(point, step["start"], step["end"])).status_code == 201
    url = f"{network.bookings.base_url}/api/v1/livestream-points/{point}"
    assert httpx.patch(url, json={"max_steps": 2}, headers=network.auth).is_success
    longer = network.book(_target(point, steps[4]["start"], steps[5]["end"]))
    assert longer.status_code == 201, longer.text
    assert httpx.patch(url, json={"max_steps": 1}, headers=network.auth).is_success
    too_long = network.book(_target(point, steps[6]["start"], steps[7]["end"]))
    assert too_long.json()["code"] == "slot_too_long", too_long.text


def test_a_no_show_frees_the_rest_of_the_slot(network: Network) -> None:
    station = network.station()
    point = network.point(station, max_steps=3)
    steps = [s for s in network.slots(point, tomorrow()) if s["available"]]
    made = network.book(_target(point, steps[0]["start"], steps[2]["end"])).json()
    # Move it to now: it started 16 minutes ago (check-in closed), on the 30-minute grid.
    now = datetime.now(SHANGHAI)
    start = (now - timedelta(minutes=16)).replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % 30)
    network.sql(
        "UPDATE bookings SET starts_at = %s, ends_at = %s WHERE code = %s",
        start,
        start + timedelta(minutes=90),
        made["code"],
    )
    rest = start + timedelta(minutes=60)

    _wait_for(
        lambda: (
            network.sql("SELECT status FROM bookings WHERE code = %s", made["code"])
            == [("no_show",)]
        )
    )
    freed = network.book(
        _target(point, rest.isoformat(), (rest + timedelta(minutes=30)).isoformat())
    )
    assert freed.status_code == 201, freed.text
    view = httpx.get(
        f"{network.bookings.base_url}/api/v1/bookings/{made['code']}",
        params={"token": made["manage_token"]},
    )
    assert view.json()["status"] == "no_show"


def test_no_shows_pause_a_phone_and_the_week_has_a_quota(network: Network) -> None:
    point = network.point(network.station())
    steps = [s for s in network.slots(point, tomorrow()) if s["available"]]
    phone = new_phone()
    for step in steps[:3]:
        assert network.book(_target(point, step["start"], step["end"]), phone).status_code == 201
    # A refused booking leaves its one-time code unused: the next try uses it again.
    code = network.otp(phone)
    fourth = network.book(_target(point, steps[3]["start"], steps[3]["end"]), phone, otp=code)
    assert fourth.status_code == 429
    assert fourth.json()["code"] == "weekly_quota"

    network.sql(
        "UPDATE bookings SET status = 'no_show', starts_at = now() - interval '2 days',"
        " ends_at = now() - interval '2 days' + interval '30 minutes' WHERE phone = %s",
        phone,
    )
    paused = network.book(_target(point, steps[3]["start"], steps[3]["end"]), phone, otp=code)
    assert paused.status_code == 429
    assert paused.json()["code"] == "no_show_blocked"
    assert network.book(_target(point, steps[3]["start"], steps[3]["end"])).status_code == 201
