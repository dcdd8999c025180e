"""What accepted messages change: data rows, alarms and device state. Pure functions; the
store (store.py) writes their results inside the batch's transaction."""

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from yizhan.telemetry.ingest.protocol import Event, Message, Status, Telemetry

Key = tuple[str, int]
Outcome = Literal["stored", "duplicate"]


@dataclass(frozen=True)
class Arrival:
    """An accepted message (its device checked) and when we received it."""

    message: Message
    received_at: datetime
    # Replayed by the broker on subscribe: says nothing about the device being alive now.
    retained: bool = False

    @property
    def seen_at(self) -> datetime:
        """When this message shows the device was alive."""
        if self.retained:
            return min(self.message.ts, self.received_at)
        return self.received_at


def message_key(message: Message) -> Key | None:
    """The duplicate key (device_id, seq); status messages have none."""
    if isinstance(message, Status):
        return None
    return (message.device_id, message.seq)


def unique_keys(arrivals: Sequence[Arrival]) -> list[tuple[str, int, datetime, datetime]]:
    """(device_id, seq, ts, received_at) of each first occurrence, sorted by key so that
    concurrent writers take the key locks in the same order (no deadlocks)."""
    first: dict[Key, tuple[str, int, datetime, datetime]] = {}
    for arrival in arrivals:
        message = arrival.message
        key = message_key(message)
        if key is not None and key not in first:
            assert not isinstance(message, Status)
            first[key] = (key[0], key[1], message.ts, arrival.received_at)
    return [first[key] for key in sorted(first)]


@dataclass(frozen=True)
class AlarmChange:
    """A fault opens (or refreshes) an alarm; fault.clear closes it."""

    action: Literal["open", "clear"]
    device_id: str
    station_id: str
    code: str
    at: datetime
    severity: str = ""
    message: str | None = None


@dataclass
class Rows:
    """Everything one batch writes besides the duplicate keys."""

    outcomes: list[Outcome] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    metrics: list[tuple[Any, ...]] = field(default_factory=list)
    alarms: list[AlarmChange] = field(default_factory=list)
    # Newly stored events that need an answer after commit (kiosk scans).
    scans: list[Event] = field(default_factory=list)


def data_rows(arrivals: Sequence[Arrival], fresh: Collection[Key]) -> Rows:
    """Rows of the messages whose key was newly inserted (`fresh`), in arrival order; a key
    seen again, in the database or earlier in the batch, is a duplicate."""
    unused = set(fresh)
    rows = Rows()
    for arrival in arrivals:
        message = arrival.message
        key = message_key(message)
        if key is not None:
            if key not in unused:
                rows.outcomes.append("duplicate")
                continue
            unused.discard(key)
        rows.outcomes.append("stored")
        if isinstance(message, Telemetry):
            rows.metrics.extend(
                (message.ts, message.station_id, message.device_id, name, value)
                for name, value in message.metrics
            )
        elif isinstance(message, Event):
            rows.events.append(_event_row(message, arrival.received_at))
            _event_effects(message, rows)
    return rows


def _event_row(event: Event, received_at: datetime) -> tuple[Any, ...]:
    return (
        event.ts,
        received_at,
        event.station_id,
        event.device_id,
        event.seq,
        event.type,
        event.count,
        event.amount,
        event.ref,
        json.dumps(event.attrs, ensure_ascii=False),
    )


def _event_effects(event: Event, rows: Rows) -> None:
    if event.type == "fault" and event.ref is not None:
        rows.alarms.append(
            AlarmChange(
                "open",
                event.device_id,
                event.station_id,
                event.ref,
                event.ts,
                severity=str(event.attrs.get("severity", "")),
                message=event.attrs.get("message"),
            )
        )
    elif event.type == "fault.clear" and event.ref is not None:
        rows.alarms.append(
            AlarmChange("clear", event.device_id, event.station_id, event.ref, event.ts)
        )
    elif event.type == "checkin.scan":
        rows.scans.append(event)


@dataclass
class DeviceSeen:
    """One device's state change from one batch."""

    device_id: str
    station_id: str
    last_seen: datetime
    offline_at: datetime | None = None
    state: str | None = None
    state_ts: datetime | None = None
    firmware: str | None = None


def device_updates(arrivals: Sequence[Arrival]) -> list[DeviceSeen]:
    """Per device, in arrival order: any message is a sign of life; a status sets the
    reported state, an offline one (or a Last Will) the moment it went offline. Sorted by
    device id, the order in which rows are locked."""
    seen: dict[str, DeviceSeen] = {}
    for arrival in arrivals:
        message = arrival.message
        update = seen.get(message.device_id)
        if update is None:
            update = DeviceSeen(message.device_id, message.station_id, arrival.seen_at)
            seen[message.device_id] = update
        update.last_seen = max(update.last_seen, arrival.seen_at)
        if isinstance(message, Status):
            update.state = message.state
            update.state_ts = message.ts
            if message.firmware:
                update.firmware = message.firmware
            if message.state == "offline":
                update.offline_at = max(update.offline_at or arrival.seen_at, arrival.seen_at)
    return [seen[device_id] for device_id in sorted(seen)]
