"""gRPC BookingAdmin, the console's way to manage bookings: on behalf of the operator whose
token comes with the call, with the HTTP API's checks, field errors and audit."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.bookings.conftest import ADMIN_PASSWORD, Network
from tests.support.operators import create_operator, login
from yizhan.api.bookings.v1 import bookings_pb2, bookings_pb2_grpc
from yizhan.common.rpc import sync_channel
from yizhan.common.settings import DEV_SERVICE_TOKEN

pytestmark = pytest.mark.integration


def test_actions_are_the_operators_checked_and_audited(network: Network, stations_db: str) -> None:
    mine, theirs = network.station(district="璧山区"), network.station(district="铜梁区")
    create_operator(stations_db, "bishan-rpc", ADMIN_PASSWORD, "district", "璧山区")
    create_operator(stations_db, "bishan-view", ADMIN_PASSWORD, "viewer", "璧山区")
    district = login(network.stations, "bishan-rpc", ADMIN_PASSWORD)
    viewer = login(network.stations, "bishan-view", ADMIN_PASSWORD)
    stub = bookings_pb2_grpc.BookingAdminStub(
        sync_channel(network.bookings.grpc_address, DEV_SERVICE_TOKEN)
    )

    def call(
        rpc: str, token: str, station_id: str = "", target: str = "", body: object = None
    ) -> bookings_pb2.BookingAdminReply:
        request = bookings_pb2.BookingAdminRequest(
            operator_token=token,
            station_id=station_id,
            target=target,
            body_json=json.dumps(body or {}),
        )
        reply: bookings_pb2.BookingAdminReply = getattr(stub, rpc)(request, timeout=10)
        return reply

    point = {"name": "直播角", "slot_minutes": 30}
    assert call("CreateLivestreamPoint", "nope", station_id=mine, body=point).code == (
        "unauthorized"
    )
    assert call("CreateLivestreamPoint", viewer, station_id=mine, body=point).code == "read_only"
    assert call("CreateLivestreamPoint", district, station_id=theirs, body=point).code == (
        "station_not_found"
    )
    invalid = call("CreateLivestreamPoint", district, station_id=mine, body={"slot_minutes": 7})
    assert invalid.code == "invalid"
    assert {e.field for e in invalid.errors} == {"name", "slot_minutes"}
    garbled = bookings_pb2.BookingAdminRequest(
        operator_token=district, station_id=mine, body_json="{not json"
    )
    refused = stub.CreateLivestreamPoint(garbled, timeout=10)
    assert refused.code == "invalid"
    assert [e.field for e in refused.errors] == ["name"]
    made = call("CreateLivestreamPoint", district, station_id=mine, body=point)
    assert made.code == "", made
    point_id = json.loads(made.result_json)["id"]
    listed = call("ListLivestreamPoints", viewer, station_id=mine)
    assert [p["id"] for p in json.loads(listed.result_json)["items"]] == [point_id]
    assert call("ListLivestreamPoints", district, station_id=theirs).code == "station_not_found"

    start = datetime.now(UTC) + timedelta(days=2)
    session = {
        "topic": "议事会",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "seats": 10,
    }
    created = call("CreateForumSession", district, station_id=mine, body=session)
    session_id = json.loads(created.result_json)["id"]
    started = call("UpdateForumSession", district, target=str(session_id), body={"seats": 0})
    assert started.code == "invalid"
    assert [e.field for e in started.errors] == ["seats"]
    assert call("CancelForumSession", district, target="x").code == "session_unknown"
    assert call("CancelForumSession", district, target=str(session_id)).code == ""

    held = call(
        "CreateForumSession",
        district,
        station_id=mine,
        body={
            **session,
            "start": (start - timedelta(days=4)).isoformat(),
            "end": (start - timedelta(days=4) + timedelta(hours=1)).isoformat(),
        },
    )
    held_id = json.loads(held.result_json)["id"]
    sessions = json.loads(call("ListForumSessions", district, station_id=mine).result_json)
    # The console sees the sessions held lately too (to record their opinions).
    assert {s["id"] for s in sessions["items"]} == {session_id, held_id}
    opinion = call(
        "RecordOpinion",
        district,
        body={"forum_session_id": held_id, "category": "charging", "text": "充电桩太少"},
    )
    opinion_id = json.loads(opinion.result_json)["id"]
    moved = call("MoveOpinion", district, target=str(opinion_id), body={"status": "declined"})
    assert moved.code == "reason_required"
    assert [e.field for e in moved.errors] == ["reason"]
    checked = call("CheckInBooking", district, target="NOPE1234")
    assert checked.code == "booking_not_found"

    audit = json.loads(call("ListAudit", district, station_id=mine).result_json)["items"]
    assert [(e["action"], e["entity"]) for e in audit] == [
        ("record", "opinion"),
        ("create", "forum_session"),
        ("cancel", "forum_session"),
        ("create", "forum_session"),
        ("create", "livestream_point"),
    ]
    assert {e["actor"] for e in audit} == {"bishan-rpc"}
    assert call("ListAudit", district, station_id=theirs).code == "station_not_found"
