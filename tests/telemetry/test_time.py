"""Time for kiosks (CONTRACT §2): `time.sync` answered on `down` within 2 s, never refused
for its ts and never stored; a device whose message was refused for its ts is told the time
unasked, at most once a minute; an unknown device is told nothing."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.services import RunningService
from tests.telemetry.conftest import Database, Kiosk, Registry, unique, wait_until
from yizhan.telemetry.ingest.clock import TimeRequest, TimeTeller, time_payload


def _sent_by(teller_calls: list[tuple[str, bytes]]) -> list[str]:
    return [topic for topic, _ in teller_calls]


@pytest.mark.unit
def test_unasked_times_go_at_most_once_a_minute_per_device() -> None:
    calls: list[tuple[str, bytes]] = []
    clock = [1000.0]

    def publish(topic: str, payload: bytes) -> bool:
        calls.append((topic, payload))
        return True

    teller = TimeTeller(publish, monotonic=lambda: clock[0])
    unasked = TimeRequest("S1", "D1", asked=False)
    teller.tell([unasked, unasked, TimeRequest("S1", "D2", asked=False)])
    assert _sent_by(calls) == ["yz/v1/st/S1/dev/D1/down", "yz/v1/st/S1/dev/D2/down"]
    clock[0] += 59
    teller.tell([unasked, TimeRequest("S1", "D1", asked=True)])  # asking is always answered
    assert _sent_by(calls)[2:] == ["yz/v1/st/S1/dev/D1/down"]
    clock[0] += 1
    teller.tell([unasked])
    assert len(calls) == 4


@pytest.mark.unit
def test_the_time_message_has_the_contract_shape() -> None:
    moment = datetime(2026, 11, 23, 4, 10, 0, 123000, tzinfo=UTC)
    assert time_payload(moment) == b'{"v": 1, "type": "time", "now": "2026-11-23T04:10:00.123Z"}'


def _down(kiosk: Kiosk, topic: str) -> list[dict[str, object]]:
    return [m for m in kiosk.messages(topic) if m.get("type") == "time"]


@pytest.mark.integration
def test_time_on_down_asked_and_unasked(
    ingest: RunningService, telemetry_database: Database, registry: Registry, kiosk: Kiosk
) -> None:
    station = registry.station(unique("ST"))
    device = registry.device(station, unique("kiosk"), "kiosk")
    base = f"yz/v1/st/{station}/dev/{device}"
    kiosk.listen(f"{base}/down")
    hour_fast = (datetime.now(UTC) + timedelta(hours=1)).isoformat()

    # Asked, with a clock an hour fast: answered within 2 s, nothing stored.
    kiosk.publish(f"{base}/event", {"v": 1, "seq": 1, "ts": hour_fast, "type": "time.sync"})
    answers = wait_until(lambda: _down(kiosk, f"{base}/down"), timeout=2.0)
    told = datetime.fromisoformat(str(answers[0]["now"]).replace("Z", "+00:00"))
    assert abs((told - datetime.now(UTC)).total_seconds()) < 5
    assert str(answers[0]["now"]).endswith("Z")

    # Its next message, an hour fast, is refused: the time comes unasked, once a minute.
    kiosk.publish(f"{base}/event", {"v": 1, "seq": 2, "ts": hour_fast, "type": "visit", "count": 1})
    kiosk.publish(f"{base}/event", {"v": 1, "seq": 3, "ts": hour_fast, "type": "visit", "count": 1})
    wait_until(lambda: len(_down(kiosk, f"{base}/down")) >= 2, timeout=5)
    # Corrected, it is stored (the sentinel that everything before was handled).
    now = datetime.now(UTC).isoformat()
    kiosk.publish(f"{base}/event", {"v": 1, "seq": 4, "ts": now, "type": "visit", "count": 1})
    wait_until(lambda: telemetry_database.has_key(device, 4))
    assert len(_down(kiosk, f"{base}/down")) == 2
    reasons = telemetry_database.rows(
        "SELECT reason FROM dead_letters WHERE device_id = %s ORDER BY id", (device,)
    )
    assert reasons == [("ts_future",), ("ts_future",)]
    assert (
        telemetry_database.value(
            "SELECT count(*) FROM message_keys WHERE device_id = %s", (device,)
        )
        == 1
    )  # the time.sync was not stored

    # A device nobody registered asks: a dead letter, no answer.
    stranger = f"yz/v1/st/{station}/dev/{unique('nobody')}"
    kiosk.listen(f"{stranger}/down")
    kiosk.publish(f"{stranger}/event", {"v": 1, "seq": 1, "ts": now, "type": "time.sync"})
    wait_until(
        lambda: (
            telemetry_database.value(
                "SELECT count(*) FROM dead_letters WHERE topic = %s", (f"{stranger}/event",)
            )
            == 1
        )
    )
    time.sleep(0.5)
    assert _down(kiosk, f"{stranger}/down") == []
