"""BookingRecords over gRPC (issue 14's district report, issue 17's station page): the
livestream slots of a range whose outcome was recorded, with their point, and the opinions
of a range (or those not closed yet, whenever raised) with the measures they led to."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc
import httpx
import pytest

from tests.bookings.conftest import Network, new_phone, tomorrow
from yizhan.api.bookings.v1 import bookings_pb2, bookings_pb2_grpc
from yizhan.common.pbtime import from_pb, to_pb
from yizhan.common.rpc import sync_channel
from yizhan.common.settings import DEV_SERVICE_TOKEN

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def records(network: Network) -> Iterator[bookings_pb2_grpc.BookingRecordsStub]:
    channel = sync_channel(network.bookings.grpc_address, DEV_SERVICE_TOKEN)
    yield bookings_pb2_grpc.BookingRecordsStub(channel)
    channel.close()


def _range(message: object, start: datetime, end: datetime) -> None:
    getattr(message, "from").CopyFrom(to_pb(start))
    message.to.CopyFrom(to_pb(end))  # type: ignore[attr-defined]


def test_outcomes_slot_by_slot(
    network: Network, records: bookings_pb2_grpc.BookingRecordsStub
) -> None:
    station = network.station()
    point = network.point(station, name="赶场直播")
    free = [s for s in network.slots(point, tomorrow()) if s["available"]]
    made = network.book(
        {"livestream_point_id": point, "start": free[0]["start"], "end": free[0]["end"]}
    )
    assert made.status_code == 201, made.text
    code = made.json()["code"]
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    network.sql(
        "UPDATE bookings SET starts_at = %s, ends_at = %s WHERE code = %s",
        started,
        started + timedelta(minutes=30),
        code,
    )
    reply = httpx.put(
        f"{network.bookings.base_url}/api/v1/bookings/{code}/outcome",
        json={"households": 31, "sales_yuan": 2480.5, "note": "腊肉"},
        headers=network.auth,
    )
    assert reply.status_code == 200, reply.text

    request = bookings_pb2.ListLivestreamOutcomesRequest(station_ids=[station])
    _range(request, started - timedelta(hours=1), started + timedelta(hours=1))
    (item,) = records.ListLivestreamOutcomes(request, timeout=10).items
    assert (item.livestream_point_name, item.households, item.sales_yuan, item.note) == (
        "赶场直播",
        31,
        2480.5,
        "腊肉",
    )
    assert from_pb(item.starts_at) == started
    # Outside the range, or another station: nothing.
    _range(request, started + timedelta(minutes=1), started + timedelta(hours=1))
    assert list(records.ListLivestreamOutcomes(request, timeout=10).items) == []
    backwards = bookings_pb2.ListLivestreamOutcomesRequest(station_ids=[station])
    _range(backwards, started, started - timedelta(hours=1))
    with pytest.raises(grpc.RpcError) as refused:
        records.ListLivestreamOutcomes(backwards, timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_opinions_with_their_measures(
    network: Network, records: bookings_pb2_grpc.BookingRecordsStub
) -> None:
    station = network.station()
    session_id = network.forum_session(station, seats=5, starts_in=timedelta(minutes=10))
    api = network.bookings.base_url
    raised = []
    for text in ("门口没有地方停电动车", "想要一台微波炉热饭"):
        made = network.book({"forum_session_id": session_id}, new_phone()).json()
        checked = httpx.post(f"{api}/api/v1/bookings/{made['code']}/check-in", headers=network.auth)
        assert checked.status_code == 200, checked.text
        posted = httpx.post(
            f"{api}/b/{made['code']}/opinions",
            data={"category": "parking", "text": text, "token": made["manage_token"]},
        )
        assert posted.status_code == 303, posted.text
        raised.append(text)
    (first, _) = sorted(
        httpx.get(
            f"{api}/api/v1/opinions", params={"station_id": station}, headers=network.auth
        ).json()["items"],
        key=lambda item: item["id"],
    )
    move = f"{api}/api/v1/opinions/{first['id']}"
    assert httpx.patch(move, json={"status": "in_progress"}, headers=network.auth).is_success
    measure = "在北门划出 20 个临时停车位"
    done = httpx.patch(move, json={"status": "resolved", "measure": measure}, headers=network.auth)
    assert done.status_code == 200, done.text

    now = datetime.now(UTC)
    request = bookings_pb2.ListOpinionsRequest(station_ids=[station])
    _range(request, now - timedelta(hours=1), now + timedelta(hours=1))
    items = records.ListOpinions(request, timeout=10).items
    assert [(o.text, o.status, o.measure) for o in items] == [
        (raised[0], "resolved", measure),
        (raised[1], "received", ""),
    ]
    assert items[0].HasField("closed_at")
    assert not items[1].HasField("closed_at")
    open_only = bookings_pb2.ListOpinionsRequest(station_ids=[station], unresolved_only=True)
    assert [o.text for o in records.ListOpinions(open_only, timeout=10).items] == [raised[1]]
