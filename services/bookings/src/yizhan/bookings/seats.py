"""Seats of a forum session: who gets the next one freed (locking.py rule 2: every function
here runs with the session's row lock held by the caller). Who gets one is decided by
yz_book_seat (migration 0009)."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.bookings import repository
from yizhan.bookings.metrics import WAITLIST_PROMOTIONS
from yizhan.bookings.models import CONFIRMED, Booking, ForumSession
from yizhan.bookings.notices import Notices


async def promote_waitlisted(
    session: AsyncSession, forum: ForumSession, now: datetime, notices: Notices
) -> list[Booking]:
    """Give free seats to the waitlist, first come first served, and queue the SMS that tells
    each promoted worker. Nobody is promoted once the session has started: a seat given at
    the door is the operator's to hand out."""
    promoted: list[Booking] = []
    if now >= forum.starts_at:
        return promoted
    while await repository.confirmed_seats(session, forum.id) < forum.seats:
        first = await repository.first_waitlisted(session, forum.id)
        if first is None:
            break
        first.status = CONFIRMED
        first.promoted_at = now
        await session.flush()
        notices.promoted(session, first, forum.topic, now)
        promoted.append(first)
        WAITLIST_PROMOTIONS.inc()
    return promoted
