"""The MQTT device protocol v1 (CONTRACT §2): topic and payload checks, with the exact
dead-letter reason codes. Pure functions, no I/O: the device's station is checked later
(devices.py), duplicates in the database (store.py)."""

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import orjson

from yizhan.telemetry.rfc3339 import parse_rfc3339

Reason = Literal[
    "too_large",
    "malformed_json",
    "unsupported_version",
    "bad_topic",
    "unknown_type",
    "invalid",
    "out_of_range",
    "ts_future",
    "ts_stale",
    "unknown_device",
    "station_mismatch",
]
REASONS: Final[tuple[Reason, ...]] = (
    "too_large",
    "malformed_json",
    "unsupported_version",
    "bad_topic",
    "unknown_type",
    "invalid",
    "out_of_range",
    "ts_future",
    "ts_stale",
    "unknown_device",
    "station_mismatch",
)

MAX_PAYLOAD_BYTES: Final = 16 * 1024
MAX_FUTURE: Final = timedelta(minutes=5)
MAX_AGE: Final = timedelta(days=30)
PROTOCOL_VERSION: Final = 1
MAX_METRICS: Final = 64
MAX_TEXT: Final = 64
# Free-text fault messages are for people; bounded so one device cannot bloat the tables.
MAX_FAULT_MESSAGE: Final = 500
# seq is stored as a PostgreSQL bigint.
MAX_SEQ: Final = 2**63 - 1
# connector and count are stored as integers.
MAX_INT32: Final = 2**31 - 1
MAX_VISIT_COUNT: Final = 1000
MAX_DISPENSE_LITERS: Final = 20.0

UPLINK_CHANNELS: Final = ("telemetry", "event", "status")
DOWNLINK_CHANNEL: Final = "down"
_CHANNELS = "|".join(UPLINK_CHANNELS)
# fullmatch, not `$`: `$` also matches before a trailing newline.
_TOPIC_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_METRIC_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
# Every device sends on a few topics and names the same few metrics: remembering the answers
# saves a split and two regular expressions a message. Bounded, since names come from outside.
_CACHE_LIMIT: Final = 100_000
# A run of digits that may be an integer orjson cannot hold (beyond 64 bits, either sign).
_LONG_DIGITS = re.compile(rb"[0-9]{19}")

EVENT_TYPES: Final = (
    "charge.start",
    "charge.stop",
    "water.dispense",
    "visit",
    "checkin.scan",
    "fault",
    "fault.clear",
)
STOP_REASONS: Final = ("finished", "unplugged", "fault", "timeout", "other")
WATER_TEMPS: Final = ("hot", "warm", "cold")
SEVERITIES: Final = ("warning", "critical")
STATES: Final = ("online", "offline")


@dataclass(frozen=True)
class Topic:
    """The parts of an uplink or downlink topic."""

    station_id: str
    device_id: str
    channel: str


@dataclass(frozen=True)
class Rejection:
    """Why a message is kept as a dead letter instead of data."""

    reason: Reason
    detail: str


# Messages are plain (not frozen) dataclasses with slots: a frozen one sets every field
# through object.__setattr__, too slow for thousands a second.
@dataclass(slots=True)
class Telemetry:
    """Metric readings of one device at one moment."""

    station_id: str
    device_id: str
    seq: int
    ts: datetime
    metrics: tuple[tuple[str, float], ...]


@dataclass(slots=True)
class Event:
    """Something that happened at a device. `count` (visits), `amount` (Wh or litres) and
    `ref` (session or code) carry what the figures and alarms need; `attrs` the rest."""

    station_id: str
    device_id: str
    seq: int
    ts: datetime
    type: str
    count: int | None = None
    amount: float | None = None
    ref: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Status:
    """A device's own statement that it is online or offline (also its Last Will)."""

    station_id: str
    device_id: str
    state: str
    ts: datetime
    firmware: str | None


Message = Telemetry | Event | Status


