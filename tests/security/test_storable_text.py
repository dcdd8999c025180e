"""Text PostgreSQL cannot store (issue 9, hole 5): NUL characters and lone surrogates are
refused with 422 (problem JSON naming the field) at every HTTP edge, and with
INVALID_ARGUMENT on gRPC, instead of a 500 or 503 and a traceback."""

import grpc
import httpx
import pytest

from tests.security.conftest import Network
from yizhan.api.stations.v1 import stations_pb2, stations_pb2_grpc
from yizhan.common import rpc
from yizhan.common.settings import DEV_SERVICE_TOKEN


@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("bookings", "/api/v1/livestream-points?station_id=%00x"),
        ("bookings", "/api/v1/forum-sessions?station_id=%00x"),
        ("bookings", "/api/v1/public/stations?q=a%00b"),
        ("stations", "/api/v1/stations/x%00y"),
        ("telemetry", "/api/v1/stations/x%00y/devices/state"),
    ],
)
def test_nul_in_a_query_or_path_is_a_field_error(network: Network, service: str, path: str) -> None:
    running = getattr(network, service)
    reply = httpx.get(f"{running.base_url}{path}", headers=_admin(network))
    assert reply.status_code == 422, reply.text
    assert reply.json()["errors"][0]["message"] == "must not contain NUL characters"


def _admin(network: Network) -> dict[str, str]:
    return {"Authorization": f"Bearer {network.tokens['admin']}"}


# Escaped in JSON as a client would send them: a NUL and a lone surrogate.
@pytest.mark.parametrize("bad", ["a\\u0000b", "a\\ud800b"])
def test_bad_text_in_json_and_forms_is_a_field_error(network: Network, bad: str) -> None:
    body = '{"phone":"13800138000","note":"' + bad + '"}'
    reply = httpx.post(
        f"{network.bookings.base_url}/api/v1/otp",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert reply.status_code == 422, reply.text
    assert reply.json()["errors"][0]["field"] == "body.note"
    form = httpx.post(
        f"{network.stations.base_url}/api/v1/auth/token",
        data={"username": "admin\x00", "password": "whatever-password"},
    )
    assert form.status_code == 422, form.text
    assert form.json()["errors"][0]["field"] == "body.username"


def test_nul_on_grpc_is_invalid_argument(network: Network) -> None:
    with rpc.sync_channel(network.stations.grpc_address, DEV_SERVICE_TOKEN) as channel:
        stub = stations_pb2_grpc.StationDirectoryStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetStation(stations_pb2.GetStationRequest(id="x\x00y"), timeout=5)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
