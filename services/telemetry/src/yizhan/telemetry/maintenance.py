"""Periodic purges that keep the telemetry database the size it needs to be.

- Duplicate keys: a message older than 30 days is refused (`ts_stale`), so its key can never
  be needed again; keys are kept a day longer for clock differences.
- Dead letters after YZ_TELEMETRY_DEAD_LETTER_RETENTION_DAYS.
- Raw events and metrics after YZ_TELEMETRY_RAW_RETENTION_DAYS, without TimescaleDB (with it,
  its retention policy drops whole chunks). The usage rollups are kept.

Deletes go in slices so that no statement holds locks or bloats the WAL for long; running it
on several replicas at once is harmless.
"""

import asyncio
import logging
from datetime import timedelta
from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.telemetry.ingest.protocol import MAX_AGE

log = logging.getLogger(__name__)

KEY_RETENTION: Final = MAX_AGE + timedelta(days=1)
SLICE_ROWS: Final = 10_000
# Let the service finish starting before the first purge.
FIRST_RUN_DELAY_SECONDS: Final = 30.0

_PURGE = """
DELETE FROM {table} WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM {table} WHERE {column} < now() - make_interval(secs => :seconds)
    LIMIT {limit}
))
"""
_KEEPS_RAW = "SELECT relkind = 'r' FROM pg_class WHERE relname = 'usage_15m'"


async def purge_once(
    sessions: async_sessionmaker[AsyncSession],
    *,
    raw_retention_days: int,
    dead_letter_retention_days: int,
) -> dict[str, int]:
    """One round of purges; rows deleted per table."""
    targets = [
        ("message_keys", "ts", KEY_RETENTION),
        ("dead_letters", "received_at", timedelta(days=dead_letter_retention_days)),
    ]
    async with sessions() as session:
        plain = bool(await session.scalar(text(_KEEPS_RAW)))
    if plain and raw_retention_days > 0:
        raw = timedelta(days=raw_retention_days)
        targets += [("events", "time", raw), ("metrics", "time", raw)]
    deleted: dict[str, int] = {}
    for table, column, age in targets:
        statement = text(_PURGE.format(table=table, column=column, limit=SLICE_ROWS))
        total = 0
        while True:
            async with sessions() as session, session.begin():
                result = await session.execute(statement, {"seconds": age.total_seconds()})
            count = int(getattr(result, "rowcount", 0) or 0)
            total += count
            if count < SLICE_ROWS:
                break
        deleted[table] = total
    return deleted


async def run(
    sessions: async_sessionmaker[AsyncSession],
    *,
    interval_seconds: float,
    raw_retention_days: int,
    dead_letter_retention_days: int,
) -> None:
    """Purge every `interval_seconds` for the life of the service."""
    await asyncio.sleep(FIRST_RUN_DELAY_SECONDS)
    while True:
        try:
            deleted = await purge_once(
                sessions,
                raw_retention_days=raw_retention_days,
                dead_letter_retention_days=dead_letter_retention_days,
            )
            if any(deleted.values()):
                log.info("purged old rows", extra={"deleted": deleted})
        except Exception:  # the next round tries again; the service goes on
            log.exception("purge failed")
        await asyncio.sleep(interval_seconds)
