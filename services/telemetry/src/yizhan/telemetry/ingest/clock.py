"""Telling kiosks the time (CONTRACT §2): `{"v":1,"type":"time","now":"..."}` on a device's
`down` topic, when it asks (`time.sync`) and, unasked, when one of its messages was just
dead-lettered as `ts_future` or `ts_stale`, so that a kiosk with a wrong clock can correct it.
Unasked times go at most once a minute per device: a kiosk replaying a backlog with a wrong
clock must not get one answer per message."""

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from yizhan.common.mqtt import device_topic
from yizhan.telemetry.ingest import metrics
from yizhan.telemetry.ingest.protocol import DOWNLINK_CHANNEL, PROTOCOL_VERSION

UNASKED_EVERY_SECONDS: Final = 60.0
# Bounds the memory of when each device was last told (devices come from outside).
_REMEMBERED_DEVICES: Final = 100_000


@dataclass(frozen=True)
class TimeRequest:
    """A device to tell the time: it asked, or its clock just got a message refused."""

    station_id: str
    device_id: str
    asked: bool


def time_payload(now: datetime) -> bytes:
    """The `time` message: UTC with milliseconds, `Z`."""
    stamp = now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps({"v": PROTOCOL_VERSION, "type": "time", "now": stamp}).encode()


class TimeTeller:
    """Publishes the time to the devices that need it (called after a batch is handled)."""

    def __init__(
        self,
        publish: Callable[[str, bytes], bool],
        *,
        unasked_every_seconds: float = UNASKED_EVERY_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._publish = publish
        self._every = unasked_every_seconds
        self._monotonic = monotonic
        self._last_unasked: dict[str, float] = {}

    def tell(self, requests: Sequence[TimeRequest]) -> None:
        """Answer every request that asked; tell the others unless told within a minute."""
        for request in requests:
            if not request.asked and not self._due(request.device_id):
                continue
            topic = device_topic(request.station_id, request.device_id, DOWNLINK_CHANNEL)
            published = self._publish(topic, time_payload(datetime.now(UTC)))
            kind = "asked" if request.asked else "unasked"
            metrics.TIME_ANSWERS.labels(kind if published else "not_published").inc()

    def _due(self, device_id: str) -> bool:
        now = self._monotonic()
        last = self._last_unasked.get(device_id)
        if last is not None and now - last < self._every:
            return False
        if len(self._last_unasked) >= _REMEMBERED_DEVICES:
            self._last_unasked = {
                device: at for device, at in self._last_unasked.items() if now - at < self._every
            }
        self._last_unasked[device_id] = now
        return True
