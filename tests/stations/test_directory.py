"""The gRPC StationDirectory as telemetry and bookings use it, over a real channel."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import grpc
import httpx
import pytest

from tests.stations.conftest import create_operator, login
from tests.support.services import RunningService
from yizhan.api.stations.v1 import stations_pb2, stations_pb2_grpc
from yizhan.common.pbtime import from_pb, to_pb
from yizhan.common.rpc import sync_channel
from yizhan.common.settings import DEV_SERVICE_TOKEN

pytestmark = pytest.mark.integration
Stub = stations_pb2_grpc.StationDirectoryStub


@pytest.fixture(scope="module")
def directory(stations: RunningService, admin: httpx.Client) -> Stub:
    admin.post(
        "/api/v1/stations",
        json={
            "id": "T-GRPC-1",
            "name": {"zh": "南坪驿站", "en": "Nanping"},
            "district": "南岸区",
            "opening_hours": {"mon": [["08:00", "12:00"], ["14:00", "20:00"]]},
        },
    )
    admin.post("/api/v1/stations/T-GRPC-1/devices", json={"id": "T-GRPC-1-kiosk", "kind": "kiosk"})
    return Stub(sync_channel(stations.grpc_address, DEV_SERVICE_TOKEN))


def test_resolve_device_names_its_station(
    directory: Stub,
) -> None:
    device = directory.ResolveDevice(stations_pb2.ResolveDeviceRequest(device_id="T-GRPC-1-kiosk"))
    assert (device.station_id, device.kind, device.district) == ("T-GRPC-1", "kiosk", "南岸区")
    with pytest.raises(grpc.RpcError) as missing:
        directory.ResolveDevice(stations_pb2.ResolveDeviceRequest(device_id="nobody"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_list_by_district(directory: Stub) -> None:
    reply = directory.ListStations(stations_pb2.ListStationsRequest(districts=["南岸区"]))
    assert "T-GRPC-1" in {s.id for s in reply.stations}
    assert all(s.district == "南岸区" for s in reply.stations)


def test_opening_hours_in_station_time(directory: Stub) -> None:
    # Monday 2026-11-23 in Shanghai: open 08-12 and 14-20 local, i.e. 00-04 and 06-12 UTC.
    request = stations_pb2.GetOpeningHoursRequest(
        station_id="T-GRPC-1", to=to_pb(datetime(2026, 11, 23, 16, tzinfo=UTC))
    )
    getattr(request, "from").CopyFrom(to_pb(datetime(2026, 11, 22, 16, tzinfo=UTC)))
    reply = directory.GetOpeningHours(request)
    assert reply.timezone == "Asia/Shanghai"
    spans = [(from_pb(i.start).hour, from_pb(i.end).hour) for i in reply.intervals]
    assert spans == [(0, 4), (6, 12)]


def test_calls_without_service_credential_are_refused(stations: RunningService) -> None:
    stub = stations_pb2_grpc.StationDirectoryStub(grpc.insecure_channel(stations.grpc_address))
    with pytest.raises(grpc.RpcError) as refused:
        stub.ListStations(stations_pb2.ListStationsRequest())
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_grpc_health_is_serving(stations: RunningService) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    stub = health_pb2_grpc.HealthStub(grpc.insecure_channel(stations.grpc_address))
    reply = stub.Check(health_pb2.HealthCheckRequest(service=""))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_opening_hours_apply_dated_exceptions(directory: Stub, admin: httpx.Client) -> None:
    closed_monday = [{"start": "2026-11-23", "hours": [], "note": "停电"}]
    reply = admin.patch("/api/v1/stations/T-GRPC-1", json={"opening_exceptions": closed_monday})
    assert reply.status_code == 200, reply.text
    request = stations_pb2.GetOpeningHoursRequest(
        station_id="T-GRPC-1", to=to_pb(datetime(2026, 11, 23, 16, tzinfo=UTC))
    )
    getattr(request, "from").CopyFrom(to_pb(datetime(2026, 11, 22, 16, tzinfo=UTC)))
    assert list(directory.GetOpeningHours(request).intervals) == []
    admin.patch("/api/v1/stations/T-GRPC-1", json={"opening_exceptions": []})
    assert len(directory.GetOpeningHours(request).intervals) == 2


def test_scope_check_judges_the_account_as_it_is_now(
    directory: Stub, stations: RunningService, stations_db: str
) -> None:
    Verdict = stations_pb2.CheckOperatorScopeResponse
    with ThreadPoolExecutor(2) as pool:
        made = [
            pool.submit(
                create_operator, stations_db, "scoped", "scoped-password", "district", "南岸区"
            ),
            pool.submit(create_operator, stations_db, "reader", "reader-password", "viewer"),
        ]
    for future in made:
        future.result()
    scoped = login(stations, "scoped", "scoped-password")
    reader = login(stations, "reader", "reader-password")

    def check(token: str, **fields: object) -> stations_pb2.CheckOperatorScopeResponse:
        request = stations_pb2.CheckOperatorScopeRequest(token=token, **fields)  # type: ignore[arg-type]
        reply: stations_pb2.CheckOperatorScopeResponse = directory.CheckOperatorScope(request)
        return reply

    allowed = check(scoped, station_id="T-GRPC-1", write=True)
    assert (allowed.verdict, allowed.role, list(allowed.districts)) == (
        Verdict.ALLOWED,
        "district",
        ["南岸区"],
    )
    assert check(scoped, district="渝中区").verdict == Verdict.FORBIDDEN
    assert check(scoped, station_id="nowhere").verdict == Verdict.NOT_FOUND
    assert check(reader, station_id="T-GRPC-1").verdict == Verdict.ALLOWED
    assert check(reader, station_id="T-GRPC-1", write=True).verdict == Verdict.FORBIDDEN
    assert check("forged").verdict == Verdict.UNAUTHENTICATED
    # Narrowing the account takes effect at once, although the token is still valid.
    create_operator(stations_db, "scoped", "scoped-password", "district", "渝中区")
    assert check(scoped, station_id="T-GRPC-1").verdict == Verdict.NOT_FOUND
