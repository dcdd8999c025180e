"""Bulk import of stations and devices (POST /api/v1/imports, and gRPC ImportRegistry for the
console): a dry run reports every bad row at once and writes nothing; an apply writes all
rows or none; the devices' passwords come back once; a district operator imports only into
their own districts. Also the console's other new calls: read, update, rotate, revoke."""

import json
from typing import Any

import httpx
import pytest

from tests.stations.conftest import create_operator, login
from tests.support.services import RunningService
from yizhan.api.stations.v1 import stations_pb2, stations_pb2_grpc
from yizhan.common.rpc import sync_channel
from yizhan.common.settings import DEV_SERVICE_TOKEN

pytestmark = pytest.mark.integration

STATION_COLUMNS = ["id", "name_zh", "name_en", "district", "latitude", "opening_hours"]
DEVICE_COLUMNS = ["station_id", "id", "kind"]


def _rows(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    return [{"row": number, "cells": cells} for number, cells in enumerate(rows, start=2)]


def _body(stations: list[dict[str, str]], devices: list[dict[str, str]], dry_run: bool) -> Any:
    return {
        "dry_run": dry_run,
        "station_columns": STATION_COLUMNS,
        "device_columns": DEVICE_COLUMNS,
        "stations": _rows(stations),
        "devices": _rows(devices),
    }


def _station(station_id: str, district: str = "大渡口区", **cells: str) -> dict[str, str]:
    return {
        "id": station_id,
        "name_zh": "导入驿站",
        "name_en": "Imported",
        "district": district,
        "latitude": "29.48",
        "opening_hours": "mon-fri 08:00-20:00; sat,sun 09:00-17:00",
        **cells,
    }


def test_dry_run_reports_every_bad_row_and_apply_is_all_or_nothing(
    stations: RunningService, stations_db: str, admin: httpx.Client
) -> None:
    create_operator(stations_db, "imp-d", "imp-district-password", "district", "大渡口区")
    district = {"Authorization": f"Bearer {login(stations, 'imp-d', 'imp-district-password')}"}
    admin.post(
        "/api/v1/stations",
        json={"id": "T-IMP-OLD", "name": {"zh": "旧", "en": "Old"}, "district": "大渡口区"},
    ).raise_for_status()
    good = [_station("T-IMP-1"), _station("T-IMP-2")]
    bad = [
        _station("T-IMP-3", latitude="北纬"),  # row 4
        _station("T-IMP-1"),  # row 5: twice in the file
        _station("T-IMP-OLD"),  # row 6: registered already
        _station("T-IMP-4", district="渝中区"),  # row 7: not the operator's district
        _station("T-IMP 5", name_en="", opening_hours="mon 8-20"),  # row 8: three cells
    ]
    devices = [
        {"station_id": "T-IMP-1", "id": "T-IMP-1-k", "kind": "kiosk"},
        {"station_id": "T-IMP-OLD", "id": "T-IMP-OLD-w", "kind": "water"},
        {"station_id": "T-IMP-NONE", "id": "T-IMP-x", "kind": "kiosk"},  # row 4
        {"station_id": "T-IMP-2", "id": "T-IMP-1-k", "kind": "toaster"},  # row 5
    ]
    url = f"{stations.base_url}/api/v1/imports"
    dry = httpx.post(url, json=_body(good + bad, devices, True), headers=district)
    assert dry.status_code == 200, dry.text
    found = {(i["sheet"], i["row"], i["column"], i["code"]) for i in dry.json()["issues"]}
    assert found == {
        ("stations", 4, "latitude", "not_a_number"),
        ("stations", 5, "id", "duplicate"),
        ("stations", 6, "id", "exists"),
        ("stations", 7, "district", "out_of_scope"),
        ("stations", 8, "id", "bad_id"),
        ("stations", 8, "name_en", "missing"),
        ("stations", 8, "opening_hours", "bad_hours"),
        ("devices", 4, "station_id", "unknown_station"),
        ("devices", 5, "id", "duplicate"),
        ("devices", 5, "kind", "unknown_value"),
    }
    # Applying the same file writes nothing at all, not even its good rows.
    applied = httpx.post(url, json=_body(good + bad, devices, False), headers=district)
    assert applied.json()["applied"] is False
    assert admin.get("/api/v1/stations/T-IMP-1").status_code == 404

    # The good rows alone: everything is written, audited, with the passwords once.
    done = httpx.post(url, json=_body(good, devices[:2], False), headers=district)
    result = done.json()
    assert (result["applied"], result["stations"], result["devices"]) == (True, 2, 2), result
    assert {c["device_id"] for c in result["credentials"]} == {"T-IMP-1-k", "T-IMP-OLD-w"}
    assert all(len(c["password"]) >= 16 for c in result["credentials"])
    station = admin.get("/api/v1/stations/T-IMP-2").json()
    assert station["opening_hours"]["sat"] == [["09:00", "17:00"]]
    assert "fri" in station["opening_hours"]
    assert station["latitude"] == 29.48
    device = admin.get("/api/v1/stations/T-IMP-1/devices/T-IMP-1-k").json()
    assert device["kind"] == "kiosk"
    audit = admin.get("/api/v1/audit", params={"station_id": "T-IMP-1"}).json()["items"]
    assert {(e["action"], e["actor"]) for e in audit} == {
        ("station.import", "imp-d"),
        ("device.provision", "imp-d"),
    }
    # The same again: every row now exists.
    again = httpx.post(url, json=_body(good, [], True), headers=district).json()
    assert [(i["row"], i["code"]) for i in again["issues"]] == [(2, "exists"), (3, "exists")]


def test_console_calls_read_update_rotate_and_revoke(
    stations: RunningService, stations_db: str
) -> None:
    create_operator(stations_db, "imp-e", "imp-edit-password", "district", "沙坪坝区")
    token = login(stations, "imp-e", "imp-edit-password")
    stub = stations_pb2_grpc.StationAdminStub(
        sync_channel(stations.grpc_address, DEV_SERVICE_TOKEN)
    )

    def call(method: str, station: str, body: Any = None, device: str = "") -> Any:
        request = stations_pb2.AdminRequest(
            operator_token=token,
            station_id=station,
            device_id=device,
            body_json=json.dumps(body or {}),
        )
        return getattr(stub, method)(request, timeout=10)

    body = {"id": "T-EDIT-1", "name": {"zh": "编辑", "en": "Edit"}, "district": "沙坪坝区"}
    assert call("CreateStation", "", body).code == ""
    hours = {"mon": [["08:00", "18:00"]]}
    exceptions = [{"start": "2026-10-01", "end": "2026-10-03", "hours": [], "note": "国庆"}]
    changed = call(
        "UpdateStation", "T-EDIT-1", {"opening_hours": hours, "opening_exceptions": exceptions}
    )
    assert changed.code == "", changed
    read = json.loads(call("ReadStation", "T-EDIT-1").result_json)
    assert read["opening_hours"] == hours
    assert read["opening_exceptions"][0]["note"] == "国庆"
    bad = call("UpdateStation", "T-EDIT-1", {"opening_hours": {"mon": [["18:00", "08:00"]]}})
    assert bad.code == "invalid"
    assert [(e.field, e.code) for e in bad.errors] == [("opening_hours", "value_error")]
    assert call("UpdateStation", "T-EDIT-1", {"district": "渝中区"}).code == "out_of_scope"
    assert call("ReadStation", "CQ-ELSEWHERE").code == "station_not_found"

    first = json.loads(
        call("ProvisionDevice", "T-EDIT-1", {"id": "T-EDIT-1-k", "kind": "kiosk"}).result_json
    )
    rotated = json.loads(call("RotateDevice", "T-EDIT-1", device="T-EDIT-1-k").result_json)
    assert rotated["mqtt"]["password"] != first["mqtt"]["password"]
    revoked = json.loads(call("RevokeDevice", "T-EDIT-1", device="T-EDIT-1-k").result_json)
    assert revoked["status"] == "revoked"
    assert call("RotateDevice", "T-EDIT-1", device="T-EDIT-1-k").code == "conflict"


def test_console_import_writes_stations_with_their_devices(
    stations: RunningService, stations_db: str
) -> None:
    create_operator(stations_db, "imp-g", "imp-grpc-password", "district", "北碚区")
    token = login(stations, "imp-g", "imp-grpc-password")
    stub = stations_pb2_grpc.StationAdminStub(
        sync_channel(stations.grpc_address, DEV_SERVICE_TOKEN)
    )
    header = ["id", "name_zh", "name_en", "district", "latitude", "opening_hours"]
    body = {
        "station_columns": header,
        "device_columns": DEVICE_COLUMNS,
        "stations": _rows(
            [
                _station("T-GI-1", "北碚区"),
                {"id": "T-GI-2", "name_zh": "二", "name_en": "Two", "district": "北碚区"},
            ]
        ),
        "devices": _rows(
            [
                {"station_id": "T-GI-1", "id": "T-GI-1-K1", "kind": "kiosk"},
                {"station_id": "T-GI-2", "id": "T-GI-2-W1", "kind": "water"},
            ]
        ),
    }
    for dry_run in (True, False):
        request = stations_pb2.AdminRequest(
            operator_token=token, body_json=json.dumps({**body, "dry_run": dry_run})
        )
        reply = stub.ImportRegistry(request, timeout=30)
        assert reply.code == "", reply
        result = json.loads(reply.result_json)
        assert result["issues"] == []
        assert result["applied"] is not dry_run
    assert len(result["credentials"]) == 2
