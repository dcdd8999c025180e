"""Forum seats: taken under the session's lock, the overflow waitlisted, promoted on cancel."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest

from tests.bookings.conftest import Network, new_phone

pytestmark = pytest.mark.integration


def _seats_left(network: Network, station: str, session_id: int) -> int:
    listed = httpx.get(
        f"{network.bookings.base_url}/api/v1/forum-sessions", params={"station_id": station}
    ).json()["items"]
    (item,) = [s for s in listed if s["id"] == session_id]
    seats_left: int = item["seats_left"]
    return seats_left


def _status(network: Network, made: dict[str, str]) -> str:
    reply = httpx.get(
        f"{network.bookings.base_url}/api/v1/bookings/{made['code']}",
        params={"token": made["manage_token"]},
    )
    assert reply.status_code == 200, reply.text
    status: str = reply.json()["status"]
    return status


def test_three_seats_five_bookings_and_a_cancel_promotes(network: Network) -> None:
    station = network.station()
    session_id = network.forum_session(station, seats=3, starts_in=timedelta(days=2))
    assert _seats_left(network, station, session_id) == 3

    made = []
    for _ in range(5):
        reply = network.book({"forum_session_id": session_id})
        assert reply.status_code == 201, reply.text
        made.append(reply.json())
    assert [m["status"] for m in made] == ["confirmed"] * 3 + ["waitlisted"] * 2
    assert _seats_left(network, station, session_id) == 0

    cancelled = httpx.delete(
        f"{network.bookings.base_url}/api/v1/bookings/{made[1]['code']}",
        params={"token": made[1]["manage_token"]},
    )
    assert cancelled.status_code == 200, cancelled.text
    # The first on the waitlist got the seat; the second still waits.
    assert _status(network, made[3]) == "confirmed"
    assert _status(network, made[4]) == "waitlisted"
    assert _seats_left(network, station, session_id) == 0

    # Cancelling a waitlisted booking frees no seat and promotes nobody.
    httpx.delete(
        f"{network.bookings.base_url}/api/v1/bookings/{made[4]['code']}",
        params={"token": made[4]["manage_token"]},
    )
    assert _status(network, made[4]) == "cancelled"
    assert [_status(network, m) for m in (made[0], made[2], made[3])] == ["confirmed"] * 3


def test_one_phone_one_seat_per_session(network: Network) -> None:
    session_id = network.forum_session(network.station(), seats=5, starts_in=timedelta(days=1))
    phone = new_phone()
    assert network.book({"forum_session_id": session_id}, phone).status_code == 201
    again = network.book({"forum_session_id": session_id}, phone)
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "already_booked"


def test_registration_closes_at_the_start(network: Network) -> None:
    station = network.station()
    session_id = network.forum_session(station, seats=5, starts_in=timedelta(minutes=-5))
    reply = network.book({"forum_session_id": session_id})
    assert reply.status_code == 422, reply.text
    assert reply.json()["errors"][0]["field"] == "body.forum_session_id"


def test_concurrent_seat_bookings_never_overfill(network: Network) -> None:
    session_id = network.forum_session(network.station(), seats=4, starts_in=timedelta(days=1))
    phones = [new_phone() for _ in range(12)]
    bodies = [
        {"forum_session_id": session_id, "phone": p, "name": "骑手", "otp": network.otp(p)}
        for p in phones
    ]
    barrier = threading.Barrier(len(bodies))

    def post(body: dict[str, object]) -> str:
        barrier.wait()
        reply = httpx.post(
            f"{network.bookings.base_url}/api/v1/bookings",
            json=body,
            headers={"Idempotency-Key": uuid.uuid4().hex},
            timeout=30,
        )
        assert reply.status_code == 201, reply.text
        status: str = reply.json()["status"]
        return status

    with ThreadPoolExecutor(len(bodies)) as pool:
        statuses = list(pool.map(post, bodies))
    assert statuses.count("confirmed") == 4
    assert statuses.count("waitlisted") == 8


def test_a_seat_is_not_booked_on_a_session_time_read_before_it_moved(network: Network) -> None:
    # yz_book_seat (migration 0009) books the session as the caller read it, whose time its
    # quota week and SMS text used: a session moved meanwhile is `session_changed` (the
    # service reads it again), and the refusal leaves no key behind.
    session_id = network.forum_session(network.station(), seats=2, starts_in=timedelta(days=1))
    phone = new_phone()
    network.otp(phone)
    [(code_hash,)] = network.sql(
        "SELECT code_hash FROM otp_codes WHERE phone = %s ORDER BY created_at DESC, id DESC"
        " LIMIT 1",
        phone,
    )
    [(starts_at, ends_at)] = network.sql(
        "SELECT starts_at, ends_at FROM forum_sessions WHERE id = %s", session_id
    )

    def book(key: str, start: object, end: object) -> list[tuple[object, ...]]:
        return network.sql(
            "SELECT outcome, status FROM yz_book_seat(%s, 'fingerprint', now(), %s, '李师傅',"
            " %s, 5, %s, %s, %s, %s, '短信', 'Asia/Shanghai', interval '30 days', 3, 100, 100)",
            key,
            phone,
            code_hash,
            session_id,
            start,
            end,
            uuid.uuid4().hex[:8].upper(),
        )

    before = book("moved-key", starts_at - timedelta(hours=1), ends_at - timedelta(hours=1))
    assert before == [("session_changed", None)]
    assert network.sql("SELECT count(*) FROM idempotency_keys WHERE key = 'moved-key'") == [(0,)]
    assert book("read-key", starts_at, ends_at) == [("booked", "confirmed")]
    assert network.sql(
        "SELECT count(*) FROM sms_outbox WHERE phone = %s AND purpose = 'confirmed'", phone
    ) == [(1,)]
