"""The operator side over the real APIs: sessions changed and cancelled (workers told by SMS
through the outbox), check-in by hand, opinions from attendees to resolution, figures over
gRPC and HTTP, CSV exports."""

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.bookings.conftest import ADMIN_PASSWORD, Network, new_phone
from tests.support.operators import create_operator, login
from yizhan.api.bookings.v1 import bookings_pb2, bookings_pb2_grpc
from yizhan.common.pbtime import to_pb
from yizhan.common.rpc import sync_channel
from yizhan.common.settings import DEV_SERVICE_TOKEN

pytestmark = pytest.mark.integration

BOM = "\ufeff"


def _sent_sms(network: Network, phone: str, purpose: str, timeout: float = 10.0) -> str:
    """The text of the notification SMS of `purpose` sent to `phone` (waits for the outbox)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = network.sql(
            "SELECT text FROM sms_outbox WHERE phone = %s AND purpose = %s AND sent_at IS NOT NULL",
            phone,
            purpose,
        )
        if rows:
            text: str = rows[-1][0]
            return text
        time.sleep(0.2)
    raise AssertionError(f"no {purpose} SMS sent to {phone}")


def _book_seat(network: Network, session_id: int) -> tuple[str, dict[str, str]]:
    phone = new_phone()
    reply = network.book({"forum_session_id": session_id}, phone)
    assert reply.status_code == 201, reply.text
    made: dict[str, str] = reply.json()
    return phone, made


def _status(network: Network, code: str) -> str:
    (row,) = network.sql("SELECT status FROM bookings WHERE code = %s", code)
    status: str = row[0]
    return status


def test_seats_change_promote_move_and_cancel(network: Network) -> None:
    station = network.station()
    session_id = network.forum_session(
        station, seats=2, starts_in=timedelta(days=3), kind="training"
    )
    url = f"{network.bookings.base_url}/api/v1/forum-sessions/{session_id}"
    seated = [_book_seat(network, session_id) for _ in range(3)]
    assert [m["status"] for _, m in seated] == ["confirmed", "confirmed", "waitlisted"]

    fewer = httpx.patch(url, json={"seats": 1}, headers=network.auth)
    assert fewer.status_code == 409
    assert fewer.json()["code"] == "seats_below_confirmed"
    more = httpx.patch(url, json={"seats": 3}, headers=network.auth)
    assert more.status_code == 200, more.text
    assert (more.json()["kind"], more.json()["seats_left"]) == ("training", 0)
    waiting_phone, waiting = seated[2]
    assert _status(network, waiting["code"]) == "confirmed"
    assert waiting["code"] in _sent_sms(network, waiting_phone, "promoted")

    later = (datetime.now(UTC) + timedelta(days=4)).replace(microsecond=0)
    moved = httpx.patch(
        url,
        json={"start": later.isoformat(), "end": (later + timedelta(hours=2)).isoformat()},
        headers=network.auth,
    )
    assert moved.status_code == 200, moved.text
    (row,) = network.sql("SELECT starts_at FROM bookings WHERE code = %s", seated[0][1]["code"])
    assert row[0] == later
    assert "改到" in _sent_sms(network, seated[0][0], "session_moved")

    cancelled = httpx.post(f"{url}/cancel", headers=network.auth)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert {_status(network, m["code"]) for _, m in seated} == {"cancelled"}
    assert "已取消" in _sent_sms(network, seated[1][0], "session_cancelled")
    listed = httpx.get(
        f"{network.bookings.base_url}/api/v1/forum-sessions", params={"station_id": station}
    ).json()["items"]
    assert session_id not in [s["id"] for s in listed]
    late = network.book({"forum_session_id": session_id})
    assert late.status_code == 422
    assert late.json()["code"] == "session_cancelled"


def test_a_cancel_promotes_the_first_waitlisted_and_tells_them(network: Network) -> None:
    session_id = network.forum_session(network.station(), seats=1, starts_in=timedelta(days=2))
    _, first = _book_seat(network, session_id)
    waiting_phone, waiting = _book_seat(network, session_id)
    httpx.delete(
        f"{network.bookings.base_url}/api/v1/bookings/{first['code']}",
        params={"token": first["manage_token"]},
    ).raise_for_status()
    text = _sent_sms(network, waiting_phone, "promoted")
    assert waiting["code"] in text
    assert "骑手停车难" in text


@pytest.fixture(scope="module")
def reports(network: Network) -> Iterator[bookings_pb2_grpc.BookingReportsStub]:
    channel = sync_channel(network.bookings.grpc_address, DEV_SERVICE_TOKEN)
    yield bookings_pb2_grpc.BookingReportsStub(channel)
    channel.close()


def test_check_in_by_hand_opinions_figures_and_exports(
    network: Network, stations_db: str, reports: bookings_pb2_grpc.BookingReportsStub
) -> None:
    station = network.station(district="綦江区")
    session_id = network.forum_session(station, seats=5, starts_in=timedelta(minutes=10))
    attendee_phone, attendee = _book_seat(network, session_id)
    _, absent = _book_seat(network, session_id)
    api = network.bookings.base_url

    create_operator(stations_db, "qijiang", ADMIN_PASSWORD, "district", "綦江区")
    create_operator(stations_db, "elsewhere", ADMIN_PASSWORD, "district", "渝中区")
    outside = {"Authorization": f"Bearer {login(network.stations, 'elsewhere', ADMIN_PASSWORD)}"}
    mine = {"Authorization": f"Bearer {login(network.stations, 'qijiang', ADMIN_PASSWORD)}"}
    check_in = f"{api}/api/v1/bookings/{attendee['code']}/check-in"
    assert httpx.post(check_in, headers=outside).status_code == 404
    done = httpx.post(check_in, headers=mine)
    assert done.status_code == 200, done.text
    assert done.json() == {
        "code": attendee["code"],
        "ok": True,
        "reason": None,
        "message": {"zh": "签到成功", "en": "Checked in"},
    }
    again = httpx.post(check_in, headers=mine).json()
    assert (again["ok"], again["reason"]) == (False, "already_checked_in")

    # Only attendees (checked in) raise opinions, on their booking's page.
    opinion = {"category": "parking", "text": "商场门口没有地方停电动车，取餐要绕很远"}
    absent_page = httpx.get(f"{api}/b/{absent['code']}", params={"token": absent["manage_token"]})
    assert 'name="category"' not in absent_page.text
    refused = httpx.post(
        f"{api}/b/{absent['code']}/opinions", data={**opinion, "token": absent["manage_token"]}
    )
    assert refused.status_code == 409
    assert "签到参加活动后才能提意见" in refused.text
    empty = httpx.post(
        f"{api}/b/{attendee['code']}/opinions",
        data={"category": "parking", "text": " ", "token": attendee["manage_token"]},
    )
    assert empty.status_code == 422
    assert 'href="#opinion-text"' in empty.text
    raised = httpx.post(
        f"{api}/b/{attendee['code']}/opinions", data={**opinion, "token": attendee["manage_token"]}
    )
    assert raised.status_code == 303, raised.text

    listed = httpx.get(f"{api}/api/v1/opinions", params={"station_id": station}, headers=mine)
    (item,) = listed.json()["items"]
    assert (item["category"], item["status"]) == ("parking", "received")
    opinion_id = item["id"]
    move = f"{api}/api/v1/opinions/{opinion_id}"
    skip = httpx.patch(move, json={"status": "resolved", "measure": "x"}, headers=mine)
    assert skip.status_code == 409
    assert skip.json()["code"] == "opinion_transition"
    assert httpx.patch(move, json={"status": "in_progress"}, headers=mine).status_code == 200
    bare = httpx.patch(move, json={"status": "resolved"}, headers=mine)
    assert bare.status_code == 422
    assert bare.json()["errors"][0]["field"] == "body.measure"
    measure = "与商场协调，在北门划出 20 个临时停车位"
    resolved = httpx.patch(move, json={"status": "resolved", "measure": measure}, headers=mine)
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["closed_at"] is not None
    assert measure in _sent_sms(network, attendee_phone, "opinion_resolved")
    own = httpx.get(f"{api}/b/{attendee['code']}", params={"token": attendee["manage_token"]})
    assert measure in own.text
    assert "已办结" in own.text

    start = datetime.now(UTC) - timedelta(days=1)
    end = datetime.now(UTC) + timedelta(days=1)
    stats = httpx.get(
        f"{api}/api/v1/stats",
        params={"from": start.isoformat(), "to": end.isoformat()},
        headers=mine,
    )
    assert stats.status_code == 200, stats.text
    body = stats.json()
    (row,) = [s for s in body["stations"] if s["station_id"] == station]
    assert (row["district"], row["forum_confirmed"], row["checked_in"]) == ("綦江区", 2, 1)
    assert row["opinions"]["resolved"] == 1
    assert body["districts"][0]["district"] == "綦江区"
    backwards = httpx.get(
        f"{api}/api/v1/stats",
        params={"from": end.isoformat(), "to": start.isoformat()},
        headers=mine,
    )
    assert backwards.status_code == 422

    request = bookings_pb2.GetBookingStatsRequest(station_ids=[station], to=to_pb(end))
    getattr(request, "from").CopyFrom(to_pb(start))
    reply = reports.GetBookingStats(request, timeout=10)
    (figures,) = reply.stations
    assert figures.station_id == station
    assert (figures.stats.confirmed, figures.stats.checked_in) == (2, 1)
    assert figures.stats.opinions.resolved == 1
    assert reply.totals.forum_seats == 5

    for path in ("/api/v1/bookings/export.csv", "/api/v1/opinions/export.csv", "/api/v1/stats.csv"):
        params = {"station_id": station, "from": start.isoformat(), "to": end.isoformat()}
        exported = httpx.get(f"{api}{path}", params=params, headers=mine)
        assert exported.status_code == 200, (path, exported.text)
        assert exported.headers["content-type"].startswith("text/csv")
        text = exported.content.decode("utf-8")
        assert text.startswith(BOM), path
        assert station in text or "商场" in text
    bookings_csv = httpx.get(
        f"{api}/api/v1/bookings/export.csv", params={"station_id": station}, headers=mine
    ).content.decode("utf-8")
    assert attendee["code"] in bookings_csv
    assert attendee_phone not in bookings_csv  # phones are masked
