"""Queries of the stations database (one place for the SQL of this service)."""

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.stations.models import Device, OperatorAccount, Station

MAX_PAGE_SIZE = 500


async def list_stations(
    session: AsyncSession,
    *,
    districts: Sequence[str] | None = None,
    ids: Sequence[str] | None = None,
    status: str | None = None,
    amenities: Sequence[str] = (),
    text: str | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> list[Station]:
    """Stations ordered by id; `districts=None` means all districts, `[]` means none;
    `amenities`: stations offering all of them; `text`: in either name, the id or address."""
    query = select(Station).order_by(Station.id)
    if districts is not None:
        query = query.where(Station.district.in_(list(districts)))
    if ids:
        query = query.where(Station.id.in_(list(ids)))
    if status:
        query = query.where(Station.status == status)
    if amenities:
        query = query.where(Station.amenities.contains(list(amenities)))
    if text:
        pattern = f"%{_escape_like(text)}%"
        query = query.where(
            or_(
                Station.name_zh.ilike(pattern, escape="\\"),
                Station.name_en.ilike(pattern, escape="\\"),
                Station.id.ilike(pattern, escape="\\"),
                Station.address.ilike(pattern, escape="\\"),
            )
        )
    if after:
        query = query.where(Station.id > after)
    if limit is not None:
        query = query.limit(min(limit, MAX_PAGE_SIZE))
    return list((await session.scalars(query)).all())


def _escape_like(text: str) -> str:
    """`%` and `_` typed by a user are searched for, not wildcards."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def get_station(session: AsyncSession, station_id: str) -> Station | None:
    """One station by id."""
    return await session.get(Station, station_id)


async def list_devices(session: AsyncSession, station_id: str) -> list[Device]:
    """A station's devices, ordered by id."""
    query = select(Device).where(Device.station_id == station_id).order_by(Device.id)
    return list((await session.scalars(query)).all())


async def devices_of(session: AsyncSession, station_ids: Sequence[str]) -> list[Device]:
    """Devices of these stations, by station and id."""
    if not station_ids:
        return []
    query = (
        select(Device)
        .where(Device.station_id.in_(list(station_ids)))
        .order_by(Device.station_id, Device.id)
    )
    return list((await session.scalars(query)).all())


async def get_device(session: AsyncSession, device_id: str) -> Device | None:
    """One device by id."""
    return await session.get(Device, device_id)


async def device_counts(session: AsyncSession, station_ids: Sequence[str]) -> dict[str, int]:
    """Active devices per station."""
    query = (
        select(Device.station_id, func.count())
        .where(Device.station_id.in_(list(station_ids)), Device.status == "active")
        .group_by(Device.station_id)
    )
    return {station_id: count for station_id, count in (await session.execute(query)).all()}


async def get_operator(session: AsyncSession, username: str) -> OperatorAccount | None:
    """One operator account by username."""
    return await session.get(OperatorAccount, username)


async def list_operators(session: AsyncSession) -> list[OperatorAccount]:
    """Every operator account, by username."""
    query = select(OperatorAccount).order_by(OperatorAccount.username)
    return list((await session.scalars(query)).all())


async def lock_admins(session: AsyncSession) -> None:
    """Lock every admin account until the transaction ends, always in the same order (two
    admins changing each other at once cannot both see the other as still there)."""
    query = (
        select(OperatorAccount.username)
        .where(OperatorAccount.role == "admin")
        .order_by(OperatorAccount.username)
        .with_for_update()
    )
    await session.execute(query)


async def enabled_admins(session: AsyncSession) -> list[str]:
    """Usernames of the admins who can still sign in."""
    query = select(OperatorAccount.username).where(
        OperatorAccount.role == "admin", OperatorAccount.disabled.is_(False)
    )
    return list((await session.scalars(query)).all())