class _Fail(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


_topics: dict[str, Topic | None] = {}
_metric_names: set[str] = set()


def parse_topic(topic: str) -> Topic | None:
    """The station, device and channel of `yz/v1/st/{station}/dev/{device}/{channel}`."""
    try:
        return _topics[topic]
    except KeyError:
        pass
    parsed = _parse_topic(topic)
    if len(_topics) >= _CACHE_LIMIT:
        _topics.clear()
    _topics[topic] = parsed
    return parsed


def _parse_topic(topic: str) -> Topic | None:
    parts = topic.split("/")
    if len(parts) != 7 or parts[:3] != ["yz", "v1", "st"] or parts[4] != "dev":
        return None
    station_id, device_id, channel = parts[3], parts[5], parts[6]
    if not _TOPIC_ID.fullmatch(station_id) or not _TOPIC_ID.fullmatch(device_id):
        return None
    return Topic(station_id, device_id, channel)


def validate(topic: str, payload: bytes, received_at: datetime) -> Message | Rejection | None:
    """Check one received message against the protocol.

    Returns the message, why it is rejected, or None for our own downlink (not device data).
    """
    parts = parse_topic(topic)
    if parts is not None and parts.channel == DOWNLINK_CHANNEL:
        return None
    try:
        if parts is None or parts.channel not in UPLINK_CHANNELS:
            raise _Fail("bad_topic", "expected yz/v1/st/<station>/dev/<device>/" + _CHANNELS)
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise _Fail("too_large", f"{len(payload)} bytes; at most {MAX_PAYLOAD_BYTES}")
        try:
            return _check(parts, _decode(payload), received_at)
        except _Fail as fail:
            # orjson turns integers beyond 64 bits into floats: a seq of 2**64 would be
            # `invalid` (not an integer) instead of `out_of_range`. Only a refused message
            # with such a number is read again, by the standard library.
            if fail.reason != "invalid" or not _LONG_DIGITS.search(payload):
                raise
            return _check(parts, _decode_slowly(payload), received_at)
    except _Fail as fail:
        return Rejection(fail.reason, fail.detail)


def _check(parts: Topic, body: Any, received_at: datetime) -> Message:
    if not isinstance(body, dict):
        raise _Fail("malformed_json", f"a JSON object is required, not {_json_type(body)}")
    _version(body)
    if parts.channel == "status":
        return _status(parts, body)
    seq = _integer(body, "seq", 0, MAX_SEQ)
    ts = _timestamp(body)
    message: Message
    if parts.channel == "telemetry":
        message = Telemetry(parts.station_id, parts.device_id, seq, ts.moment, _metrics(body))
    else:
        message = _event(parts, body, seq, ts.moment)
    ts.check_window(received_at)
    return message


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _decode(payload: bytes) -> Any:
    # orjson is strict (UTF-8 only, no NaN) and several times faster than json; what it
    # refuses although JSON allows it (1e400, say) the standard library judges.
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return _decode_slowly(payload)
    # orjson keeps the last of duplicate keys. Each key is a `"...":` in the payload: as many
    # of those as keys read means none was dropped; more (a duplicate, or a string value
    # holding `":`) and the standard library reads it again, refusing duplicates.
    if len(_KEY_TOKEN.findall(payload)) != _key_count(body):
        return _decode_slowly(payload)
    return body


_KEY_TOKEN = re.compile(rb'"\s*:')


def _key_count(value: Any) -> int:
    if isinstance(value, dict):
        return len(value) + sum(_key_count(item) for item in value.values())
    if isinstance(value, list):
        return sum(_key_count(item) for item in value)
    return 0


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key, value in pairs:
        if key in body:
            raise _Fail("invalid", f"duplicate key {_short(key, 64)!r}")
        body[key] = value
    return body


def _decode_slowly(payload: bytes) -> Any:
    try:
        # Strict UTF-8 first: json.loads would guess UTF-16/32 from bytes.
        text = payload.decode("utf-8")
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _Fail("malformed_json", _short(str(exc))) from None


def _version(body: dict[str, Any]) -> None:
    if "v" not in body:
        raise _Fail("invalid", "v: missing")
    version = body["v"]
    if not _is_int(version):
        raise _Fail("invalid", "v: must be an integer")
    if version != PROTOCOL_VERSION:
        raise _Fail("unsupported_version", f"v: {version} is not supported; use {PROTOCOL_VERSION}")


@dataclass(frozen=True)
class _Timestamp:
    moment: datetime
    epoch_ms: int | None

    def check_window(self, received_at: datetime) -> None:
        """Refuse a ts more than 5 minutes ahead of, or 30 days behind, `received_at`."""
        if self.epoch_ms is not None:
            # In integers: absurd epoch values must not overflow datetime arithmetic.
            ahead_ms = self.epoch_ms - int(received_at.timestamp() * 1000)
            future, stale = ahead_ms > _ms(MAX_FUTURE), -ahead_ms > _ms(MAX_AGE)
        else:
            ahead = self.moment - received_at
            future, stale = ahead > MAX_FUTURE, -ahead > MAX_AGE
        if future:
            raise _Fail("ts_future", "ts: more than 5 minutes after it was received")
        if stale:
            raise _Fail("ts_stale", "ts: more than 30 days before it was received")


def _ms(span: timedelta) -> int:
    return int(span.total_seconds() * 1000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_MS = _ms(datetime(1, 1, 2, tzinfo=UTC) - _EPOCH)
_MAX_MS = _ms(datetime(9999, 12, 30, tzinfo=UTC) - _EPOCH)


def _timestamp(body: dict[str, Any]) -> _Timestamp:
    if "ts" not in body:
        raise _Fail("invalid", "ts: missing")
    value = body["ts"]
    if _is_int(value):
        clamped = min(max(value, _MIN_MS), _MAX_MS)
        return _Timestamp(_EPOCH + timedelta(milliseconds=clamped), value)
    if isinstance(value, str):
        try:
            return _Timestamp(parse_rfc3339(value), None)
        except ValueError:
            raise _Fail(
                "invalid", "ts: must be RFC 3339 with offset or epoch milliseconds"
            ) from None
    raise _Fail("invalid", "ts: must be an RFC 3339 string or integer epoch milliseconds")


def _metrics(body: dict[str, Any]) -> tuple[tuple[str, float], ...]:
    if "metrics" not in body:
        raise _Fail("invalid", "metrics: missing")
    metrics = body["metrics"]
    if not isinstance(metrics, dict):
        raise _Fail("invalid", "metrics: must be an object")
    if not 1 <= len(metrics) <= MAX_METRICS:
        raise _Fail("out_of_range", f"metrics: 1 to {MAX_METRICS} entries, got {len(metrics)}")
    readings = []
    for name, value in metrics.items():
        if name not in _metric_names:
            if not _METRIC_NAME.fullmatch(name):
                raise _Fail(
                    "invalid", f"metrics.{_short(name, 64)}: name must match [a-z][a-z0-9_]*"
                )
            if len(_metric_names) >= _CACHE_LIMIT:
                _metric_names.clear()
            _metric_names.add(name)
        # The common case first: a float or a small int needs no further checks.
        if type(value) is float:
            if value - value != 0.0:  # inf or nan (orjson refuses them; json may not)
                raise _Fail("out_of_range", f"metrics.{name}: must be finite")
            readings.append((name, value))
        else:
            readings.append((name, _finite(value, f"metrics.{name}")))
    return tuple(readings)


def _event(parts: Topic, body: dict[str, Any], seq: int, ts: datetime) -> Event:
    if "type" not in body:
        raise _Fail("invalid", "type: missing")
    kind = body["type"]
    if not isinstance(kind, str):
        raise _Fail("invalid", "type: must be a string")
    if kind not in EVENT_TYPES:
        raise _Fail("unknown_type", f"type: {_short(kind, 64)!r} is not an event type")

    def event(**fields: Any) -> Event:
        return Event(parts.station_id, parts.device_id, seq, ts, kind, **fields)

    if kind == "charge.start":
        session = _text(body, "session")
        connector = _integer(body, "connector", 1, MAX_INT32)
        return event(ref=session, attrs={"connector": connector})
    if kind == "charge.stop":
        session = _text(body, "session")
        energy = _number(body, "energy_wh")
        if energy < 0:
            raise _Fail("out_of_range", "energy_wh: must be at least 0")
        stop_reason = _optional_choice(body, "reason", STOP_REASONS)
        return event(
            ref=session, amount=energy, attrs={"reason": stop_reason} if stop_reason else {}
        )
    if kind == "water.dispense":
        liters = _number(body, "liters")
        if not 0 < liters <= MAX_DISPENSE_LITERS:
            raise _Fail("out_of_range", f"liters: above 0 and at most {MAX_DISPENSE_LITERS:g}")
        temp = _optional_choice(body, "temp", WATER_TEMPS)
        return event(amount=liters, attrs={"temp": temp} if temp else {})
    if kind == "visit":
        return event(count=_integer(body, "count", 1, MAX_VISIT_COUNT))
    if kind == "checkin.scan":
        return event(ref=_text(body, "code"))
    if kind == "fault":
        code = _text(body, "code")
        fault: dict[str, Any] = {"severity": _choice(body, "severity", SEVERITIES)}
        message = _optional_text(body, "message", MAX_FAULT_MESSAGE)
        if message:
            fault["message"] = message
        return event(ref=code, attrs=fault)
    # fault.clear
    return event(ref=_text(body, "code"))


def _status(parts: Topic, body: dict[str, Any]) -> Status:
    state = _choice(body, "state", STATES)
    # Only the format of a status's ts is checked: a Last Will is composed when the device
    # connects and may be published days later. Liveness uses the time we receive it.
    ts = _timestamp(body)
    firmware = _optional_text(body, "fw", MAX_TEXT)
    return Status(parts.station_id, parts.device_id, state, ts.moment, firmware or None)


def _is_int(value: Any) -> bool:
    # bool is an int in Python but not in JSON.
    return isinstance(value, int) and not isinstance(value, bool)


def _present(body: dict[str, Any], name: str) -> Any:
    # An explicit null counts as missing: it carries no value of any type.
    value = body.get(name)
    if value is None:
        raise _Fail("invalid", f"{name}: missing")
    return value


def _integer(body: dict[str, Any], name: str, low: int, high: int) -> int:
    value = _present(body, name)
    if not _is_int(value):
        raise _Fail("invalid", f"{name}: must be an integer")
    if not low <= value <= high:
        raise _Fail("out_of_range", f"{name}: must be between {low} and {high}")
    result: int = value
    return result


def _number(body: dict[str, Any], name: str) -> float:
    return _finite(_present(body, name), name)


def _finite(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Fail("invalid", f"{name}: must be a number")
    try:
        number = float(value)
    except OverflowError:
        raise _Fail("out_of_range", f"{name}: too large") from None
    if not math.isfinite(number):
        raise _Fail("out_of_range", f"{name}: must be finite")
    return number


def _text(body: dict[str, Any], name: str, max_length: int = MAX_TEXT) -> str:
    value = _present(body, name)
    if not isinstance(value, str):
        raise _Fail("invalid", f"{name}: must be a string")
    if not _storable(value):
        raise _Fail("invalid", f"{name}: contains characters that cannot be stored")
    if not 1 <= len(value) <= max_length:
        raise _Fail("out_of_range", f"{name}: 1 to {max_length} characters")
    return value


def _optional_text(body: dict[str, Any], name: str, max_length: int) -> str | None:
    if body.get(name) is None or body.get(name) == "":
        return None
    return _text(body, name, max_length)


def _choice(body: dict[str, Any], name: str, options: tuple[str, ...]) -> str:
    value = _present(body, name)
    if not isinstance(value, str) or value not in options:
        raise _Fail("invalid", f"{name}: must be one of {', '.join(options)}")
    return value


def _optional_choice(body: dict[str, Any], name: str, options: tuple[str, ...]) -> str | None:
    return None if body.get(name) is None else _choice(body, name, options)


def _storable(text: str) -> bool:
    # PostgreSQL text cannot hold NUL, and lone surrogates are not UTF-8.
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
