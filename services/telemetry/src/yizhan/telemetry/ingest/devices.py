"""Which station a device belongs to: asked of stations (gRPC ResolveDevice), cached."""

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import grpc

from yizhan.api.stations.v1 import stations_pb2, stations_pb2_grpc
from yizhan.telemetry.ingest.protocol import Rejection
from yizhan.telemetry.rpc.status import status_code

log = logging.getLogger(__name__)

RESOLVE_TIMEOUT_SECONDS = 2.0
# Unknown device ids come from outside: bound the cache so that a spray of ids cannot grow it
# without end.
MAX_CACHED_DEVICES = 200_000
REVOKED = "revoked"


@dataclass(frozen=True)
class DeviceInfo:
    """What ingest needs to know of a registered device."""

    id: str
    station_id: str
    kind: str
    status: str
    district: str


class StationsUnavailable(Exception):
    """Stations did not answer for devices we have never resolved: the batch must wait."""


def check_device(topic_station_id: str, device: DeviceInfo | None) -> Rejection | None:
    """Why a message from this device on this station's topic is refused, if it is."""
    if device is None:
        return Rejection("unknown_device", "no such device is registered")
    if device.status == REVOKED:
        return Rejection("unknown_device", "the device is revoked")
    if device.station_id != topic_station_id:
        return Rejection("station_mismatch", f"the device belongs to station {device.station_id}")
    return None


@dataclass
class _Entry:
    device: DeviceInfo | None
    expires: float


class DeviceResolver:
    """ResolveDevice with a TTL cache (used by the writer thread only). When stations is
    down, expired entries are still used; only devices never seen before make the caller
    wait."""

    def __init__(
        self,
        stub: stations_pb2_grpc.StationDirectoryStub,
        *,
        ttl_seconds: float,
        unknown_ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stub = stub
        self._ttl = ttl_seconds
        self._unknown_ttl = unknown_ttl_seconds
        self._clock = clock
        self._cache: dict[str, _Entry] = {}

    def resolve_many(self, device_ids: Iterable[str]) -> dict[str, DeviceInfo | None]:
        """Each device's registration (None: unknown); raises StationsUnavailable."""
        now = self._clock()
        result: dict[str, DeviceInfo | None] = {}
        misses: list[str] = []
        for device_id in set(device_ids):
            entry = self._cache.get(device_id)
            if entry is not None and entry.expires > now:
                result[device_id] = entry.device
            else:
                misses.append(device_id)
        if not misses:
            return result
        # All misses of a batch are asked at once, so a cold cache costs one round trip.
        calls = {
            device_id: self._stub.ResolveDevice.future(
                stations_pb2.ResolveDeviceRequest(device_id=device_id),
                timeout=RESOLVE_TIMEOUT_SECONDS,
            )
            for device_id in misses
        }
        unanswered: list[str] = []
        for device_id, call in calls.items():
            try:
                reply = call.result()
            except grpc.RpcError as exc:
                code = status_code(exc)
                if code == grpc.StatusCode.NOT_FOUND:
                    result[device_id] = self._remember(device_id, None, now + self._unknown_ttl)
                    continue
                stale = self._cache.get(device_id)
                if stale is None:
                    unanswered.append(device_id)
                else:
                    result[device_id] = stale.device
                log.warning(
                    "stations did not resolve a device",
                    extra={"device_id": device_id, "code": str(code), "stale": stale is not None},
                )
                continue
            device = DeviceInfo(
                id=reply.id or device_id,
                station_id=reply.station_id,
                kind=reply.kind,
                status=reply.status,
                district=reply.district,
            )
            result[device_id] = self._remember(device_id, device, now + self._ttl)
        if unanswered:
            raise StationsUnavailable(f"stations did not answer for {len(unanswered)} devices")
        return result

    def _remember(
        self, device_id: str, device: DeviceInfo | None, expires: float
    ) -> DeviceInfo | None:
        if len(self._cache) >= MAX_CACHED_DEVICES:
            now = self._clock()
            self._cache = {k: e for k, e in self._cache.items() if e.expires > now}
            if len(self._cache) >= MAX_CACHED_DEVICES:
                self._cache.clear()
        self._cache[device_id] = _Entry(device, expires)
        return device
