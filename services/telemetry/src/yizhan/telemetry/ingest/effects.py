"""What accepted messages change: data rows, alarms, charging sessions and device state. Pure
functions; the store (store.py) writes their results inside the batch's transaction."""

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from yizhan.telemetry.ingest.protocol import Event, Message, Status, Telemetry

Key = tuple[str, int]
Outcome = Literal["stored", "duplicate"]


@dataclass(slots=True)
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


@dataclass
class Columns:
    """A batch as column arrays for the store's one INSERT statement: each keyed message once
    (its first occurrence in the batch), its metric readings and event, which point to it by
    position (1-based, as SQL's WITH ORDINALITY counts)."""

    device_id: list[str] = field(default_factory=list)
    seq: list[int] = field(default_factory=list)
    station_id: list[str] = field(default_factory=list)
    ts: list[datetime] = field(default_factory=list)
    received_at: list[datetime] = field(default_factory=list)
    metric_of: list[int] = field(default_factory=list)
    metric: list[str] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    event_of: list[int] = field(default_factory=list)
    event_type: list[str] = field(default_factory=list)
    count: list[int | None] = field(default_factory=list)
    amount: list[float | None] = field(default_factory=list)
    ref: list[str | None] = field(default_factory=list)
    attrs: list[dict[str, Any]] = field(default_factory=list)
    # Something that needs statements of its own (alarms, charging sessions).
    followups: bool = False


def columns(arrivals: Sequence[Arrival]) -> Columns:
    """The batch's messages, metric readings and events as columns (statuses have no key
    and no rows of their own: they only change the device's state)."""
    out = Columns()
    seen: set[Key] = set()
    for arrival in arrivals:
        message = arrival.message
        if isinstance(message, Status):
            continue
        key = (message.device_id, message.seq)
        if key in seen:
            continue
        seen.add(key)
        out.device_id.append(message.device_id)
        out.seq.append(message.seq)
        out.station_id.append(message.station_id)
        out.ts.append(message.ts)
        out.received_at.append(arrival.received_at)
        position = len(out.seq)
        if isinstance(message, Telemetry):
            for name, value in message.metrics:
                out.metric_of.append(position)
                out.metric.append(name)
                out.value.append(value)
        else:
            out.event_of.append(position)
            out.event_type.append(message.type)
            out.count.append(message.count)
            out.amount.append(message.amount)
            out.ref.append(message.ref)
            out.attrs.append(message.attrs)
            if message.type in FOLLOWUP_TYPES:
                out.followups = True
    return out


@dataclass(frozen=True)
class AlarmChange:
    """A fault opens (or refreshes) an alarm; fault.clear closes the faults before it (by
    seq)."""

    action: Literal["open", "clear"]
    device_id: str
    station_id: str
    code: str
    at: datetime
    seq: int
    severity: str = ""
    message: str | None = None


@dataclass
class SessionChange:
    """A charging session as one batch saw it: its start, its stop, or both (joined on
    (device, session) with what is already stored, whichever arrives first)."""

    device_id: str
    session: str
    station_id: str
    connector: int | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    energy_wh: float | None = None
    stop_reason: str | None = None


@dataclass
class Rows:
    """What the new messages of a batch change besides their own rows, and each accepted
    message's outcome."""

    outcomes: list[Outcome] = field(default_factory=list)
    alarms: list[AlarmChange] = field(default_factory=list)
    sessions: dict[tuple[str, str], SessionChange] = field(default_factory=dict)
    # Newly stored events that count in the usage figures (rollups.py adds them up).
    usage: list[Event] = field(default_factory=list)
    # Newly stored events that need an answer after commit (kiosk scans).
    scans: list[Event] = field(default_factory=list)


USAGE_TYPES = frozenset({"visit", "charge.stop", "water.dispense", "heat.use"})
FOLLOWUP_TYPES = frozenset({"charge.start", "charge.stop", "fault", "fault.clear"})


def effects(arrivals: Sequence[Arrival], duplicates: Collection[Key]) -> Rows:
    """Outcomes and effects in arrival order: a key already stored (`duplicates`, as the
    database said) or seen earlier in the batch is a duplicate and changes nothing."""
    rows = Rows()
    outcomes = rows.outcomes
    seen: set[Key] = set()
    for arrival in arrivals:
        message = arrival.message
        if isinstance(message, Status):
            outcomes.append("stored")
            continue
        key = (message.device_id, message.seq)
        if key in seen or key in duplicates:
            outcomes.append("duplicate")
            continue
        seen.add(key)
        outcomes.append("stored")
        if isinstance(message, Event):
            _event_effects(message, rows)
    return rows


def _event_effects(event: Event, rows: Rows) -> None:
    if event.type in USAGE_TYPES:
        rows.usage.append(event)
    if event.type in ("charge.start", "charge.stop") and event.ref is not None:
        _session_effect(event, rows)
    elif event.type == "fault" and event.ref is not None:
        rows.alarms.append(
            AlarmChange(
                "open",
                event.device_id,
                event.station_id,
                event.ref,
                event.ts,
                event.seq,
                severity=str(event.attrs.get("severity", "")),
                message=event.attrs.get("message"),
            )
        )
    elif event.type == "fault.clear" and event.ref is not None:
        rows.alarms.append(
            AlarmChange("clear", event.device_id, event.station_id, event.ref, event.ts, event.seq)
        )
    elif event.type == "checkin.scan":
        rows.scans.append(event)


def _session_effect(event: Event, rows: Rows) -> None:
    key = (event.device_id, event.ref or "")
    change = rows.sessions.get(key)
    if change is None:
        change = rows.sessions[key] = SessionChange(event.device_id, key[1], event.station_id)
    if event.type == "charge.start":
        # The earliest start wins: a resent or repeated start does not move it.
        if change.started_at is None or event.ts < change.started_at:
            change.started_at = event.ts
            change.connector = event.attrs.get("connector")
    else:
        # The latest stop wins, with its energy and reason.
        if change.stopped_at is None or event.ts >= change.stopped_at:
            change.stopped_at = event.ts
            change.energy_wh = event.amount
            change.stop_reason = event.attrs.get("reason")


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
