"""Opinions raised at forum sessions (意见): submitted by attendees or recorded by an operator
as raised in the room, grouped under measures (改进措施: many opinions, one measure), moved by
operators through received -> in progress -> resolved (with the measure taken) or declined
(with the reason); an attendee is told the outcome by SMS. Operators' actions are audited."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.bookings.audit import Stamp, measure_snapshot, opinion_snapshot, record
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
    ForumSession,
    Measure,
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

    async def record_raised(
        self, forum_session_id: int, category: str, text: str, stamp: Stamp
    ) -> Opinion:
        """Record an opinion raised in the room at a session (the caller checked the session's
        station is the operator's); nobody is told by SMS, there is no booking behind it."""
        now = self._clock()
        async with self._sessions.begin() as session:
            forum = await session.get(ForumSession, forum_session_id)
            if forum is None:
                raise NotFound("session_unknown")
            opinion = Opinion(
                forum_session_id=forum.id,
                booking_id=None,
                station_id=forum.station_id,
                category=category,
                text=text,
                status=OPINION_RECEIVED,
                recorded_by=stamp.actor[:64],
                created_at=now,
                updated_at=now,
            )
            session.add(opinion)
            await session.flush()
            record(
                session,
                stamp,
                action="record",
                entity="opinion",
                entity_id=opinion.id,
                station_id=opinion.station_id,
                before=None,
                after=opinion_snapshot(opinion),
            )
        OPINIONS.labels(category).inc()
        return opinion

    async def group(
        self,
        station_id: str,
        opinion_ids: list[int],
        stamp: Stamp,
        *,
        measure_id: int | None = None,
        measure_text: str | None = None,
    ) -> Measure:
        """Group opinions of a station under one measure: an existing one of the station, or
        a new one with `measure_text`. An opinion of another station is NotFound (as if
        absent); a closed one stays as it is but may still be grouped."""
        now = self._clock()
        async with self._sessions.begin() as session:
            if measure_id is not None:
                measure = await session.get(Measure, measure_id)
                if measure is None or measure.station_id != station_id:
                    raise NotFound("measure_not_found")
            else:
                if not measure_text:
                    raise InvalidInput("measure_required", field="measure")
                measure = Measure(
                    station_id=station_id,
                    text=measure_text,
                    created_by=stamp.actor[:64],
                    created_at=now,
                )
                session.add(measure)
                await session.flush()
                record(
                    session,
                    stamp,
                    action="create",
                    entity="measure",
                    entity_id=measure.id,
                    station_id=station_id,
                    before=None,
                    after=measure_snapshot(measure),
                )
            query = (
                select(Opinion)
                .where(Opinion.id.in_(opinion_ids))
                .order_by(Opinion.id)
                .with_for_update()
            )
            opinions = list((await session.scalars(query)).all())
            if len(opinions) != len(set(opinion_ids)) or any(
                o.station_id != station_id for o in opinions
            ):
                raise NotFound("opinion_not_found")
            for opinion in opinions:
                if opinion.measure_id == measure.id:
                    continue
                before = opinion_snapshot(opinion)
                opinion.measure_id = measure.id
                opinion.updated_at = now
                record(
                    session,
                    stamp,
                    action="group",
                    entity="opinion",
                    entity_id=opinion.id,
                    station_id=station_id,
                    before=before,
                    after=opinion_snapshot(opinion),
                )
        return measure

    async def measures_of(self, station_id: str) -> list[tuple[Measure, int]]:
        """A station's measures, newest first, each with how many opinions it groups."""
        async with self._sessions() as session:
            grouped = (
                select(Opinion.measure_id, func.count(Opinion.id).label("n"))
                .group_by(Opinion.measure_id)
                .subquery()
            )
            query = (
                select(Measure, func.coalesce(grouped.c.n, 0))
                .outerjoin(grouped, grouped.c.measure_id == Measure.id)
                .where(Measure.station_id == station_id)
                .order_by(Measure.id.desc())
            )
            return [(m, int(n)) for m, n in (await session.execute(query)).all()]

    async def move(
        self,
        opinion_id: int,
        status: str,
        *,
        operator: Stamp,
        measure: str | None = None,
        reason: str | None = None,
    ) -> Opinion:
        """Move an opinion to `status`; resolving needs the measure (that of the measure it is
        grouped under, unless another is given), declining the reason. Moving to the status
        it already has changes nothing (a retried request)."""
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
            if status == OPINION_RESOLVED and not measure and opinion.measure_id is not None:
                grouped_under = await session.get(Measure, opinion.measure_id)
                measure = grouped_under.text if grouped_under is not None else None
            if status == OPINION_RESOLVED and not measure:
                raise InvalidInput("measure_required", field="measure")
            if status == OPINION_DECLINED and not reason:
                raise InvalidInput("reason_required", field="reason")
            before = opinion_snapshot(opinion)
            opinion.status = status
            opinion.updated_at = now
            opinion.handled_by = operator.actor[:64]
            if status == OPINION_RESOLVED:
                opinion.measure = measure
            if status == OPINION_DECLINED:
                opinion.decline_reason = reason
            record(
                session,
                operator,
                action="move",
                entity="opinion",
                entity_id=opinion.id,
                station_id=opinion.station_id,
                before=before,
                after=opinion_snapshot(opinion),
            )
            told = False
            if not TRANSITIONS[status]:
                opinion.closed_at = now
            # An opinion recorded in the room has nobody to tell.
            booking = None
            if not TRANSITIONS[status] and opinion.booking_id is not None:
                booking = await session.get(Booking, opinion.booking_id)
            if booking is not None:
                told = True
                if status == OPINION_RESOLVED:
                    self._notices.opinion_answered(
                        session, booking.phone, "opinion_resolved", now, measure=measure
                    )
                else:
                    self._notices.opinion_answered(
                        session, booking.phone, "opinion_declined", now, reason=reason
                    )
        if told:
            self._outbox.wake()
        return opinion
