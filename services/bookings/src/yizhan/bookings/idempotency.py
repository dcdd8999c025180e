"""Idempotency-Key handling for POST /api/v1/bookings: a retry after a lost answer gets the
booking the first attempt made (see locking.py rule 4 for the concurrency side)."""

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.bookings.models import IdempotencyKey

MAX_KEY_LENGTH = 200


def fingerprint(request: Mapping[str, Any]) -> str:
    """A digest of the normalized request: equal for a retry, different for another request."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def find(session: AsyncSession, key: str) -> IdempotencyKey | None:
    """The stored key, if a booking was already made with it."""
    return await session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == key))


async def claim(session: AsyncSession, key: str, digest: str, now: datetime) -> bool:
    """Insert the key in the current transaction; False when another request already has it
    (this waits for that request's transaction to end)."""
    statement = (
        insert(IdempotencyKey)
        .values(key=key, fingerprint=digest, created_at=now)
        .on_conflict_do_nothing(index_elements=[IdempotencyKey.key])
        .returning(IdempotencyKey.key)
    )
    return await session.scalar(statement) is not None


async def attach(session: AsyncSession, key: str, booking_id: int) -> None:
    """Record which booking the key made."""
    await session.execute(
        update(IdempotencyKey).where(IdempotencyKey.key == key).values(booking_id=booking_id)
    )
