"""Answering a kiosk's booking scan (CONTRACT §2): bookings decides over gRPC, the answer
goes back on the device's `down` topic. Runs after the scan is committed, off the writer
thread, so a slow bookings service never holds up ingest."""

import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import grpc

from yizhan.api.bookings.v1 import bookings_pb2, bookings_pb2_grpc
from yizhan.common import tracing
from yizhan.common.mqtt import device_topic
from yizhan.telemetry.ingest import metrics
from yizhan.telemetry.ingest.protocol import DOWNLINK_CHANNEL, PROTOCOL_VERSION, Event
from yizhan.telemetry.rpc.status import status_code

log = logging.getLogger(__name__)

# Not one of the contract's reasons: bookings could not be asked, the worker may try again.
UNAVAILABLE: Final = "unavailable"
# Used when bookings leaves its messages empty.
MESSAGES: Final[dict[str | None, tuple[str, str]]] = {
    None: ("签到成功", "Checked in"),
    "not_found": ("未找到该预约", "Booking not found"),
    "wrong_station": ("该预约不在本驿站", "This booking is for another station"),
    "too_early": ("还未到签到时间", "Too early to check in"),
    "too_late": ("已过签到时间", "Too late to check in"),
    "cancelled": ("该预约已取消", "This booking was cancelled"),
    "already_checked_in": ("已签到", "Already checked in"),
    UNAVAILABLE: ("暂时无法签到，请稍后再试", "Check-in is unavailable; please try again"),
}


def answer_payload(code: str, ok: bool, reason: str | None, zh: str, en: str) -> bytes:
    """The `checkin.result` message a kiosk expects."""
    default_zh, default_en = MESSAGES.get(None if ok else reason, ("签到失败", "Check-in failed"))
    body = {
        "v": PROTOCOL_VERSION,
        "type": "checkin.result",
        "code": code,
        "ok": ok,
        "reason": None if ok else (reason or "not_found"),
        "message": {"zh": zh or default_zh, "en": en or default_en},
    }
    return json.dumps(body, ensure_ascii=False).encode()


class CheckinResponder:
    """A few threads that ask bookings and publish the answers."""

    def __init__(
        self,
        stub: bookings_pb2_grpc.BookingDeskStub,
        publish: Callable[[str, bytes], bool],
        *,
        workers: int,
        timeout_seconds: float,
    ) -> None:
        self._stub = stub
        self._publish = publish
        self._timeout = timeout_seconds
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="checkin")

    def submit(self, scans: list[Event]) -> None:
        """Answer these committed scans in the background."""
        for scan in scans:
            self._pool.submit(self._answer, scan)

    def close(self) -> None:
        """Finish the answers in progress (each bounded by the bookings timeout)."""
        self._pool.shutdown(wait=True)

    def _answer(self, scan: Event) -> None:
        # The scan's trace (from its device and seq): bookings logs the same trace id.
        with tracing.traced(tracing.message_trace(scan.device_id, scan.seq)):
            self._ask_and_publish(scan)

    def _ask_and_publish(self, scan: Event) -> None:
        code = scan.ref or ""
        request = bookings_pb2.CheckInRequest(
            code=code, station_id=scan.station_id, device_id=scan.device_id
        )
        try:
            reply = self._stub.CheckIn(request, timeout=self._timeout)
            payload = answer_payload(
                code, reply.ok, reply.reason or None, reply.message_zh, reply.message_en
            )
            outcome = "ok" if reply.ok else "refused"
        except grpc.RpcError as exc:
            status = status_code(exc)
            log.error(
                "bookings did not answer a check-in; telling the kiosk to retry",
                extra={
                    "device_id": scan.device_id,
                    "station_id": scan.station_id,
                    "code": str(status),
                },
            )
            payload = answer_payload(code, False, UNAVAILABLE, "", "")
            outcome = UNAVAILABLE
        except Exception:  # a thread of ours must never die silently
            log.exception("check-in answer failed", extra={"device_id": scan.device_id})
            payload = answer_payload(code, False, UNAVAILABLE, "", "")
            outcome = "error"
        topic = device_topic(scan.station_id, scan.device_id, DOWNLINK_CHANNEL)
        if self._publish(topic, payload):
            metrics.CHECKIN_ANSWERS.labels(outcome).inc()
        else:
            metrics.CHECKIN_ANSWERS.labels("not_published").inc()
