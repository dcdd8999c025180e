"""What a livestream slot earned (CONTRACT §4): households served and sales in yuan,
recorded after the slot has started by the worker (manage token) or an operator, and summed
per station for the console (stats.py). Recording again replaces the earlier figures: the
worker may correct a typo, an operator may fix what a worker entered."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.bookings.errors import Conflict
from yizhan.bookings.models import CANCELLED, LIVESTREAM, Booking, LivestreamOutcome

# Who recorded it, when the manage token was used.
WORKER = "worker"


@dataclass(frozen=True)
class Outcome:
    """The figures of one slot, as checked by the API's schema."""

    households: int
    sales_yuan: Decimal
    note: str


async def record(
    sessions: async_sessionmaker[AsyncSession],
    booking: Booking,
    outcome: Outcome,
    *,
    recorded_by: str,
    now: datetime,
) -> LivestreamOutcome:
    """Store (or replace) a livestream booking's outcome; Conflict for a forum seat, a
    cancelled booking, or a slot that has not started."""
    if booking.kind != LIVESTREAM:
        raise Conflict("outcome_not_livestream")
    if booking.status == CANCELLED:
        raise Conflict("outcome_cancelled")
    if now < booking.starts_at:
        raise Conflict("outcome_too_early")
    values = {
        "booking_id": booking.id,
        "station_id": booking.station_id,
        "starts_at": booking.starts_at,
        "households": outcome.households,
        "sales_yuan": outcome.sales_yuan,
        "note": outcome.note,
        "recorded_by": recorded_by,
        "recorded_at": now,
    }
    statement = (
        insert(LivestreamOutcome)
        .values(**values)
        .on_conflict_do_update(index_elements=["booking_id"], set_=values)
        .returning(LivestreamOutcome)
    )
    async with sessions() as session, session.begin():
        stored: LivestreamOutcome = (await session.scalars(statement)).one()
    return stored
