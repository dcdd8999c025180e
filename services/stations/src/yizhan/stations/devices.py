"""Device lifecycle: provision, change, rotate credentials, revoke; each change audited in
the same transaction. Pushing to the broker happens after the commit (see broker/sync.py)."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.stations import audit
from yizhan.stations.models import Device, Station
from yizhan.stations.passwords import device_password, hash_device_secret
from yizhan.stations.schemas import BrokerState, DeviceCreate


class DeviceRevoked(Exception):
    """The device is revoked: nothing about its credentials can change any more."""


def broker_state(device: Device, managed: bool) -> BrokerState:
    """Whether the broker holds what the database says about this device."""
    if not managed:
        return "unmanaged"
    if device.status == "active":
        synced = device.broker_generation == device.credential_generation
    else:
        synced = device.broker_generation == 0
    return "synced" if synced else "pending"


def provision(
    session: AsyncSession,
    station: Station,
    body: DeviceCreate,
    key: str,
    actor: str,
    password_hash: str | None = None,
) -> tuple[Device, str]:
    """A new device and its first password (shown once; only its hash is stored).
    `password_hash`: that password's hash made beforehand (a bulk import hashes off the
    event loop)."""
    password = device_password(key, body.id, 1)
    # The MQTT username is the device id: the broker's ACL ties it to the device's topics.
    device = Device(
        id=body.id,
        station_id=station.id,
        kind=body.kind,
        model=body.model,
        firmware=body.firmware,
        installed_at=body.installed_at,
        status="active",
        mqtt_username=body.id,
        mqtt_password_hash=password_hash or hash_device_secret(password),
        credential_generation=1,
        broker_generation=0,
    )
    session.add(device)
    audit.record(
        session,
        actor=actor,
        action="device.provision",
        entity="device",
        entity_id=device.id,
        station_id=station.id,
        districts=[station.district],
        before=None,
        after=audit.device_snapshot(device),
    )
    return device, password


def change(
    session: AsyncSession, station: Station, device: Device, changes: dict[str, Any], actor: str
) -> None:
    """Apply field changes (kind, model, firmware, installed_at)."""
    before = audit.device_snapshot(device)
    for name, value in changes.items():
        setattr(device, name, value)
    audit.record(
        session,
        actor=actor,
        action="device.update",
        entity="device",
        entity_id=device.id,
        station_id=station.id,
        districts=[station.district],
        before=before,
        after=audit.device_snapshot(device),
    )


def rotate(session: AsyncSession, station: Station, device: Device, key: str, actor: str) -> str:
    """New credentials: the next generation's password (shown once); the old one stops
    working when the broker gets the new one."""
    if device.status != "active":
        raise DeviceRevoked(device.id)
    before = audit.device_snapshot(device)
    device.credential_generation += 1
    password = device_password(key, device.id, device.credential_generation)
    device.mqtt_password_hash = hash_device_secret(password)
    audit.record(
        session,
        actor=actor,
        action="device.rotate",
        entity="device",
        entity_id=device.id,
        station_id=station.id,
        districts=[station.district],
        before=before,
        after=audit.device_snapshot(device),
    )
    return password


def revoke(session: AsyncSession, station: Station, device: Device, actor: str) -> bool:
    """Revoke for good; False when it already was (nothing recorded then)."""
    if device.status == "revoked":
        return False
    before = audit.device_snapshot(device)
    device.status = "revoked"
    device.revoked_at = datetime.now(UTC)
    audit.record(
        session,
        actor=actor,
        action="device.revoke",
        entity="device",
        entity_id=device.id,
        station_id=station.id,
        districts=[station.district],
        before=before,
        after=audit.device_snapshot(device),
    )
    return True
