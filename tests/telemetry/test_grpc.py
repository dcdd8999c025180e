"""gRPC TelemetryQuery over the real server, with the service credential."""

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from tests.support.services import RunningService
from tests.telemetry.conftest import Database, Kiosk, Registry, unique, wait_until
from yizhan.api.telemetry.v1 import telemetry_pb2, telemetry_pb2_grpc
from yizhan.common.pbtime import to_pb
from yizhan.common.rpc import sync_channel
from yizhan.common.settings import DEV_SERVICE_TOKEN

pytestmark = pytest.mark.integration


def test_summaries_and_device_states(
    telemetry: RunningService, telemetry_database: Database, registry: Registry, kiosk: Kiosk
) -> None:
    station = registry.station(unique("ST"))
    counter = registry.device(station, unique("counter"), "counter")
    idle = registry.device(station, unique("idle"), "water")
    now = datetime.now(UTC)
    base = f"yz/v1/st/{station}/dev/{counter}"
    kiosk.publish(
        f"{base}/event", {"v": 1, "seq": 1, "ts": now.isoformat(), "type": "visit", "count": 4}
    )
    kiosk.publish(
        f"{base}/event",
        {
            "v": 1,
            "seq": 2,
            "ts": now.isoformat(),
            "type": "fault",
            "code": "DOOR",
            "severity": "warning",
        },
    )
    kiosk.publish(
        f"yz/v1/st/{station}/dev/{idle}/status", {"v": 1, "state": "offline", "ts": now.isoformat()}
    )
    wait_until(lambda: telemetry_database.has_key(counter, 2))
    wait_until(
        lambda: telemetry_database.value(
            "SELECT count(*) FROM device_state WHERE device_id = %s", (idle,)
        )
    )
    # The idle device's offline status opens its `offline` alarm (offline_alarms.py).
    wait_until(
        lambda: telemetry_database.value(
            "SELECT count(*) FROM alarms WHERE device_id = %s AND code = 'offline'", (idle,)
        )
    )

    with sync_channel(telemetry.grpc_address, DEV_SERVICE_TOKEN) as channel:
        stub = telemetry_pb2_grpc.TelemetryQueryStub(channel)
        request = telemetry_pb2.SummarizeStationsRequest(
            station_ids=[station, "nowhere"],
            to=to_pb(now + timedelta(minutes=1)),
            **{"from": to_pb(now - timedelta(hours=1))},
        )
        reply = stub.SummarizeStations(request, timeout=5)
        mine, nowhere = reply.stations
        assert mine.station_id == station
        assert mine.figures.visits == 4
        assert (mine.devices_seen, mine.devices_online, mine.open_alarms) == (2, 1, 2)
        assert nowhere.station_id == "nowhere"
        assert nowhere.figures.visits == 0

        states = stub.GetDeviceStates(
            telemetry_pb2.GetDeviceStatesRequest(station_id=station), timeout=5
        )
        by_id = {d.device_id: d for d in states.devices}
        assert by_id[counter].online
        assert not by_id[idle].online
        assert [a.code for a in by_id[counter].alarms] == ["DOOR"]

        def usage(**scope: Any) -> telemetry_pb2.GetUsageResponse:
            request = telemetry_pb2.GetUsageRequest(
                to=to_pb(now + timedelta(minutes=1)), bucket="hour", tz="UTC", **scope
            )
            getattr(request, "from").CopyFrom(to_pb(now - timedelta(minutes=1)))
            reply: telemetry_pb2.GetUsageResponse = stub.GetUsage(request, timeout=5)
            return reply

        # Scope crosses gRPC as station ids only: telemetry never asks stations about it.
        mine_only = usage(station_ids=[station])
        assert mine_only.totals.visits == 4
        assert sum(b.figures.visits for b in mine_only.series) == 4
        assert usage(all_stations=True).totals.visits >= 4
        assert usage(station_ids=[]).totals.visits == 0

        with pytest.raises(grpc.RpcError) as refused:
            stub.GetUsage(telemetry_pb2.GetUsageRequest(bucket="fortnight"), timeout=5)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_calls_without_the_service_credential_are_refused(telemetry: RunningService) -> None:
    with grpc.insecure_channel(telemetry.grpc_address) as channel:
        stub = telemetry_pb2_grpc.TelemetryQueryStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetDeviceStates(telemetry_pb2.GetDeviceStatesRequest(station_id="x"), timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
