"""Livestream outcomes (CONTRACT §4): recorded after the slot by the worker (manage token) or
an operator, field errors for bad figures, 409 before the slot started, and summed per
station over gRPC for the console."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.bookings.conftest import Network, tomorrow
from yizhan.api.bookings.v1 import bookings_pb2, bookings_pb2_grpc
from yizhan.common.pbtime import to_pb
from yizhan.common.rpc import sync_channel
from yizhan.common.settings import DEV_SERVICE_TOKEN

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def reports(network: Network) -> Iterator[bookings_pb2_grpc.BookingReportsStub]:
    channel = sync_channel(network.bookings.grpc_address, DEV_SERVICE_TOKEN)
    yield bookings_pb2_grpc.BookingReportsStub(channel)
    channel.close()


def _book(network: Network, station: str) -> dict[str, str]:
    point = network.point(station)
    free = [s for s in network.slots(point, tomorrow()) if s["available"]]
    reply = network.book(
        {"livestream_point_id": point, "start": free[0]["start"], "end": free[0]["end"]}
    )
    assert reply.status_code == 201, reply.text
    made: dict[str, str] = reply.json()
    return made


def _started(network: Network, code: str, hours_ago: int = 2) -> None:
    """Move a booking's slot into the past (tests cannot wait for the clock)."""
    network.sql(
        "UPDATE bookings SET starts_at = now() - %s, ends_at = now() - %s + interval '30 minutes'"
        " WHERE code = %s",
        timedelta(hours=hours_ago),
        timedelta(hours=hours_ago),
        code,
    )


def _put(network: Network, code: str, body: Any, **kwargs: Any) -> httpx.Response:
    return httpx.put(
        f"{network.bookings.base_url}/api/v1/bookings/{code}/outcome", json=body, **kwargs
    )


def test_outcomes_recorded_checked_and_summed(
    network: Network, reports: bookings_pb2_grpc.BookingReportsStub
) -> None:
    station = network.station()
    first, second = _book(network, station), _book(network, station)
    worker = {"token": first["manage_token"]}

    # Before the slot: 409.
    early = _put(network, first["code"], {"households": 3, "sales_yuan": 10}, params=worker)
    assert early.status_code == 409, early.text

    _started(network, first["code"])
    _started(network, second["code"], hours_ago=3)
    # Field errors for bad figures.
    bad = _put(
        network,
        first["code"],
        {"households": -1, "sales_yuan": "lots", "note": "x" * 501},
        params=worker,
    )
    assert bad.status_code == 422, bad.text
    assert {e["field"] for e in bad.json()["errors"]} == {
        "body.households",
        "body.sales_yuan",
        "body.note",
    }
    # Neither token: 401; a wrong manage token: 404 (links cannot be guessed).
    assert _put(network, first["code"], {"households": 1, "sales_yuan": 1}).status_code == 401
    wrong = _put(network, first["code"], {"households": 1, "sales_yuan": 1}, params={"token": "x"})
    assert wrong.status_code == 404

    # The worker records, then corrects it; an operator records the other slot.
    body = {"households": 12, "sales_yuan": 860.5, "note": "腊肉 香肠"}
    recorded = _put(network, first["code"], body, params=worker)
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["recorded_by"] == "worker"
    corrected = _put(network, first["code"], {**body, "households": 13}, params=worker)
    assert corrected.json()["households"] == 13
    by_operator = _put(
        network, second["code"], {"households": 5, "sales_yuan": 100.25}, headers=network.auth
    )
    assert by_operator.status_code == 200, by_operator.text
    assert by_operator.json()["recorded_by"] == "admin"
    assert by_operator.json()["sales_yuan"] == 100.25

    start = datetime.now(UTC) - timedelta(days=1)
    request = bookings_pb2.GetBookingStatsRequest(
        station_ids=[station], to=to_pb(datetime.now(UTC) + timedelta(days=1))
    )
    getattr(request, "from").CopyFrom(to_pb(start))
    reply = reports.GetBookingStats(request, timeout=10)
    (figures,) = reply.stations
    assert figures.stats.livestream_outcomes == 2
    assert figures.stats.livestream_households == 18
    assert figures.stats.livestream_sales_yuan == pytest.approx(960.75)
    assert reply.totals.livestream_households == 18
    # The same sums on the operators' HTTP figures, per station, district and network.
    stats = httpx.get(
        f"{network.bookings.base_url}/api/v1/stats",
        params={"from": start.isoformat(), "to": (start + timedelta(days=2)).isoformat()},
        headers=network.auth,
    )
    assert stats.status_code == 200, stats.text
    (row,) = [s for s in stats.json()["stations"] if s["station_id"] == station]
    assert (row["livestream_households"], row["livestream_sales_yuan"]) == (18, 960.75)
    assert stats.json()["totals"]["livestream_households"] >= 18
