"""What each event type changes beyond the figures: charging sessions joined from start and
stop, alarms opened and cleared (ordered by seq, as the contract orders a device's messages),
and bad input kept as dead letters next to good input of the same batch."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.services import RunningService
from tests.telemetry.conftest import Database, Kiosk, Registry, unique, wait_until
from yizhan.telemetry.ingest.protocol import REASONS

pytestmark = pytest.mark.integration


def states(operator: httpx.Client, station: str) -> dict[str, dict[str, Any]]:
    """The station's device states by device id."""
    reply = operator.get(f"/api/v1/stations/{station}/devices/state")
    assert reply.status_code == 200, reply.text
    return {item["device_id"]: item for item in reply.json()["items"]}


def at(minutes_ago: float) -> str:
    """A moment shortly before now, as a device writes it."""
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


def test_charging_sessions_join_start_and_stop(
    telemetry_database: Database, registry: Registry, kiosk: Kiosk, operator: httpx.Client
) -> None:
    station = registry.station(unique("ST"))
    charger = registry.device(station, unique("charger"), "charger")
    topic = f"yz/v1/st/{station}/dev/{charger}/event"

    def send(seq: int, minutes_ago: float, **fields: Any) -> None:
        kiosk.publish(topic, {"v": 1, "seq": seq, "ts": at(minutes_ago), **fields})

    send(1, 50, type="charge.start", session="S1", connector=2)
    wait_until(lambda: telemetry_database.has_key(charger, 1))
    (charging,) = states(operator, station)[charger]["charging"]
    assert (charging["session"], charging["connector"]) == ("S1", 2)

    send(2, 20, type="charge.stop", session="S1", energy_wh=800.5, reason="finished")
    # A stop without its start (lost, or the kiosk rebooted) still counts as a session.
    send(3, 10, type="charge.stop", session="S2", energy_wh=100)
    # Out of order: a stop, then its start (forwarded late).
    send(5, 5, type="charge.stop", session="S3", energy_wh=50, reason="unplugged")
    send(4, 8, type="charge.start", session="S3", connector=1)
    wait_until(lambda: telemetry_database.has_key(charger, 4))
    rows = telemetry_database.rows(
        "SELECT session, connector, started_at IS NOT NULL, stopped_at IS NOT NULL, energy_wh,"
        " stop_reason FROM charge_sessions WHERE device_id = %s ORDER BY session",
        (charger,),
    )
    assert rows == [
        ("S1", 2, True, True, 800.5, "finished"),
        ("S2", None, False, True, 100.0, None),
        ("S3", 1, True, True, 50.0, "unplugged"),
    ]
    assert states(operator, station)[charger]["charging"] == []
    window = {"from": at(120), "to": at(-5), "scope": f"station:{station}"}
    usage = operator.get("/api/v1/usage", params=window).json()
    assert usage["totals"]["charge_sessions"] == 3
    assert usage["totals"]["energy_kwh"] == 0.9505


def test_alarms_open_and_clear_by_seq(
    telemetry_database: Database, registry: Registry, kiosk: Kiosk, operator: httpx.Client
) -> None:
    station = registry.station(unique("ST"))
    water = registry.device(station, unique("water"), "water")
    topic = f"yz/v1/st/{station}/dev/{water}/event"

    def send(seq: int, ts: str, **fields: Any) -> None:
        kiosk.publish(topic, {"v": 1, "seq": seq, "ts": ts, **fields})

    opened, again, cleared = at(30), at(20), at(10)
    send(1, opened, type="fault", code="LOW", severity="warning", message="tank low")
    # The same fault again, more severe: one alarm, still open since the first report.
    send(2, again, type="fault", code="LOW", severity="critical")
    wait_until(lambda: telemetry_database.has_key(water, 2))
    (alarm,) = states(operator, station)[water]["alarms"]
    assert alarm["code"] == "LOW"
    assert alarm["severity"] == "critical"
    assert datetime.fromisoformat(alarm["since"]) == datetime.fromisoformat(opened)

    send(3, cleared, type="fault.clear", code="LOW")
    wait_until(lambda: not states(operator, station)[water]["alarms"])
    times = telemetry_database.rows(
        "SELECT opened_at, cleared_at FROM alarms WHERE device_id = %s", (water,)
    )
    assert times == [(datetime.fromisoformat(opened), datetime.fromisoformat(cleared))]

    # Forwarded out of order: the clear (seq 6) arrives before its fault (seq 5). The fault
    # is recorded, already cleared; a later fault (seq 7) opens a new alarm.
    send(6, at(4), type="fault.clear", code="HOT")
    send(5, at(6), type="fault", code="HOT", severity="critical")
    send(7, at(2), type="fault", code="HOT", severity="warning")
    wait_until(lambda: telemetry_database.has_key(water, 7))
    hot = telemetry_database.rows(
        "SELECT opened_seq, cleared_at IS NOT NULL FROM alarms WHERE device_id = %s"
        " AND code = 'HOT' ORDER BY opened_seq",
        (water,),
    )
    assert hot == [(5, True), (7, False)]
    assert [a["code"] for a in states(operator, station)[water]["alarms"]] == ["HOT"]


def test_bad_input_beside_good_input(
    telemetry: RunningService,
    telemetry_database: Database,
    registry: Registry,
    kiosk: Kiosk,
    operator: httpx.Client,
) -> None:
    station = registry.station(unique("ST"))
    device = registry.device(station, unique("counter"), "counter")
    other_station = registry.station(unique("ST"))
    base = f"yz/v1/st/{station}/dev/{device}"
    good = [
        (f"{base}/event", {"v": 1, "seq": n, "ts": at(1), "type": "visit", "count": 1})
        for n in range(1, 6)
    ]
    bad: list[tuple[str, Any]] = [
        (f"{base}/event", b"\xff not json"),
        (f"{base}/event", {"v": 1, "seq": 9, "ts": at(1), "type": "visit", "count": 0}),
        (
            f"yz/v1/st/{other_station}/dev/{device}/event",
            {"v": 1, "seq": 9, "ts": at(1), "type": "visit", "count": 1},
        ),
        (f"{base}/event", {"v": 1, "seq": 9, "ts": at(1), "type": "teleport"}),
    ]
    mixed = [good[0], bad[0], good[1], bad[1], good[2], bad[2], good[3], bad[3], good[4]]
    kiosk.publish_all(
        [
            (topic, body if isinstance(body, bytes) else json.dumps(body).encode())
            for topic, body in mixed
        ]
    )
    wait_until(lambda: telemetry_database.has_key(device, 5))
    stored = telemetry_database.value("SELECT count(*) FROM events WHERE device_id = %s", (device,))
    assert stored == 5
    reasons = [
        r
        for (r,) in telemetry_database.rows(
            "SELECT reason FROM dead_letters WHERE device_id = %s ORDER BY id", (device,)
        )
    ]
    assert reasons == ["malformed_json", "out_of_range", "station_mismatch", "unknown_type"]
    summary = operator.get("/api/v1/dead-letters/summary", params={"hours": 1})
    assert summary.status_code == 200, summary.text
    body = summary.json()
    assert set(body["reasons"]) == set(REASONS)
    for reason in reasons:
        assert body["reasons"][reason] >= 1
    assert body["total"] == sum(body["reasons"].values())
