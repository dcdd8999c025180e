"""What accepted messages change: duplicates within a batch, alarms, device state."""

from datetime import UTC, datetime, timedelta

from yizhan.telemetry.ingest.effects import Arrival, columns, device_updates, effects
from yizhan.telemetry.ingest.protocol import Event, Message, Status, Telemetry

T0 = datetime(2026, 11, 23, 4, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def visit(seq: int, device: str = "D1") -> Event:
    return Event("S1", device, seq, T0, "visit", count=1)


def test_a_key_twice_in_one_batch_is_stored_once() -> None:
    arrivals = [Arrival(visit(1), at(1)), Arrival(visit(1), at(2)), Arrival(visit(2), at(3))]
    batch = columns(arrivals)
    assert list(zip(batch.device_id, batch.seq, strict=True)) == [("D1", 1), ("D1", 2)]
    assert batch.received_at == [at(1), at(3)]
    assert batch.event_of == [1, 2]
    assert effects(arrivals, duplicates=set()).outcomes == ["stored", "duplicate", "stored"]


def test_keys_already_in_the_database_are_duplicates() -> None:
    arrivals = [Arrival(visit(1), at(1)), Arrival(visit(2), at(2))]
    rows = effects(arrivals, duplicates={("D1", 1)})
    assert rows.outcomes == ["duplicate", "stored"]
    assert [e.seq for e in rows.usage] == [2]


def test_status_has_no_key_and_is_always_stored() -> None:
    status = Status("S1", "D1", "online", T0, "1.0")
    assert columns([Arrival(status, at(1))]).seq == []
    assert effects([Arrival(status, at(1))], duplicates=set()).outcomes == ["stored"]


def test_readings_point_to_their_message() -> None:
    reading = Telemetry("S1", "D1", 4, T0, (("a", 1.0), ("b", 2.0)))
    batch = columns([Arrival(visit(1), at(1)), Arrival(reading, at(2))])
    assert (batch.metric_of, batch.metric, batch.value) == ([2, 2], ["a", "b"], [1.0, 2.0])
    assert not batch.followups


def test_effects_of_new_messages() -> None:
    fault = Event("S1", "D1", 1, T0, "fault", ref="E1", attrs={"severity": "critical"})
    clear = Event("S1", "D1", 2, at(60), "fault.clear", ref="E1")
    scan = Event("S1", "K1", 3, T0, "checkin.scan", ref="OK1")
    reading = Telemetry("S1", "D1", 4, T0, (("a", 1.0), ("b", 2.0)))
    messages: list[Message] = [fault, clear, scan, reading]
    arrivals = [Arrival(m, at(i)) for i, m in enumerate(messages)]
    rows = effects(arrivals, duplicates=set())
    assert [(a.action, a.code, a.severity, a.seq) for a in rows.alarms] == [
        ("open", "E1", "critical", 1),
        ("clear", "E1", "", 2),
    ]
    assert rows.scans == [scan]
    assert columns(arrivals).followups


def test_a_session_joined_within_a_batch() -> None:
    start = Event("S1", "C1", 1, T0, "charge.start", ref="A", attrs={"connector": 2})
    stop = Event("S1", "C1", 2, at(60), "charge.stop", ref="A", amount=5.0, attrs={})
    rows = effects([Arrival(stop, at(1)), Arrival(start, at(2))], duplicates=set())
    (session,) = rows.sessions.values()
    assert (session.started_at, session.stopped_at, session.connector, session.energy_wh) == (
        T0,
        at(60),
        2,
        5.0,
    )


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
