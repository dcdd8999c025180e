"""Live device state: online or not, last seen, open alarms (computed when asked).

A device is online when it sent anything in the last `offline_after` seconds (CONTRACT §2:
three minutes) and nothing since its last offline status or Last Will says otherwise.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.telemetry import queries


@dataclass(frozen=True)
class Alarm:
    """An open alarm: a fault not cleared yet."""

    code: str
    severity: str
    message: str | None
    since: datetime


@dataclass(frozen=True)
class Charging:
    """A charging session in progress: charge.start received, charge.stop not yet."""

    session: str
    connector: int | None
    since: datetime


@dataclass
class DeviceState:
    """One device as telemetry last heard of it."""

    device_id: str
    online: bool
    last_seen: datetime
    firmware: str | None
    alarms: list[Alarm] = field(default_factory=list)
    charging: list[Charging] = field(default_factory=list)


@dataclass(frozen=True)
class DeviceCounts:
    """Per station: devices heard of, online now, open alarms."""

    seen: int = 0
    online: int = 0
    open_alarms: int = 0


async def device_states(
    session: AsyncSession, station_id: str, offline_after: int
) -> list[DeviceState]:
    """The station's devices that telemetry has heard from, with their open alarms."""
    rows = await session.execute(
        text(queries.DEVICE_STATES), {"station": station_id, "offline_after": offline_after}
    )
    states = {row[0]: DeviceState(row[0], bool(row[1]), row[2], row[3]) for row in rows.all()}
    alarms = await session.execute(text(queries.DEVICE_OPEN_ALARMS), {"station": station_id})
    for device_id, code, severity, message, opened_at in alarms.all():
        if device_id in states:
            states[device_id].alarms.append(Alarm(code, severity, message, opened_at))
    sessions = await session.execute(text(queries.DEVICE_CHARGING), {"station": station_id})
    for device_id, charge_session, connector, started_at in sessions.all():
        if device_id in states:
            states[device_id].charging.append(Charging(charge_session, connector, started_at))
    return list(states.values())


async def device_counts(
    session: AsyncSession, station_ids: Sequence[str], offline_after: int
) -> dict[str, DeviceCounts]:
    """Devices seen, online now and open alarms of each station."""
    params = {"stations": list(station_ids), "offline_after": offline_after}
    devices = await session.execute(text(queries.DEVICE_DEVICE_COUNTS), params)
    alarms = await session.execute(text(queries.DEVICE_ALARM_COUNTS), params)
    open_alarms = {station_id: int(count) for station_id, count in alarms.all()}
    counts = {
        station_id: DeviceCounts(int(seen), int(online), open_alarms.get(station_id, 0))
        for station_id, seen, online in devices.all()
    }
    for station_id, count in open_alarms.items():
        counts.setdefault(station_id, DeviceCounts(open_alarms=count))
    return counts


@dataclass(frozen=True)
class LiveDevice:
    """What one device can offer now, for the public station finder."""

    device_id: str
    station_id: str
    online: bool
    last_seen: datetime
    charging: bool
    critical_alarm: bool
    any_alarm: bool


async def live_devices(
    session: AsyncSession, station_ids: Sequence[str] | None, offline_after: int
) -> list[LiveDevice]:
    """Devices of these stations (None: of all stations) with their sessions and alarms."""
    params = {
        "all": station_ids is None,
        "stations": list(station_ids or []),
        "offline_after": offline_after,
    }
    rows = await session.execute(text(queries.DEVICE_LIVE), params)
    return [
        LiveDevice(r[0], r[1], bool(r[2]), r[3], bool(r[4]), bool(r[5]), bool(r[6]))
        for r in rows.all()
    ]
