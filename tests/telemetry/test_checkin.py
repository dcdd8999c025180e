"""Answers to kiosk scans, also when bookings cannot be asked."""

import json
import threading
from datetime import UTC, datetime

import grpc

from yizhan.api.bookings.v1 import bookings_pb2
from yizhan.telemetry.ingest.checkin import CheckinResponder, answer_payload
from yizhan.telemetry.ingest.protocol import Event

SCAN = Event("S1", "K1", 1, datetime.now(UTC), "checkin.scan", ref="LS7F3K9Q")


def test_the_answer_has_the_contract_shape() -> None:
    assert json.loads(answer_payload("LS7F3K9Q", True, None, "", "")) == {
        "v": 1,
        "type": "checkin.result",
        "code": "LS7F3K9Q",
        "ok": True,
        "reason": None,
        "message": {"zh": "签到成功", "en": "Checked in"},
    }
    refused = json.loads(answer_payload("X", False, "cancelled", "", "Cancelled by you"))
    assert (refused["ok"], refused["reason"]) == (False, "cancelled")
    assert refused["message"] == {"zh": "该预约已取消", "en": "Cancelled by you"}


class Unreachable(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE


class Desk:
    def __init__(self, reply: bookings_pb2.CheckInResponse | None) -> None:
        self.reply = reply
        self.CheckIn = self

    def __call__(
        self, request: bookings_pb2.CheckInRequest, timeout: float
    ) -> bookings_pb2.CheckInResponse:
        if self.reply is None:
            raise Unreachable()
        return self.reply


def answer(desk: Desk) -> tuple[str, dict[str, object]]:
    published: list[tuple[str, bytes]] = []
    done = threading.Event()

    def publish(topic: str, payload: bytes) -> bool:
        published.append((topic, payload))
        done.set()
        return True

    responder = CheckinResponder(desk, publish, workers=1, timeout_seconds=1)  # type: ignore[arg-type]
    responder.submit([SCAN])
    responder.close()
    assert done.is_set()
    ((topic, payload),) = published
    return topic, json.loads(payload)


def test_bookings_decides() -> None:
    topic, body = answer(Desk(bookings_pb2.CheckInResponse(ok=False, reason="too_early")))
    assert topic == "yz/v1/st/S1/dev/K1/down"
    assert (body["ok"], body["reason"], body["code"]) == (False, "too_early", "LS7F3K9Q")


def test_bookings_unreachable_still_gets_an_answer() -> None:
    _, body = answer(Desk(None))
    assert (body["ok"], body["reason"]) == (False, "unavailable")
    assert body["message"] == {
        "zh": "暂时无法签到，请稍后再试",
        "en": "Check-in is unavailable; please try again",
    }
