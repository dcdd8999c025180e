"""gRPC StationAdmin, the console's way to change the registry: on behalf of the operator
whose token comes with the call, with the HTTP API's checks, field errors and audit."""

import json

import httpx
import pytest

from tests.stations.conftest import create_operator, login
from tests.support.services import RunningService
from yizhan.api.stations.v1 import stations_pb2, stations_pb2_grpc
from yizhan.common.rpc import sync_channel
from yizhan.common.settings import DEV_SERVICE_TOKEN

pytestmark = pytest.mark.integration


def test_changes_are_the_operators_checked_and_audited(
    stations: RunningService, stations_db: str, admin: httpx.Client
) -> None:
    create_operator(stations_db, "admin-rpc-d", "admin-rpc-password", "district", "江北区")
    create_operator(stations_db, "admin-rpc-v", "admin-rpc-password", "viewer", "江北区")
    district = login(stations, "admin-rpc-d", "admin-rpc-password")
    viewer = login(stations, "admin-rpc-v", "admin-rpc-password")
    stub = stations_pb2_grpc.StationAdminStub(
        sync_channel(stations.grpc_address, DEV_SERVICE_TOKEN)
    )

    def create(token: str, **body: object) -> stations_pb2.AdminReply:
        request = stations_pb2.AdminRequest(operator_token=token, body_json=json.dumps(body))
        reply: stations_pb2.AdminReply = stub.CreateStation(request, timeout=5)
        return reply

    station = {"id": "T-ADM-1", "name": {"zh": "观音桥", "en": "Guanyinqiao"}, "district": "江北区"}
    assert create("not-a-token", **station).code == "unauthorized"
    assert create(viewer, **station).code == "read_only"
    assert create(district, **{**station, "district": "渝中区"}).code == "out_of_scope"
    invalid = create(district, **{**station, "name": {"zh": "观音桥"}, "latitude": 91})
    assert invalid.code == "invalid"
    assert {e.field for e in invalid.errors} == {"name.en", "latitude"}

    done = create(district, **station)
    assert done.code == ""
    assert json.loads(done.result_json)["district"] == "江北区"
    assert create(district, **station).code == "conflict"

    provision = stations_pb2.AdminRequest(
        operator_token=district,
        station_id="T-ADM-1",
        body_json=json.dumps({"id": "T-ADM-1-k", "kind": "kiosk"}),
    )
    device = json.loads(stub.ProvisionDevice(provision, timeout=5).result_json)
    assert device["mqtt"]["username"]
    assert len(device["mqtt"]["password"]) >= 16
    elsewhere = stations_pb2.AdminRequest(
        operator_token=district, station_id="NOPE", body_json='{"id": "x-1", "kind": "kiosk"}'
    )
    assert stub.ProvisionDevice(elsewhere, timeout=5).code == "station_not_found"

    entries = admin.get("/api/v1/audit", params={"station_id": "T-ADM-1"}).json()["items"]
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("device.provision", "admin-rpc-d"),
        ("station.create", "admin-rpc-d"),
    ]
