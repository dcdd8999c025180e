"""The audit log: every change to stations, devices and operators, written in the same
transaction as the change itself (so there is never a change without its entry)."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.common import audit as common_audit
from yizhan.stations.models import AuditEntry, Device, OperatorAccount, Station

MAX_PAGE_SIZE = common_audit.MAX_PAGE_SIZE


def station_snapshot(station: Station) -> dict[str, Any]:
    """What the audit log keeps of a station."""
    return {
        "name": {"zh": station.name_zh, "en": station.name_en},
        "district": station.district,
        "address": station.address,
        "latitude": station.latitude,
        "longitude": station.longitude,
        "host_type": station.host_type,
        "timezone": station.timezone,
        "status": station.status,
        "opening_hours": station.opening_hours,
        "opening_exceptions": station.opening_exceptions,
        "amenities": list(station.amenities),
        "contact": station.contact,
    }


def device_snapshot(device: Device) -> dict[str, Any]:
    """What the audit log keeps of a device: never its password or hash, only which
    generation of credentials is current."""
    return {
        "station_id": device.station_id,
        "kind": device.kind,
        "model": device.model,
        "firmware": device.firmware,
        "installed_at": device.installed_at.isoformat() if device.installed_at else None,
        "status": device.status,
        "credential_generation": device.credential_generation,
    }


def operator_snapshot(account: OperatorAccount) -> dict[str, Any]:
    """What the audit log keeps of an operator account (no password hash)."""
    return {
        "role": account.role,
        "districts": list(account.districts),
        "disabled": bool(account.disabled),
    }


def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    districts: Sequence[str],
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    station_id: str | None = None,
) -> None:
    """Add an entry to the session; the caller's commit writes it with the change."""
    common_audit.record(
        session,
        AuditEntry,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        districts=districts,
        before=before,
        after=after,
        station_id=station_id,
    )


async def entries(
    session: AsyncSession,
    *,
    districts: Sequence[str] | None,
    station_id: str | None = None,
    entity: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[AuditEntry]:
    """Newest first; `districts=None` means every entry, otherwise entries touching one of
    those districts (entries without a district, such as admin accounts, only for None)."""
    return await common_audit.entries(
        session,
        AuditEntry,
        districts=districts,
        station_id=station_id,
        entity=entity,
        before_id=before_id,
        limit=limit,
    )
