"""Protocol checks beyond the shared examples: JSON corner cases, bounds, status, topics."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from yizhan.telemetry.ingest.protocol import (
    MAX_PAYLOAD_BYTES,
    Event,
    Rejection,
    Status,
    Telemetry,
    parse_topic,
    validate,
)
from yizhan.telemetry.rfc3339 import parse_rfc3339

NOW = datetime(2026, 11, 23, 4, 0, 30, tzinfo=UTC)
EVENT = "yz/v1/st/S1/dev/D1/event"
TELEMETRY = "yz/v1/st/S1/dev/D1/telemetry"
STATUS = "yz/v1/st/S1/dev/D1/status"
TS = "2026-11-23T12:00:00+08:00"


def check(topic: str, payload: Any) -> Any:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return validate(topic, data, NOW)


def reason(topic: str, payload: Any) -> str:
    result = check(topic, payload)
    assert isinstance(result, Rejection), result
    return result.reason


def event(**fields: Any) -> dict[str, Any]:
    return {"v": 1, "seq": 1, "ts": TS, **fields}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"\xff\xfe{}", "malformed_json"),  # not UTF-8
        (b'{"v":1,"seq":1,"ts":1,"metrics":{"a":NaN}}', "malformed_json"),
        (b"[" * 5000, "malformed_json"),  # nesting that would blow the stack
        (b'"just a string"', "malformed_json"),
        ({"seq": 1, "ts": TS, "type": "visit", "count": 1}, "invalid"),  # no v
        ({"v": True, "seq": 1, "ts": TS, "type": "visit", "count": 1}, "invalid"),
        ({"v": "1", "seq": 1, "ts": TS, "type": "visit", "count": 1}, "invalid"),
        ({"v": 2, "seq": 1, "ts": TS, "type": "visit", "count": 1}, "unsupported_version"),
        (event(seq=1.0, type="visit", count=1), "invalid"),
        (event(seq=True, type="visit", count=1), "invalid"),
        (event(seq=2**63, type="visit", count=1), "out_of_range"),
        (event(seq=2**64, type="visit", count=1), "out_of_range"),  # beyond orjson's ints
        (event(seq=-(2**63) - 1, type="visit", count=1), "out_of_range"),
        (event(type="visit", count=1001), "out_of_range"),
        (event(type="visit", count=0), "out_of_range"),
        (event(type=5, count=1), "invalid"),
        (event(count=1), "invalid"),
        (event(type="charge.start", session="a", connector=0), "out_of_range"),
        (event(type="charge.start", session="", connector=1), "out_of_range"),
        (event(type="charge.start", session="x" * 65, connector=1), "out_of_range"),
        (event(type="charge.start", session="a\u0000b", connector=1), "invalid"),
        (event(type="charge.stop", session="a", energy_wh=-1), "out_of_range"),
        (event(type="charge.stop", session="a", energy_wh=1, reason="bored"), "invalid"),
        (event(type="charge.stop", session="a", energy_wh=True), "invalid"),
        (event(type="water.dispense", liters=1, temp="lukewarm"), "invalid"),
        (event(type="fault", code="E1"), "invalid"),  # severity missing
        (event(type="fault", code="E1", severity="minor"), "invalid"),
        (event(type="fault.clear"), "invalid"),
        (event(type="checkin.scan", code=42), "invalid"),
        ({"v": 1, "seq": 1, "type": "visit", "count": 1}, "invalid"),  # no ts
        (event(ts="2026-02-30T00:00:00Z", type="visit", count=1), "invalid"),
        (event(ts=1.5e12, type="visit", count=1), "invalid"),
        (event(ts=10**30, type="visit", count=1), "ts_future"),
        (event(ts=-(10**30), type="visit", count=1), "ts_stale"),
    ],
)
def test_event_rejections(payload: Any, expected: str) -> None:
    assert reason(EVENT, payload) == expected


def test_a_lone_surrogate_cannot_be_stored() -> None:
    payload = (
        b'{"v":1,"seq":1,"ts":"2026-11-23T12:00:00+08:00","type":"checkin.scan","code":"\\ud800"}'
    )
    assert reason(EVENT, payload) == "invalid"


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        ([1], "invalid"),
        ({f"m{i}": i for i in range(65)}, "out_of_range"),
        ({"1abc": 1}, "invalid"),
        ({"a" * 65: 1}, "invalid"),
        ({"ok": True}, "invalid"),
        ({"ok": "1"}, "invalid"),
        ({"ok": 1e308 * 10}, "malformed_json"),  # json.dumps writes Infinity, which is not JSON
        ({"ok": 10**400}, "out_of_range"),
    ],
)
def test_telemetry_rejections(metrics: Any, expected: str) -> None:
    assert reason(TELEMETRY, {"v": 1, "seq": 1, "ts": TS, "metrics": metrics}) == expected


def test_accepted_messages_carry_what_is_stored() -> None:
    result = check(TELEMETRY, {"v": 1, "seq": 7, "ts": TS, "metrics": {"a": 1, "b_2": 2.5}})
    assert result == Telemetry(
        "S1", "D1", 7, datetime(2026, 11, 23, 4, tzinfo=UTC), (("a", 1.0), ("b_2", 2.5))
    )
    stop = check(
        EVENT, event(type="charge.stop", session="A", energy_wh=12, reason="finished", extra=1)
    )
    assert isinstance(stop, Event)
    assert (stop.type, stop.ref, stop.amount, stop.attrs) == (
        "charge.stop",
        "A",
        12.0,
        {"reason": "finished"},
    )
    fault = check(EVENT, event(type="fault", code="E1", severity="warning", message="tank low"))
    assert isinstance(fault, Event)
    assert fault.attrs == {"severity": "warning", "message": "tank low"}


def test_epoch_milliseconds_and_bounds() -> None:
    now_ms = int(NOW.timestamp() * 1000)
    ok = check(EVENT, event(ts=now_ms + 5 * 60 * 1000, type="visit", count=1))
    assert isinstance(ok, Event)
    assert ok.ts == NOW + timedelta(minutes=5)
    assert reason(EVENT, event(ts=now_ms + 5 * 60 * 1000 + 1, type="visit", count=1)) == "ts_future"
    thirty_days = 30 * 86400 * 1000
    assert isinstance(check(EVENT, event(ts=now_ms - thirty_days, type="visit", count=1)), Event)
    assert reason(EVENT, event(ts=now_ms - thirty_days - 1, type="visit", count=1)) == "ts_stale"


def test_size_limit_is_inclusive() -> None:
    body = event(type="visit", count=1, pad="")
    overhead = len(json.dumps(body).encode())
    body["pad"] = "x" * (MAX_PAYLOAD_BYTES - overhead)
    assert len(json.dumps(body).encode()) == MAX_PAYLOAD_BYTES
    assert isinstance(check(EVENT, body), Event)
    body["pad"] += "x"
    assert reason(EVENT, body) == "too_large"


def test_status_needs_no_seq_and_accepts_an_old_last_will() -> None:
    result = check(STATUS, {"v": 1, "state": "offline", "ts": "2020-01-01T00:00:00Z"})
    assert result == Status("S1", "D1", "offline", datetime(2020, 1, 1, tzinfo=UTC), None)
    assert reason(STATUS, {"v": 1, "state": "asleep", "ts": TS}) == "invalid"
    assert reason(STATUS, {"v": 1, "state": "online"}) == "invalid"


def test_topics() -> None:
    assert validate("yz/v1/st/S1/dev/D1/down", b"{}", NOW) is None  # our own answers
    for topic in (
        "yz/v1/st/S1/dev/D1/gossip",
        "yz/v1/st/S 1/dev/D1/event",
        f"yz/v1/st/{'s' * 65}/dev/D1/event",
        "yz/v2/st/S1/dev/D1/event",
        "yz/v1/st/S1/device/D1/event",
    ):
        assert reason(topic, event(type="visit", count=1)) == "bad_topic", topic
    parts = parse_topic("yz/v1/st/CQ_1-a/dev/d-9/status")
    assert parts is not None
    assert (parts.station_id, parts.device_id, parts.channel) == ("CQ_1-a", "d-9", "status")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-23T10:10:00.123+08:00", datetime(2026, 11, 23, 2, 10, 0, 123000, tzinfo=UTC)),
        ("2026-11-23T02:10:00Z", datetime(2026, 11, 23, 2, 10, tzinfo=UTC)),
        ("2026-11-23t02:10:00z", datetime(2026, 11, 23, 2, 10, tzinfo=UTC)),
        (
            "2026-11-23T02:10:00.123456789-01:30",
            datetime(2026, 11, 23, 3, 40, 0, 123456, tzinfo=UTC),
        ),
    ],
)
def test_rfc3339(text: str, expected: datetime) -> None:
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-23 12:00",
        "2026-11-23T12:00:00",
        "2026-11-23",
        "2026-11-23T25:00:00Z",
        "0001-01-01T00:00:00+08:00",
        "2026-11-23T12:00:00+24:00",
    ],
)
def test_rfc3339_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r".+"):
        parse_rfc3339(text)


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        (EVENT, b'{"v":1,"seq":1,"seq":2,"ts":"' + TS.encode() + b'","type":"door.open"}'),
        (TELEMETRY, b'{"v":1,"seq":1,"ts":"' + TS.encode() + b'","metrics":{"a":1,"a":2}}'),
        # With a value that holds `":` (the slower, exact path).
        (STATUS, b'{"v":1,"state":"online","ts":"' + TS.encode() + b'","fw":"x\\":","fw":"y"}'),
    ],
)
def test_duplicate_keys_are_invalid(topic: str, payload: bytes) -> None:
    """Issue 9: a payload with a key twice is ambiguous (which one counts?): dead-lettered
    as `invalid`, never read with the last one winning."""
    result = check(topic, payload)
    assert isinstance(result, Rejection), result
    assert result.reason == "invalid"
    assert "duplicate key" in result.detail


def test_a_value_holding_a_key_like_text_is_still_read() -> None:
    payload = b'{"v":1,"state":"online","ts":"' + TS.encode() + b'","fw":"x\\":"}'
    assert isinstance(check(STATUS, payload), Status)
