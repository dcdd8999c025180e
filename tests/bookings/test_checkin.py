"""BookingDesk.CheckIn over real gRPC: every reason of CONTRACT §2."""

from collections.abc import Iterator
from datetime import timedelta

import grpc
import httpx
import pytest

from tests.bookings.conftest import Network, tomorrow
from yizhan.api.bookings.v1 import bookings_pb2, bookings_pb2_grpc
from yizhan.common.rpc import sync_channel
from yizhan.common.settings import DEV_SERVICE_TOKEN

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def desk(network: Network) -> Iterator[bookings_pb2_grpc.BookingDeskStub]:
    channel = sync_channel(network.bookings.grpc_address, DEV_SERVICE_TOKEN)
    yield bookings_pb2_grpc.BookingDeskStub(channel)
    channel.close()


def _scan(
    desk: bookings_pb2_grpc.BookingDeskStub, code: str, station: str
) -> bookings_pb2.CheckInResponse:
    request = bookings_pb2.CheckInRequest(code=code, station_id=station, device_id="kiosk-1")
    reply: bookings_pb2.CheckInResponse = desk.CheckIn(request, timeout=5)
    return reply


def _book_slot(network: Network, point: int, index: int) -> dict[str, str]:
    free = [s for s in network.slots(point, tomorrow()) if s["available"]]
    target = {
        "livestream_point_id": point,
        "start": free[index]["start"],
        "end": free[index]["end"],
    }
    reply = network.book(target)
    assert reply.status_code == 201, reply.text
    made: dict[str, str] = reply.json()
    return made


def _move(network: Network, code: str, starts_in: timedelta) -> None:
    """Put a booking's start `starts_in` from now (tests cannot wait for the clock)."""
    network.sql(
        "UPDATE bookings SET starts_at = now() + %s, ends_at = now() + %s + interval '30 minutes'"
        " WHERE code = %s",
        starts_in,
        starts_in,
        code,
    )


def test_checkin_reasons(network: Network, desk: bookings_pb2_grpc.BookingDeskStub) -> None:
    station, other = network.station(), network.station()
    # Points of their own, so that moving bookings in time cannot make them overlap.
    early = _book_slot(network, network.point(station), 0)
    on_time = _book_slot(network, network.point(station), 0)
    late = _book_slot(network, network.point(station), 0)
    cancelled = _book_slot(network, network.point(station), 0)
    _move(network, on_time["code"], timedelta(minutes=10))
    _move(network, late["code"], timedelta(minutes=-16))
    httpx.delete(
        f"{network.bookings.base_url}/api/v1/bookings/{cancelled['code']}",
        params={"token": cancelled["manage_token"]},
    ).raise_for_status()

    def reason(code: str, at: str = station) -> str:
        reply = _scan(desk, code, at)
        assert reply.message_zh
        assert reply.message_en
        assert reply.ok == (reply.reason == "")
        return reply.reason or "ok"

    assert reason("ZZZZZZZZ") == "not_found"
    assert reason("not a code") == "not_found"
    assert reason(on_time["code"], other) == "wrong_station"
    assert reason(early["code"]) == "too_early"
    assert reason(late["code"]) == "too_late"
    assert reason(cancelled["code"]) == "cancelled"
    ok = _scan(desk, on_time["code"].lower(), station)
    assert ok.ok
    assert (ok.message_zh, ok.message_en) == ("签到成功", "Checked in")
    assert reason(on_time["code"]) == "already_checked_in"

    view = httpx.get(
        f"{network.bookings.base_url}/api/v1/bookings/{on_time['code']}",
        params={"token": on_time["manage_token"]},
    ).json()
    assert view["checked_in_at"] is not None
    # A checked-in booking can no longer be cancelled.
    refused = httpx.delete(
        f"{network.bookings.base_url}/api/v1/bookings/{on_time['code']}",
        params={"token": on_time["manage_token"]},
    )
    assert refused.status_code == 409


def test_checkin_needs_the_service_credential(network: Network) -> None:
    with grpc.insecure_channel(network.bookings.grpc_address) as channel:
        stub = bookings_pb2_grpc.BookingDeskStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.CheckIn(bookings_pb2.CheckInRequest(code="ZZZZZZZZ", station_id="x"), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
