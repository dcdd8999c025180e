"""Device lookups: cached, unknown devices remembered briefly, outages tolerated."""

from typing import Any

import grpc
import pytest

from yizhan.api.stations.v1 import stations_pb2
from yizhan.telemetry.ingest.devices import (
    DeviceInfo,
    DeviceResolver,
    StationsUnavailable,
    check_device,
)


class RpcFailure(grpc.RpcError):
    """An RPC error as grpc raises it: with a status code."""

    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code


class Call:
    def __init__(self, outcome: Any) -> None:
        self._outcome = outcome

    def result(self) -> Any:
        if isinstance(self._outcome, Exception):
            raise self._outcome
        return self._outcome


class Directory:
    """A StationDirectory stub that answers from a dict, or fails when `down`."""

    def __init__(self, devices: dict[str, str]) -> None:
        self.devices = devices
        self.down = False
        self.asked: list[str] = []
        self.ResolveDevice = self

    def future(self, request: stations_pb2.ResolveDeviceRequest, timeout: float) -> Call:
        self.asked.append(request.device_id)
        if self.down:
            return Call(RpcFailure(grpc.StatusCode.UNAVAILABLE))
        station = self.devices.get(request.device_id)
        if station is None:
            return Call(RpcFailure(grpc.StatusCode.NOT_FOUND))
        return Call(
            stations_pb2.Device(
                id=request.device_id,
                station_id=station,
                kind="water",
                status="active",
                district="d",
            )
        )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def resolver(directory: Directory, clock: Clock) -> DeviceResolver:
    return DeviceResolver(directory, ttl_seconds=60, unknown_ttl_seconds=5, clock=clock)  # type: ignore[arg-type]


def test_cached_until_the_ttl_runs_out() -> None:
    directory, clock = Directory({"D1": "S1"}), Clock()
    devices = resolver(directory, clock)
    assert devices.resolve_many(["D1", "D1", "X"]) == {
        "D1": DeviceInfo("D1", "S1", "water", "active", "d"),
        "X": None,
    }
    assert sorted(directory.asked) == ["D1", "X"]
    clock.now = 4
    devices.resolve_many(["D1", "X"])
    assert len(directory.asked) == 2
    clock.now = 6  # the unknown device is asked again (it may have been registered since)
    devices.resolve_many(["D1", "X"])
    assert directory.asked[2:] == ["X"]


def test_an_outage_uses_what_is_known_and_holds_what_is_not() -> None:
    directory, clock = Directory({"D1": "S1", "D2": "S1"}), Clock()
    devices = resolver(directory, clock)
    devices.resolve_many(["D1"])
    directory.down = True
    clock.now = 120
    assert devices.resolve_many(["D1"])["D1"] is not None
    with pytest.raises(StationsUnavailable):
        devices.resolve_many(["D1", "D2"])


def test_check_device() -> None:
    device = DeviceInfo("D1", "S1", "water", "active", "d")
    assert check_device("S1", device) is None
    assert check_device("S2", device).reason == "station_mismatch"  # type: ignore[union-attr]
    assert check_device("S1", None).reason == "unknown_device"  # type: ignore[union-attr]
    revoked = DeviceInfo("D1", "S1", "water", "revoked", "d")
    assert check_device("S1", revoked).reason == "unknown_device"  # type: ignore[union-attr]
