"""The telemetry service as bookings uses it: what each device can offer now, for the public
station finder. Telemetry's API process answers; it never calls bookings (no cycle)."""

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import grpc

from yizhan.api.telemetry.v1 import telemetry_pb2
from yizhan.bookings.errors import PeerUnavailable
from yizhan.bookings.metrics import PEER_ERRORS
from yizhan.common.pbtime import from_pb

if TYPE_CHECKING:
    from yizhan.api.telemetry.v1.telemetry_pb2_grpc import TelemetryQueryAsyncStub

# The finder answers without telemetry rather than late: past this, availability is unknown.
DEADLINE_SECONDS = 2.0


@dataclass(frozen=True)
class LiveDevice:
    """One device as telemetry last heard of it."""

    device_id: str
    station_id: str
    online: bool
    last_seen: datetime
    charging: bool
    critical_alarm: bool
    any_alarm: bool


class TelemetryClient:
    """Typed calls to TelemetryQuery; any failure becomes PeerUnavailable."""

    def __init__(self, stub: "TelemetryQueryAsyncStub") -> None:
        self._stub = stub

    async def live_devices(self) -> list[LiveDevice]:
        """Every device that has reported, with its sessions and alarms now."""
        request = telemetry_pb2.ListDeviceAvailabilityRequest(all_stations=True)
        try:
            reply = await self._stub.ListDeviceAvailability(request, timeout=DEADLINE_SECONDS)
        except grpc.aio.AioRpcError as exc:
            PEER_ERRORS.labels("telemetry").inc()
            raise PeerUnavailable("telemetry_unavailable") from exc
        return [
            LiveDevice(
                device_id=d.device_id,
                station_id=d.station_id,
                online=d.online,
                last_seen=from_pb(d.last_seen),
                charging=d.charging,
                critical_alarm=d.critical_alarm,
                any_alarm=d.any_alarm,
            )
            for d in reply.devices
        ]
