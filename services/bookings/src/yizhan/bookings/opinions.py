"""Opinions raised at forum sessions (意见): submitted by attendees, moved by operators
through received -> in progress -> resolved (with the measure taken) or declined (with the
reason), and the worker is told the outcome by SMS."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.bookings.errors import Conflict, InvalidInput, NotFound, RateLimited
from yizhan.bookings.locking import lock_booking
from yizhan.bookings.metrics import OPINIONS
from yizhan.bookings.models import (
    CONFIRMED,
    OPINION_DECLINED,
    OPINION_IN_PROGRESS,
    OPINION_RECEIVED,
    OPINION_RESOLVED,
    Booking,
    Opinion,
)
from yizhan.bookings.notices import Notices
from yizhan.bookings.outbox import Outbox

# Where an opinion may go from each status; resolved and declined are final.
TRANSITIONS: dict[str, frozenset[str]] = {
    OPINION_RECEIVED: frozenset({OPINION_IN_PROGRESS, OPINION_DECLINED}),
    OPINION_IN_PROGRESS: frozenset({OPINION_RESOLVED, OPINION_DECLINED}),
    OPINION_RESOLVED: frozenset(),
    OPINION_DECLINED: frozenset(),
}


@dataclass(frozen=True)
class OpinionRules:
    """How many opinions an attendee may raise per session, and for how long after it."""

    per_booking: int
    days_after: timedelta


def may_submit(booking: Booking, now: datetime, rules: OpinionRules) -> str | None:
    """Why the holder of `booking` cannot submit an opinion now (a message key); None when
    they can. Attendees are the holders of a seat who checked in."""
    if booking.forum_session_id is None or booking.status != CONFIRMED:
        return "opinion_not_attendee"
    if booking.checked_in_at is None:
        return "opinion_not_attendee"
    if now > booking.ends_at + rules.days_after:
        return "opinion_closed"
    return None


class OpinionDesk:
    """Takes opinions from attendees and moves them on for operators."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        notices: Notices,
        outbox: Outbox,
        clock: Callable[[], datetime],
        rules: OpinionRules,
    ) -> None:
        self._sessions = sessions
        self._notices = notices
        self._outbox = outbox
        self._clock = clock
        self.rules = rules

    async def submit(self, booking_id: int, category: str, text: str) -> Opinion:
        """Record an attendee's opinion; the booking's row lock keeps the per-booking count."""
        now = self._clock()
        async with self._sessions.begin() as session:
            booking = await lock_booking(session, booking_id)
            if booking is None:
                raise NotFound("booking_not_found")
            refused = may_submit(booking, now, self.rules)
            if refused is not None:
                raise Conflict(refused)
            count = await session.scalar(
                select(func.count(Opinion.id)).where(Opinion.booking_id == booking.id)
            )
            if int(count or 0) >= self.rules.per_booking:
                raise RateLimited("opinion_limit")
            assert booking.forum_session_id is not None
            opinion = Opinion(
                forum_session_id=booking.forum_session_id,
                booking_id=booking.id,
                station_id=booking.station_id,
                category=category,
                text=text,
                status=OPINION_RECEIVED,
                created_at=now,
                updated_at=now,
            )
            session.add(opinion)
        OPINIONS.labels(category).inc()
        return opinion

    async def of_booking(self, booking_id: int) -> list[Opinion]:
        """The opinions a booking's holder raised, oldest first."""
        async with self._sessions() as session:
            query = select(Opinion).where(Opinion.booking_id == booking_id).order_by(Opinion.id)
            return list((await session.scalars(query)).all())

    async def get(self, opinion_id: int) -> Opinion:
        """One opinion; NotFound when there is none."""
        async with self._sessions() as session:
            opinion = await session.get(Opinion, opinion_id)
        if opinion is None:
            raise NotFound("opinion_not_found")
        return opinion

    async def move(
        self,
        opinion_id: int,
        status: str,
        *,
        operator: str,
        measure: str | None = None,
        reason: str | None = None,
    ) -> Opinion:
        """Move an opinion to `status`; resolving needs the measure, declining the reason.
        Moving to the status it already has changes nothing (a retried request)."""
        now = self._clock()
        async with self._sessions.begin() as session:
            query = select(Opinion).where(Opinion.id == opinion_id).with_for_update()
            opinion = await session.scalar(query)
            if opinion is None:
                raise NotFound("opinion_not_found")
            if opinion.status == status:
                return opinion
            if status not in TRANSITIONS[opinion.status]:
                raise Conflict("opinion_transition")
            if status == OPINION_RESOLVED and not measure:
                raise InvalidInput("measure_required", field="measure")
            if status == OPINION_DECLINED and not reason:
                raise InvalidInput("reason_required", field="reason")
            opinion.status = status
            opinion.updated_at = now
            opinion.handled_by = operator[:64]
            if status == OPINION_RESOLVED:
                opinion.measure = measure
            if status == OPINION_DECLINED:
                opinion.decline_reason = reason
            if not TRANSITIONS[status]:
                opinion.closed_at = now
                booking = await session.get(Booking, opinion.booking_id)
                assert booking is not None
                if status == OPINION_RESOLVED:
                    self._notices.opinion_answered(
                        session, booking.phone, "opinion_resolved", now, measure=measure
                    )
                else:
                    self._notices.opinion_answered(
                        session, booking.phone, "opinion_declined", now, reason=reason
                    )
        if not TRANSITIONS[status]:
            self._outbox.wake()
        return opinion
