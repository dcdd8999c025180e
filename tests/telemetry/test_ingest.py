"""Ingest end to end: messages published through the real broker, stored by the real
telemetry service in PostgreSQL, devices resolved by the real stations service."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.services import RunningService
from tests.telemetry import examples
from tests.telemetry.conftest import Bookings, Database, Kiosk, Registry, unique, wait_until
from yizhan.devstack.broker import MosquittoBroker

pytestmark = pytest.mark.integration

RECEIVED_AT, EXAMPLES = examples.load()
# What is not a dead letter (a time.sync is answered, nothing stored).
DATA_OUTCOMES = ("stored", "duplicate", "answered")


def _metric(ingest: RunningService, name: str, labels: str = "") -> float:
    text = httpx.get(f"{ingest.base_url}/metrics").text
    prefix = f"{name}{{{labels}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(prefix + " "):
            return float(line.split()[-1])
    return 0.0


def test_protocol_examples_through_the_broker(
    ingest: RunningService,
    telemetry_database: Database,
    registry: Registry,
    kiosk: Kiosk,
    operator: httpx.Client,
) -> None:
    registry.station("CQ-NC-0001")
    registry.device("CQ-NC-0001", "CQ-NC-0001-water-1", "water")
    registry.device("CQ-NC-0001", "CQ-NC-0001-heater-1", "heater")
    duplicates_before = _metric(ingest, "yz_telemetry_messages_duplicate_total")
    # The examples assume a receive time; replay them as if that time were now.
    shift = datetime.now(UTC) - RECEIVED_AT
    for example in EXAMPLES:
        kiosk.publish(example.topic, example.payload_bytes(shift))
    # Processing keeps publish order: once this one is stored, every example was handled.
    sentinel_topic = "yz/v1/st/CQ-NC-0001/dev/CQ-NC-0001-water-1/event"
    now = datetime.now(UTC).isoformat()
    kiosk.publish(sentinel_topic, {"v": 1, "seq": 1000, "ts": now, "type": "visit", "count": 1})
    wait_until(lambda: telemetry_database.has_key("CQ-NC-0001-water-1", 1000))

    dead = telemetry_database.rows(
        "SELECT topic, reason FROM dead_letters WHERE topic LIKE 'yz/v1/st/CQ-NC-000%' ORDER BY id"
    )
    assert dead == [(e.topic, e.expect) for e in EXAMPLES if e.expect not in DATA_OUTCOMES]
    stored_seqs = {
        seq
        for (seq,) in telemetry_database.rows(
            "SELECT seq FROM message_keys WHERE device_id = 'CQ-NC-0001-water-1'"
        )
    }
    assert stored_seqs == {1, 2, 3, 4, 5, 1000}
    # The duplicate (seq 2 twice) is stored and counted once.
    assert (
        telemetry_database.value(
            "SELECT count(*) FROM events WHERE device_id = 'CQ-NC-0001-water-1' AND seq = 2"
        )
        == 1
    )
    assert _metric(ingest, "yz_telemetry_messages_duplicate_total") == duplicates_before + 1
    metrics = telemetry_database.rows(
        "SELECT metric, value FROM metrics WHERE device_id = 'CQ-NC-0001-water-1' ORDER BY metric"
    )
    assert metrics == [("tank_l", 12.5), ("water_temp_c", 93.0)]
    # The status needs no seq; the fault opened an alarm and the clear closed it.
    state = telemetry_database.rows(
        "SELECT state, firmware FROM device_state WHERE device_id = 'CQ-NC-0001-water-1'"
    )
    assert state == [("online", "1.4.2")]
    alarms = telemetry_database.rows(
        "SELECT code, cleared_at IS NOT NULL FROM alarms WHERE device_id = 'CQ-NC-0001-water-1'"
    )
    assert alarms == [("WATER_LOW", True)]

    usage = operator.get(
        "/api/v1/usage",
        params={
            "scope": "station:CQ-NC-0001",
            "from": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
            "to": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        },
    )
    assert usage.status_code == 200, usage.text
    assert usage.json()["totals"] == {
        "visits": 1,
        "charge_sessions": 0,
        "energy_kwh": 0.0,
        "water_liters": 1.75,
        "dispenses": 2,
        "heat_uses": 1,
        "heat_minutes": 2.5,
    }
    heater_seqs = telemetry_database.rows(
        "SELECT seq FROM message_keys WHERE device_id = 'CQ-NC-0001-heater-1'"
    )
    assert heater_seqs == [(1,)]
    for reason in {e.expect for e in EXAMPLES} - set(DATA_OUTCOMES):
        assert _metric(ingest, "yz_telemetry_dead_letters_total", f'reason="{reason}"') >= 1


def _at(day: datetime, hour: int, minute: int = 0) -> str:
    return day.replace(hour=hour, minute=minute).isoformat()


def test_usage_counts_exactly_what_devices_sent(
    telemetry_database: Database, registry: Registry, kiosk: Kiosk, operator: httpx.Client
) -> None:
    district = unique("district")
    station = registry.station(unique("ST"), district)
    counter = registry.device(station, unique("counter"), "counter")
    charger = registry.device(station, unique("charger"), "charger")
    water = registry.device(station, unique("water"), "water")
    shanghai = timezone_day(days_ago=2)
    day1, day2 = shanghai, shanghai + timedelta(days=1)
    sent: list[tuple[str, str, dict[str, Any]]] = [
        (counter, "event", {"seq": 1, "ts": _at(day1, 9), "type": "visit", "count": 3}),
        (counter, "event", {"seq": 2, "ts": _at(day1, 18), "type": "visit", "count": 4}),
        (counter, "event", {"seq": 3, "ts": _at(day2, 10), "type": "visit", "count": 5}),
        (
            charger,
            "event",
            {"seq": 1, "ts": _at(day1, 10), "type": "charge.start", "session": "A", "connector": 1},
        ),
        (
            charger,
            "event",
            {
                "seq": 2,
                "ts": _at(day1, 11),
                "type": "charge.stop",
                "session": "A",
                "energy_wh": 1520,
            },
        ),
        # A stop whose start was never received still counts.
        (
            charger,
            "event",
            {"seq": 3, "ts": _at(day2, 8), "type": "charge.stop", "session": "B", "energy_wh": 0.1},
        ),
        (water, "event", {"seq": 1, "ts": _at(day1, 12), "type": "water.dispense", "liters": 0.1}),
        (
            water,
            "event",
            {"seq": 2, "ts": _at(day1, 12, 5), "type": "water.dispense", "liters": 0.2},
        ),
        (water, "event", {"seq": 3, "ts": _at(day2, 12), "type": "water.dispense", "liters": 1.5}),
        (water, "telemetry", {"seq": 4, "ts": _at(day2, 12), "metrics": {"tank_l": 7.5}}),
    ]
    for device, channel, body in sent:
        kiosk.publish(f"yz/v1/st/{station}/dev/{device}/{channel}", {"v": 1, **body})
    # A resend of an already stored message changes nothing.
    kiosk.publish(f"yz/v1/st/{station}/dev/{counter}/event", {"v": 1, **sent[0][2]})
    wait_until(lambda: telemetry_database.has_key(water, 4))

    params = {
        "from": (day1 - timedelta(days=1)).isoformat(),
        "to": (day2 + timedelta(days=1)).isoformat(),
        "bucket": "day",
    }

    def usage() -> dict[str, Any]:
        reply = operator.get("/api/v1/usage", params={"scope": f"station:{station}", **params})
        assert reply.status_code == 200, reply.text
        body: dict[str, Any] = reply.json()
        return body

    # Days-old messages are late for TimescaleDB's continuous aggregates: they count once the
    # refresher has run (within seconds); without TimescaleDB at once.
    body = wait_until(lambda: (b := usage())["totals"]["dispenses"] == 3 and b)
    zero = {
        "visits": 0,
        "charge_sessions": 0,
        "energy_kwh": 0.0,
        "water_liters": 0.0,
        "dispenses": 0,
        "heat_uses": 0,
        "heat_minutes": 0.0,
    }
    assert body["scope"] == f"station:{station}"
    assert body["bucket"] == "day"
    assert body["tz"] == "Asia/Shanghai"
    assert body["series"] == [
        {"start": (day1 - timedelta(days=1)).isoformat(), **zero},
        {
            "start": day1.isoformat(),
            "visits": 7,
            "charge_sessions": 1,
            "energy_kwh": 1.52,
            "water_liters": 0.3,
            "dispenses": 2,
            "heat_uses": 0,
            "heat_minutes": 0.0,
        },
        {
            "start": day2.isoformat(),
            "visits": 5,
            "charge_sessions": 1,
            "energy_kwh": 0.0001,
            "water_liters": 1.5,
            "dispenses": 1,
            "heat_uses": 0,
            "heat_minutes": 0.0,
        },
    ]
    assert body["totals"] == {
        "visits": 12,
        "charge_sessions": 2,
        "energy_kwh": 1.5201,
        "water_liters": 1.8,
        "dispenses": 3,
        "heat_uses": 0,
        "heat_minutes": 0.0,
    }
    by_district = operator.get("/api/v1/usage", params={"scope": f"district:{district}", **params})
    assert by_district.status_code == 200, by_district.text
    assert by_district.json()["totals"] == body["totals"]
    # The network's own rollup catches up as well (with TimescaleDB a moment after).
    wait_until(
        lambda: (
            operator.get("/api/v1/usage", params={"scope": "network", **params}).json()["totals"][
                "visits"
            ]
            >= 12
        )
    )


def timezone_day(days_ago: int) -> datetime:
    """Midnight in Asia/Shanghai, `days_ago` days before today there."""
    today = datetime.now(ZoneInfo("Asia/Shanghai"))
    return (today - timedelta(days=days_ago)).replace(hour=0, minute=0, second=0, microsecond=0)


def test_shanghai_days_differ_from_utc_days(
    telemetry_database: Database, registry: Registry, kiosk: Kiosk, operator: httpx.Client
) -> None:
    station = registry.station(unique("ST"))
    counter = registry.device(station, unique("counter"), "counter")
    day = timezone_day(days_ago=3)
    # 23:30 and 07:30 the next morning in Shanghai: two local days, one UTC day.
    late = day.replace(hour=23, minute=30)
    early = (day + timedelta(days=1)).replace(hour=7, minute=30)
    topic = f"yz/v1/st/{station}/dev/{counter}/event"
    kiosk.publish(topic, {"v": 1, "seq": 1, "ts": late.isoformat(), "type": "visit", "count": 2})
    kiosk.publish(topic, {"v": 1, "seq": 2, "ts": early.isoformat(), "type": "visit", "count": 3})
    wait_until(lambda: telemetry_database.has_key(counter, 2))

    def visits(tz: str) -> list[tuple[str, int]]:
        reply = operator.get(
            "/api/v1/usage",
            params={
                "scope": f"station:{station}",
                "from": day.isoformat(),
                "to": (day + timedelta(days=2)).isoformat(),
                "bucket": "day",
                "tz": tz,
            },
        )
        assert reply.status_code == 200, reply.text
        return [(b["start"], b["visits"]) for b in reply.json()["series"]]

    utc_day = day.astimezone(UTC).replace(hour=0)
    wait_until(lambda: sum(count for _, count in visits("UTC")) == 5)
    assert visits("Asia/Shanghai") == [
        (day.isoformat(), 2),
        ((day + timedelta(days=1)).isoformat(), 3),
    ]
    # The same range in UTC starts on the previous UTC day (16:00 UTC) and both visits fall
    # on one UTC day.
    assert visits("UTC") == [
        (utc_day.isoformat(), 0),
        ((utc_day + timedelta(days=1)).isoformat(), 5),
        ((utc_day + timedelta(days=2)).isoformat(), 0),
    ]


def test_device_state_alarms_and_offline(
    telemetry_database: Database, registry: Registry, kiosk: Kiosk, operator: httpx.Client
) -> None:
    station = registry.station(unique("ST"))
    device = registry.device(station, unique("water"), "water")
    base = f"yz/v1/st/{station}/dev/{device}"
    now = datetime.now(UTC)

    def states() -> list[dict[str, Any]]:
        reply = operator.get(f"/api/v1/stations/{station}/devices/state")
        assert reply.status_code == 200, reply.text
        items: list[dict[str, Any]] = reply.json()["items"]
        return items

    assert states() == []
    kiosk.publish(f"{base}/status", {"v": 1, "state": "online", "ts": now.isoformat(), "fw": "2.0"})
    since = (now - timedelta(minutes=1)).isoformat()
    kiosk.publish(
        f"{base}/event",
        {"v": 1, "seq": 1, "ts": since, "type": "fault", "code": "HOT", "severity": "critical"},
    )
    wait_until(lambda: telemetry_database.has_key(device, 1))
    (item,) = states()
    assert item["device_id"] == device
    assert item["online"] is True
    assert [(a["code"], a["severity"]) for a in item["alarms"]] == [("HOT", "critical")]
    assert datetime.fromisoformat(item["alarms"][0]["since"]) == datetime.fromisoformat(since)

    kiosk.publish(
        f"{base}/event",
        {"v": 1, "seq": 2, "ts": now.isoformat(), "type": "fault.clear", "code": "HOT"},
    )
    kiosk.publish(f"{base}/status", {"v": 1, "state": "offline", "ts": now.isoformat()})
    wait_until(lambda: not states()[0]["online"])
    # The fault is cleared; going offline opens the `offline` alarm (CONTRACT §3) ...
    wait_until(lambda: [a["code"] for a in states()[0]["alarms"]] == ["offline"])
    assert states()[0]["alarms"][0]["severity"] == "warning"
    # ... until it is heard again: anything after the offline status is a sign of life.
    kiosk.publish(
        f"{base}/telemetry", {"v": 1, "seq": 3, "ts": now.isoformat(), "metrics": {"t": 1}}
    )
    wait_until(lambda: states()[0]["online"] and states()[0]["alarms"] == [])
    assert telemetry_database.rows(
        "SELECT cleared_at IS NOT NULL FROM alarms WHERE device_id = %s AND code = 'offline'",
        (device,),
    ) == [(True,)]


def test_last_will_and_silence_make_a_device_offline(
    broker: MosquittoBroker,
    telemetry_database: Database,
    registry: Registry,
    operator: httpx.Client,
) -> None:
    station = registry.station(unique("ST"))
    device = registry.device(station, unique("kiosk"), "kiosk")
    status = f"yz/v1/st/{station}/dev/{device}/status"
    now = datetime.now(UTC).isoformat()
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=device, protocol=mqtt.MQTTv5
    )
    client.will_set(status, json.dumps({"v": 1, "state": "offline", "ts": now}), qos=1, retain=True)
    client.connect(broker.host, broker.port, keepalive=5)
    client.loop_start()
    client.publish(status, json.dumps({"v": 1, "state": "online", "ts": now}), qos=1, retain=True)

    def online() -> bool | None:
        reply = operator.get(f"/api/v1/stations/{station}/devices/state").json()["items"]
        return reply[0]["online"] if reply else None

    wait_until(online)
    # The kiosk loses power: no DISCONNECT, so the broker publishes its Last Will.
    client.loop_stop()
    sock = client.socket()
    assert sock is not None
    sock.close()
    wait_until(lambda: online() is False)

    def alarm_codes(device_id: str) -> list[str]:
        items = operator.get(f"/api/v1/stations/{station}/devices/state").json()["items"]
        return [a["code"] for i in items if i["device_id"] == device_id for a in i["alarms"]]

    # The Last Will opens the offline alarm.
    wait_until(lambda: alarm_codes(device) == ["offline"])

    # Silence: three minutes after the last message a device is offline, without any status.
    quiet = registry.device(station, unique("quiet"), "water")
    telemetry_database.execute(
        "INSERT INTO device_state (device_id, station_id, last_seen) VALUES"
        " (%s, %s, now() - interval '179 seconds'), (%s, %s, now() - interval '181 seconds')",
        (device + "-recent", station, quiet, station),
    )
    items = operator.get(f"/api/v1/stations/{station}/devices/state").json()["items"]
    assert {i["device_id"]: i["online"] for i in items} == {
        device: False,
        device + "-recent": True,
        quiet: False,
    }
    # Three minutes of silence open the alarm too, dated when the silence began to count.
    wait_until(lambda: alarm_codes(quiet) == ["offline"])
    opened = telemetry_database.value(
        "SELECT opened_at - (SELECT last_seen FROM device_state WHERE device_id = %s)"
        " FROM alarms WHERE device_id = %s AND code = 'offline'",
        (quiet, quiet),
    )
    assert opened == timedelta(seconds=180)


def test_scan_is_answered_on_the_down_topic(
    registry: Registry, kiosk: Kiosk, telemetry: RunningService, bookings: Bookings
) -> None:
    station = registry.station(unique("ST"))
    device = registry.device(station, unique("kiosk"), "kiosk")
    base = f"yz/v1/st/{station}/dev/{device}"
    kiosk.listen(f"{base}/down")
    now = datetime.now(UTC).isoformat()
    kiosk.publish(
        f"{base}/event", {"v": 1, "seq": 1, "ts": now, "type": "checkin.scan", "code": "OK7F3K9Q"}
    )
    answers = wait_until(lambda: kiosk.messages(f"{base}/down"), timeout=2.0)
    assert answers == [
        {
            "v": 1,
            "type": "checkin.result",
            "code": "OK7F3K9Q",
            "ok": True,
            "reason": None,
            "message": {"zh": "签到成功", "en": "Checked in"},
        }
    ]
    asked = [r for r in bookings.desk.requests if r.device_id == device]
    assert [(r.code, r.station_id) for r in asked] == [("OK7F3K9Q", station)]

    kiosk.publish(
        f"{base}/event", {"v": 1, "seq": 2, "ts": now, "type": "checkin.scan", "code": "LATE1"}
    )
    answers = wait_until(lambda: kiosk.messages(f"{base}/down")[1:], timeout=2.0)
    assert answers[0]["ok"] is False
    assert answers[0]["reason"] == "too_late"
    assert answers[0]["message"]["en"]


def test_dead_letters_api_pages_and_filters(
    registry: Registry, kiosk: Kiosk, telemetry_database: Database, operator: httpx.Client
) -> None:
    station = registry.station(unique("ST"))
    device = registry.device(station, unique("dev"))
    topic = f"yz/v1/st/{station}/dev/{device}/event"
    for number in range(3):
        kiosk.publish(topic, f"not json {number}".encode())
    kiosk.publish(topic, {"v": 2})
    wait_until(
        lambda: (
            telemetry_database.value(
                "SELECT count(*) FROM dead_letters WHERE station_id = %s", (station,)
            )
            == 4
        )
    )
    first = operator.get("/api/v1/dead-letters", params={"station_id": station, "limit": 2})
    assert first.status_code == 200, first.text
    page = first.json()
    assert [i["reason"] for i in page["items"]] == ["unsupported_version", "malformed_json"]
    assert page["items"][1]["payload"] == "not json 2"
    assert page["items"][0]["device_id"] == device
    rest = operator.get(
        "/api/v1/dead-letters", params={"station_id": station, "before": page["next"]}
    ).json()
    assert [i["payload"] for i in rest["items"]] == ["not json 1", "not json 0"]
    assert rest["next"] is None
    only = operator.get(
        "/api/v1/dead-letters", params={"station_id": station, "reason": "unsupported_version"}
    ).json()
    assert len(only["items"]) == 1
    bad = operator.get("/api/v1/dead-letters", params={"reason": "nonsense"})
    assert bad.status_code == 422


def test_readiness_names_every_dependency(
    telemetry: RunningService, ingest: RunningService
) -> None:
    reply = httpx.get(f"{telemetry.base_url}/readyz")
    assert reply.status_code == 200, reply.text
    # What each process cannot work without; its gRPC peers are reported, never unready.
    assert set(reply.json()["checks"]) == {"database"}
    assert set(reply.json()["peers"]) == {"stations"}
    # The ingest process needs its database and its broker session.
    reply = httpx.get(f"{ingest.base_url}/readyz")
    assert reply.status_code == 200, reply.text
    assert set(reply.json()["checks"]) == {"database", "mqtt"}
    assert set(reply.json()["peers"]) == {"stations", "bookings"}
