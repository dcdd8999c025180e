"""Livestream slot bookings over real HTTP: taken once, refused twice, replayed on retry."""

import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.bookings.conftest import Network, new_phone, tomorrow
from yizhan.bookings.codes import ALPHABET

pytestmark = pytest.mark.integration

CODE = re.compile(f"^[{ALPHABET}]{{8}}$")


def _first_free(network: Network, point_id: int) -> dict[str, str]:
    free = [s for s in network.slots(point_id, tomorrow()) if s["available"]]
    assert free
    return {"livestream_point_id": point_id, "start": free[0]["start"], "end": free[0]["end"]}


def test_slots_list_one_item_per_step_while_open(network: Network) -> None:
    station = network.station(
        opening_hours={
            d: [["08:00", "12:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        }
    )
    point = network.point(station, slot_minutes=30)
    slots = network.slots(point, tomorrow())
    assert [s["start"][11:16] for s in slots] == [
        "08:00",
        "08:30",
        "09:00",
        "09:30",
        "10:00",
        "10:30",
        "11:00",
        "11:30",
    ]
    assert all(s["start"].endswith("+08:00") for s in slots)
    assert all(s["available"] for s in slots)
    listed = httpx.get(
        f"{network.bookings.base_url}/api/v1/livestream-points", params={"station_id": station}
    ).json()
    assert listed == {
        "items": [
            {
                "id": point,
                "station_id": station,
                "name": "直播点",
                "slot_minutes": 30,
                "min_notice_minutes": 0,
                "max_days_ahead": 30,
                "max_steps": 4,
                "active": True,
            }
        ]
    }


def test_book_then_conflict_then_replay(network: Network) -> None:
    point = network.point(network.station())
    slot = _first_free(network, point)
    phone, key = new_phone(), uuid.uuid4().hex
    otp = network.otp(phone)

    first = network.book(slot, phone, otp=otp, key=key)
    assert first.status_code == 201, first.text
    made = first.json()
    assert set(made) == {"code", "status", "manage_token"}
    assert CODE.match(made["code"])
    assert made["status"] == "confirmed"

    taken = network.book(slot)
    assert taken.status_code == 409, taken.text
    assert taken.headers["content-type"].startswith("application/problem+json")
    assert taken.json()["code"] == "slot_taken"

    # The same request again (a retry after a lost answer): the same booking, although the
    # one-time code was used the first time.
    again = network.book(slot, phone, otp=otp, key=key)
    assert again.status_code == 201, again.text
    assert again.json() == made
    assert again.headers["Idempotent-Replayed"] == "true"

    # A retry that fetched a newer code (as a client that lost everything would) also works.
    retry = network.book(slot, phone, key=key)
    assert retry.status_code == 201, retry.text
    assert retry.json()["code"] == made["code"]

    # Without a code that was sent to the phone, the key alone reveals nothing.
    forged = network.book(slot, phone, otp="000000" if otp != "000000" else "111111", key=key)
    assert forged.status_code == 422, forged.text

    # The same key for another request is refused.
    other = network.book({**slot, "end": slot["start"]}, phone, otp=otp, key=key)
    assert other.status_code == 422, other.text

    taken_now = [s for s in network.slots(point, tomorrow()) if s["start"] == slot["start"]]
    assert taken_now[0]["available"] is False

    view = httpx.get(
        f"{network.bookings.base_url}/api/v1/bookings/{made['code']}",
        params={"token": made["manage_token"]},
    )
    assert view.status_code == 200, view.text
    assert view.json()["status"] == "confirmed"
    assert view.json()["phone"] == f"{phone[:3]}****{phone[-4:]}"


def test_concurrent_requests_for_one_slot_make_exactly_one_booking(network: Network) -> None:
    point = network.point(network.station())
    slot = _first_free(network, point)
    phones = [new_phone() for _ in range(20)]
    bodies = [{**slot, "phone": p, "name": "骑手", "otp": network.otp(p)} for p in phones]
    barrier = threading.Barrier(len(bodies))

    def post(body: dict[str, object]) -> int:
        with httpx.Client(base_url=network.bookings.base_url, timeout=30) as client:
            barrier.wait()
            reply = client.post(
                "/api/v1/bookings", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
            )
            return reply.status_code

    with ThreadPoolExecutor(len(bodies)) as pool:
        statuses = list(pool.map(post, bodies))
    assert sorted(statuses) == [201] + [409] * 19, statuses
    rows = network.sql(
        "SELECT count(*) FROM bookings WHERE livestream_point_id = %s AND status = 'confirmed'",
        point,
    )
    assert rows == [(1,)]


def test_cancel_frees_the_slot(network: Network) -> None:
    point = network.point(network.station())
    slot = _first_free(network, point)
    made = network.book(slot).json()
    url = f"{network.bookings.base_url}/api/v1/bookings/{made['code']}"

    assert httpx.delete(url, params={"token": "wrong"}).status_code == 404
    cancelled = httpx.delete(url, params={"token": made["manage_token"]})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert httpx.delete(url, params={"token": made["manage_token"]}).status_code == 200

    again = network.book(slot)
    assert again.status_code == 201, again.text


def test_invalid_input_names_the_fields(network: Network) -> None:
    point = network.point(network.station())
    slot = _first_free(network, point)
    reply = httpx.post(
        f"{network.bookings.base_url}/api/v1/bookings",
        json={**slot, "phone": "12345", "name": "", "otp": "12"},
        headers={"Idempotency-Key": "k-invalid"},
    )
    assert reply.status_code == 422
    fields = {e["field"] for e in reply.json()["errors"]}
    assert {"body.phone", "body.name", "body.otp"} <= fields

    missing_key = httpx.post(
        f"{network.bookings.base_url}/api/v1/bookings",
        json={**slot, "phone": new_phone(), "name": "李", "otp": "123456"},
    )
    assert missing_key.status_code == 422
    assert [e["field"] for e in missing_key.json()["errors"]] == ["header.Idempotency-Key"]

    off_grid = network.book({**slot, "start": slot["start"].replace(":00+", ":10+", 1)})
    assert off_grid.status_code == 422, off_grid.text
    assert off_grid.json()["errors"][0]["field"] == "body.start"

    unknown = network.book({**slot, "livestream_point_id": 987654321})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "body.livestream_point_id"


def test_a_phone_holds_a_limited_number_of_bookings(network: Network) -> None:
    point = network.point(network.station())
    free = [s for s in network.slots(point, tomorrow()) if s["available"]]
    phone = new_phone()
    statuses = []
    for slot in free[:4]:
        target = {"livestream_point_id": point, "start": slot["start"], "end": slot["end"]}
        statuses.append(network.book(target, phone).status_code)
    assert statuses == [201, 201, 201, 429]
