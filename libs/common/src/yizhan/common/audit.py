"""The audit log every service keeps of its operators' changes: who, what, when, and the
record before and after, written in the same transaction as the change itself (so there is
never a change without its entry). Each service maps the columns onto its own `audit_log`
table (its own database) with `AuditLogColumns`, and writes and reads it with the functions
here, so stations and bookings keep one shape and one way of scoping it by district."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import BigInteger, DateTime, String, func, select
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

MAX_PAGE_SIZE = 200


class AuditLogColumns:
    """Columns of an `audit_log` table; a service's model adds its base, table name and
    indexes (district-scoped reads ask `districts && ARRAY[...]`: a GIN index)."""

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[str] = mapped_column(String(64))
    station_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # Districts the change touches (before and after): what decides who may read the entry.
    districts: Mapped[list[str]] = mapped_column(ARRAY(String(100)), default=list)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


Entry = TypeVar("Entry", bound=AuditLogColumns)


class AuditEntryOut(BaseModel):
    """One change, with the record before and after it (null when created)."""

    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    station_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(BaseModel):
    """Newest first; pass `next` as `before` for the following page."""

    items: list[AuditEntryOut]
    next: str | None


def page_of(rows: Sequence[AuditLogColumns], limit: int) -> AuditPage:
    """The page of `rows` read with `limit + 1` (one more tells there is a next page)."""
    more = len(rows) > limit
    shown = rows[:limit]
    return AuditPage(
        items=[
            AuditEntryOut(
                id=row.id,
                at=row.at,
                actor=row.actor,
                action=row.action,
                entity=row.entity,
                entity_id=row.entity_id,
                station_id=row.station_id,
                before=row.before,
                after=row.after,
            )
            for row in shown
        ],
        next=str(shown[-1].id) if more and shown else None,
    )


def record(
    session: AsyncSession,
    model: type[AuditLogColumns],
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
    entry = model()
    entry.actor = actor[:64]
    entry.action = action
    entry.entity = entity
    entry.entity_id = entity_id
    entry.station_id = station_id
    entry.districts = sorted(set(districts))
    entry.before = before
    entry.after = after
    session.add(entry)


async def entries(
    session: AsyncSession,
    model: type[Entry],
    *,
    districts: Sequence[str] | None,
    station_id: str | None = None,
    entity: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[Entry]:
    """Newest first; `districts=None` means every entry, otherwise entries touching one of
    those districts (entries without a district, such as admin accounts, only for None)."""
    query = select(model).order_by(model.id.desc())
    if districts is not None:
        query = query.where(model.districts.overlap(list(districts)))
    if station_id is not None:
        query = query.where(model.station_id == station_id)
    if entity is not None:
        query = query.where(model.entity == entity)
    if before_id is not None:
        query = query.where(model.id < before_id)
    query = query.limit(min(limit, MAX_PAGE_SIZE))
    return list((await session.scalars(query)).all())
