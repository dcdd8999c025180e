"""Bulk import of stations and devices (docs/registry-import.md): a dry run reports every bad
row; an apply writes everything in one transaction or nothing."""

import asyncio
import logging

from fastapi import APIRouter, HTTPException, status
from sqlalchemy.exc import IntegrityError

from yizhan.common.auth import WritingOperator
from yizhan.stations import imports
from yizhan.stations.api.deps import DepsDep, SessionDep

log = logging.getLogger(__name__)
# Broker pushes in flight after an import (each also takes a database connection).
PARALLEL_PUSHES = 4
router = APIRouter(prefix="/api/v1/imports", tags=["imports"])


@router.post("", response_model=imports.ImportResult)
async def import_registry(
    body: imports.ImportBody, operator: WritingOperator, deps: DepsDep, session: SessionDep
) -> imports.ImportResult:
    """Check the rows (`dry_run: true`), or write them all when none is bad; the devices'
    passwords are in the answer this once."""
    key = deps.settings.device_key.get_secret_value()
    try:
        result, pushed = await imports.apply(session, body, operator, key)
        if not result.applied:
            return result
        await session.commit()
    except IntegrityError as exc:
        log.warning("import refused by the database", extra={"error": str(exc.orig)})
        # Someone registered one of these ids since the check: nothing was written.
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="an id was registered meanwhile; check again"
        ) from exc
    broker = deps.broker
    if broker is not None:
        # A few at a time: round trips overlap, and each push holds only its own device's
        # row lock (a device not pushed stays pending for the resync).
        gate = asyncio.Semaphore(PARALLEL_PUSHES)

        async def push(device_id: str) -> None:
            async with gate:
                await broker.push_device(device_id)

        await asyncio.gather(*(push(device_id) for device_id in pushed))
    return result
