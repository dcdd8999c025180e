"""What accepted messages change: duplicates within a batch, alarms, device state."""

from datetime import UTC, datetime, timedelta

from yizhan.telemetry.ingest.effects import Arrival, data_rows, device_updates, unique_keys
from yizhan.telemetry.ingest.protocol import Event, Message, Status, Telemetry

T0 = datetime(2026, 11, 23, 4, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def visit(seq: int, device: str = "D1") -> Event:
    return Event("S1", device, seq, T0, "visit", count=1)


def test_a_key_twice_in_one_batch_is_stored_once() -> None:
    arrivals = [Arrival(visit(1), at(1)), Arrival(visit(1), at(2)), Arrival(visit(2), at(3))]
    assert [(k[0], k[1]) for k in unique_keys(arrivals)] == [("D1", 1), ("D1", 2)]
    rows = data_rows(arrivals, fresh={("D1", 1), ("D1", 2)})
    assert rows.outcomes == ["stored", "duplicate", "stored"]
    assert len(rows.events) == 2


def test_keys_already_in_the_database_are_duplicates() -> None:
    arrivals = [Arrival(visit(1), at(1)), Arrival(visit(2), at(2))]
    rows = data_rows(arrivals, fresh={("D1", 2)})
    assert rows.outcomes == ["duplicate", "stored"]
    assert [row[4] for row in rows.events] == [2]


def test_status_has_no_key_and_is_always_stored() -> None:
    status = Status("S1", "D1", "online", T0, "1.0")
    assert unique_keys([Arrival(status, at(1))]) == []
    assert data_rows([Arrival(status, at(1))], fresh=set()).outcomes == ["stored"]


def test_effects_of_new_messages() -> None:
    fault = Event("S1", "D1", 1, T0, "fault", ref="E1", attrs={"severity": "critical"})
    clear = Event("S1", "D1", 2, at(60), "fault.clear", ref="E1")
    scan = Event("S1", "K1", 3, T0, "checkin.scan", ref="OK1")
    reading = Telemetry("S1", "D1", 4, T0, (("a", 1.0), ("b", 2.0)))
    messages: list[Message] = [fault, clear, scan, reading]
    arrivals = [Arrival(m, at(i)) for i, m in enumerate(messages)]
    rows = data_rows(arrivals, fresh={("D1", 1), ("D1", 2), ("K1", 3), ("D1", 4)})
    assert [(a.action, a.code, a.severity) for a in rows.alarms] == [
        ("open", "E1", "critical"),
        ("clear", "E1", ""),
    ]
    assert rows.scans == [scan]
    assert rows.metrics == [(T0, "S1", "D1", "a", 1.0), (T0, "S1", "D1", "b", 2.0)]


def test_device_updates_follow_arrival_order() -> None:
    offline = Status("S1", "D1", "offline", T0, None)
    online = Status("S1", "D2", "online", T0, "2.1")
    arrivals = [
        Arrival(visit(1), at(1)),
        Arrival(offline, at(2)),
        Arrival(online, at(3)),
        Arrival(visit(1, "D2"), at(4)),
    ]
    d1, d2 = device_updates(arrivals)
    assert (d1.device_id, d1.last_seen, d1.offline_at, d1.state) == ("D1", at(2), at(2), "offline")
    assert (d2.device_id, d2.last_seen, d2.offline_at, d2.firmware) == ("D2", at(4), None, "2.1")


def test_a_retained_status_is_not_a_sign_of_life() -> None:
    old = Status("S1", "D1", "online", T0 - timedelta(hours=5), None)
    (update,) = device_updates([Arrival(old, at(1), retained=True)])
    assert update.last_seen == T0 - timedelta(hours=5)
