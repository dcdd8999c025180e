"""Idempotency-Key handling for POST /api/v1/bookings: a retry after a lost answer gets the
booking the first attempt made (see locking.py rule 4 for the concurrency side)."""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yizhan.bookings.plain_sql import Db, fetch_one

MAX_KEY_LENGTH = 200


def fingerprint(request: Mapping[str, Any]) -> str:
    """A digest of the normalized request: equal for a retry, different for another request."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class StoredKey:
    """An Idempotency-Key already used: the request's fingerprint and the booking it made."""

    key: str
    fingerprint: str
    booking_id: int | None


async def find(session: Db, key: str) -> StoredKey | None:
    """The stored key, if a booking was already made with it."""
    row = await fetch_one(
        session, "SELECT fingerprint, booking_id FROM idempotency_keys WHERE key = %s", key
    )
    return None if row is None else StoredKey(key, row[0], row[1])
