"""What a worker holds here, found by their phone: their bookings ("my bookings"), a
waitlisted booking's place in the queue, and erasing their data (PIPL: phone and name go,
the rows stay so that every count and report stays right)."""

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.bookings.models import (
    ACTIVE_STATUSES,
    WAITLISTED,
    Booking,
    OtpCode,
    SmsOutbox,
)

# "My bookings" lists the upcoming ones and those of the last weeks, newest start first.
MY_BOOKINGS_SHOWN = 50
ERASED_NAME = ""


async def waitlist_position(session: AsyncSession, booking: Booking) -> int | None:
    """1 for the first in the queue of its session; None unless the booking is waitlisted.
    Promotion takes the lowest id first (seats.py), so the place is the count up to this id."""
    if booking.status != WAITLISTED or booking.forum_session_id is None:
        return None
    ahead = select(func.count(Booking.id)).where(
        Booking.forum_session_id == booking.forum_session_id,
        Booking.status == WAITLISTED,
        Booking.id <= booking.id,
    )
    return int(await session.scalar(ahead) or 0)


async def bookings_of(session: AsyncSession, phone: str) -> list[Booking]:
    """The phone's bookings, latest start first (erased ones hold no phone, so never)."""
    query = (
        select(Booking)
        .where(Booking.phone == phone)
        .order_by(Booking.starts_at.desc(), Booking.id.desc())
        .limit(MY_BOOKINGS_SHOWN)
    )
    return list((await session.scalars(query)).all())


async def active_codes_of(session: AsyncSession, phone: str, now: datetime) -> list[str]:
    """Codes of the phone's bookings that have not started and still hold a slot or a place."""
    query = select(Booking.code).where(
        Booking.phone == phone, Booking.status.in_(ACTIVE_STATUSES), Booking.starts_at > now
    )
    return list((await session.scalars(query)).all())


async def erase_phone(session: AsyncSession, phone: str, now: datetime) -> int:
    """Erase a phone's name and number from its bookings and forget its codes and queued SMS;
    the number of bookings erased. The caller cancels upcoming bookings first."""
    erased = await session.execute(
        update(Booking)
        .where(Booking.phone == phone)
        .values(phone=None, name=ERASED_NAME, erased_at=now)
    )
    await session.execute(delete(OtpCode).where(OtpCode.phone == phone))
    await session.execute(delete(SmsOutbox).where(SmsOutbox.phone == phone))
    return int(erased.rowcount or 0)  # type: ignore[attr-defined]


async def erase_finished(session: AsyncSession, ended_before: datetime, now: datetime) -> int:
    """Erase phone and name of every booking that ended before `ended_before`; how many."""
    erased = await session.execute(
        update(Booking)
        .where(Booking.phone.is_not(None), Booking.ends_at < ended_before)
        .values(phone=None, name=ERASED_NAME, erased_at=now)
    )
    return int(erased.rowcount or 0)  # type: ignore[attr-defined]
